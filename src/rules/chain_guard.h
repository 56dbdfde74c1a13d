// Bounds every chain of reactions: a real event → a rule → its action → the
// action's outcome event → a rule → ... Pure: no I/O, time passed in.
//
// Two limits, because loops come in two shapes:
//
//   depth     Every event a rule's action produces (action.started, the outcome
//             action.succeeded / action.failed, an emit's event, a mark's
//             state.changed) is one step deeper than the event that fired the
//             rule. A rule never fires on an event at max_depth or deeper: the
//             chain is cut, and the pipeline logs one rule.loop naming the rules
//             on it. So two rules that feed each other (one on daemon.started,
//             one on action.failed) stop after max_depth steps instead of
//             recursing until the stack overflows.
//   rate      A chain can be short and still fast: a `run` on every
//             action.failed of a rule that fires for each of a storm of files.
//             Firings on derived events (depth > 0) spend a token of the rule's
//             own bucket (`burst` tokens, refilled at `rate` a second). An empty
//             bucket drops the firing; the first drop of an episode is reported
//             (rule.throttled), the rest are counted. Real events (depth 0) are
//             never throttled: a storm of landed files is work, not a loop.
//
// To name the rules on a cut chain, the guard remembers, for the last
// kChainMemory derived events, which rule produced them and from which event.
//
// A cut is reported once (rule.loop, depth 0, so a rule may alert on it). A
// chain that grows from such a report and is cut in its turn is not reported
// again (descends_from_loop_report): an alert rule that fails, answered by the
// very rules that looped, would otherwise start the loop over for ever.
//
// Not thread-safe; owned by the loop thread.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "src/core/clock.h"

namespace aw {

struct ChainPolicy {
  std::uint32_t max_depth = 8;  // [daemon] max_emit_depth
  double rate = 10.0;           // derived firings per second, per rule ([daemon] derived_rate)
  double burst = 32.0;          // bucket size ([daemon] derived_burst)
};

enum class ChainVerdict {
  kFire,
  kTooDeep,    // the chain is cut here
  kThrottled,  // the rule's bucket is empty
};

struct ChainDecision {
  ChainVerdict verdict = ChainVerdict::kFire;
  // kThrottled: the first drop of an episode (report it). An episode ends when
  // the rule's bucket has filled up again, not at its next firing: a loop held
  // at its rate is one episode, not one report per token.
  bool first_drop = false;
  // Set when an episode of drops ended at this offer: how many were dropped.
  std::uint64_t dropped_before = 0;
};

class ChainGuard {
 public:
  static constexpr std::size_t kChainMemory = 4096;

  explicit ChainGuard(ChainPolicy policy = {}) : policy_(policy) {}
  void set_policy(ChainPolicy policy) { policy_ = policy; }
  const ChainPolicy& policy() const { return policy_; }

  // May `rule` fire for an event `depth` steps from a real one, at `now`?
  ChainDecision offer(std::string_view rule, std::uint32_t depth, MonoTime now);

  // Event `seq` was produced by `rule` firing for event `cause`.
  void record(std::uint64_t seq, std::uint64_t cause, std::string_view rule);
  // The rules that led to event `seq`, oldest first (as far as remembered).
  std::vector<std::string> chain_of(std::uint64_t seq) const;

  // Event `seq` reports a cut chain (rule.loop).
  void record_loop_report(std::uint64_t seq);
  // Whether the chain that led to event `seq` started at a loop report.
  bool descends_from_loop_report(std::uint64_t seq) const;

  // Forgets the buckets of rules that no longer exist (after a reload).
  void retain_rules(const std::function<bool(std::string_view)>& keep);

 private:
  struct Bucket {
    double tokens = 0;
    MonoTime at{};
    std::uint64_t dropped = 0;  // in the current episode
  };
  struct Link {
    std::uint64_t cause = 0;
    std::string rule;
  };

  ChainPolicy policy_;
  std::map<std::string, Bucket, std::less<>> buckets_;
  std::map<std::uint64_t, Link> links_;   // the last kChainMemory, by seq
  std::set<std::uint64_t> loop_reports_;  // the last kChainMemory
};

}  // namespace aw
