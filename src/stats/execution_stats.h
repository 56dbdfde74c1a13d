// ExecutionStats: the aggregation behind `agentwatch stats`. Executions go in one
// at a time (in log order, any order works); rows come out, one per group.
//
// Pure and deterministic: no clock, no I/O. Per group it keeps counters and the
// durations themselves, so percentiles are exact: nearest-rank over the sorted
// durations (the value at rank ceil(p/100 × n), 1-based; always a duration that
// was logged, never an interpolation). Memory is one int64 per timed execution.
//
// add() never allocates once a group exists, apart from the amortised growth
// of its duration vector: a group is found by string_view (heterogeneous
// lookup), and the key is copied only when a group is created.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "src/stats/execution_record.h"

namespace aw {

enum class StatsGroupBy { kNone, kRule, kAction, kEntity, kCategory, kKind };

// "rule", "action", "worker" (= "entity": the worker or session an event is
// about), "entity", "category", "kind"; nullopt for anything else.
std::optional<StatsGroupBy> parse_stats_group_by(std::string_view text);
// The canonical name ("entity" for worker), or "" for kNone.
std::string_view stats_group_by_name(StatsGroupBy g);
// What --group-by accepts, for error messages.
inline constexpr std::string_view kStatsGroupByChoices =
    "rule, action, worker, category, entity, kind";

// What one group (or the total) came to. Optional members are nullopt when no
// execution of the group carried the field (file actions have no durations).
struct StatsRow {
  std::string group;          // the key; "all" for the ungrouped row and the total
  bool group_present = true;  // false: the executions had no such key (no entity...)
  std::uint64_t count = 0;
  std::uint64_t succeeded = 0;
  std::uint64_t failed = 0;
  double success_rate = 0;  // succeeded / count, 0..1; 0 when count is 0
  std::uint64_t timed = 0;  // executions with a duration: what the duration figures cover
  std::optional<double> mean_ms;
  std::optional<std::int64_t> p50_ms;
  std::optional<std::int64_t> p95_ms;
  std::optional<std::int64_t> p99_ms;
  std::optional<std::int64_t> cpu_ms;       // sum of user_ms + sys_ms
  std::optional<std::int64_t> peak_rss_kb;  // max of max_rss_kb
  std::uint64_t retries = 0;                // sum of attempts - 1
};

// Nearest-rank percentile of `sorted` (ascending, non-empty), 0 < p <= 100.
std::int64_t nearest_rank(const std::vector<std::int64_t>& sorted, double p);
// Its 0-based index in a sorted list of n > 0 values.
std::size_t nearest_rank_index(std::size_t n, double p);

class ExecutionStats {
 public:
  explicit ExecutionStats(StatsGroupBy group_by = StatsGroupBy::kNone);
  ~ExecutionStats();
  ExecutionStats(ExecutionStats&&) noexcept;
  ExecutionStats& operator=(ExecutionStats&&) noexcept;

  void add(const Execution& e);

  std::uint64_t count() const;
  // One row per group, most executions first (then by key, absent key last);
  // ungrouped: exactly one row, "all", even with no executions.
  std::vector<StatsRow> rows() const;
  // Every execution added, as one row named "all".
  StatsRow total() const;

  StatsGroupBy group_by() const { return group_by_; }

 private:
  struct Accumulator;
  struct KeyHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  using GroupMap =
      std::unordered_map<std::string, std::unique_ptr<Accumulator>, KeyHash, std::equal_to<>>;

  std::string_view key_of(const Execution& e) const;
  Accumulator& group_for(std::string_view key);

  StatsGroupBy group_by_;
  std::unique_ptr<Accumulator> total_;
  GroupMap groups_;
  std::unique_ptr<Accumulator> absent_;  // executions without the grouping key
  // The last group used: logs come in runs of one rule or worker, so most
  // lookups are a string compare instead of a hash.
  std::string_view last_key_;
  Accumulator* last_ = nullptr;
};

}  // namespace aw
