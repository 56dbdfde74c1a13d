// AgentTracker: one agent's status, decided from what several sources say
// about it (issue #13, docs/agents.md "Sources and trust"). Pure: a function
// of (state, observation, now) → (state, transition); the daemon feeds it and
// arms one timer at next_deadline().
//
// Sources, most trusted first:
//   process  the process itself: pidfd exit, #{pane_dead}, a new process
//            identity (pid + start time) in the pane
//   hook     what the agent reports about itself through its hooks
//   pane     what its pane output shows (pattern files, agent_patterns.h)
//   tmux     tmux's own signals (monitor-silence, activity)
//
// The rules, in the order they are applied to an observation:
//  1. Unknown never acts. An observation without a status (a tmux query that
//     failed, a line no pattern knows) changes nothing; it is kept as evidence.
//  2. Process truth first. `exited` from the process source is final for that
//     process: nothing but a process observation naming a NEW identity moves
//     the agent again (a hook or a pane line after the exit is kept as
//     evidence, no more). A new identity resets everything the tracker knew
//     (freshness, pending idle) and always makes a transition, flagged
//     `new_process`, to the status it brings (normally `starting`), so the
//     daemon knows keystrokes meant for the old process must not be sent.
//     (`exited` from a lower source, e.g. a SessionEnd hook, is an ordinary
//     status: a later SessionStart hook moves the agent on.)
//  3. A fresh word from a more trusted source holds. For `hook_fresh` after
//     the last hook observation that counted, a pane or tmux reading that
//     contradicts the status (another state, or another waiting reason) does
//     not change it; for `pane_fresh` after a pane reading, the same holds for
//     tmux. The newest such overruled reading is held: if nothing newer counts
//     before the freshness lapses, it takes effect then (tick()), so a pane
//     that stays on "rate limited" wins once the hook has gone quiet. Readings
//     that agree, or only refine the detail (a reset time, a percentage),
//     count at once.
//  4. Resting readings must hold. The pane shows its idle prompt and its
//     footer (where "context left" lives) between the spinner redraws of a
//     running turn, so a pane `idle` or `context_low` reading only starts a
//     countdown of `idle_debounce`; any other reading that counts (a repeated
//     `working` too) cancels it, and tick() makes the transition when it runs
//     out: to context_low if a reading during the countdown said so (it is
//     idle with more to say), else to idle. A resting reading from the pane or
//     tmux never ends rate_limited or errored, and `idle` never ends
//     context_low: those screens return to the prompt too, and they end when
//     the agent works again (or a hook or the process says otherwise). Hook
//     and tmux readings do not count down (a Stop hook is the agent's own
//     word; monitor-silence is already a held silence).
//  5. Same status, no transition. A reading of the current status changes
//     nothing but freshness, except a changed detail, which is an update
//     transition (is_update()): a rate_limited agent whose reset time is now
//     known or changed, a context_low agent whose percentage changed. A
//     rate_limited reading WITHOUT a reset time keeps the one already known
//     (the same limit, printed again without its time).
//
// Time: observations carry their own MonoTime and must come in time order.
// observe() does not settle deadlines: when next_deadline() <= obs.at the
// daemon calls tick(obs.at) first (its timer fired late), then observe(obs).
//
// Evidence: every transition carries the observation that decided it, then the
// readings since the previous transition that did not (overruled, pending,
// unknown), newest first, at most `evidence_limit` in all. last() keeps the
// latest word of each source for `agentwatch health`.
//
// Not thread-safe; one tracker per agent, on the loop thread.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "src/agents/agent_status.h"
#include "src/core/clock.h"

namespace aw::agents {

// In order of trust: a lower value is trusted more.
enum class Source : std::uint8_t { kProcess, kHook, kPane, kTmux };

// "process", "hook", "pane", "tmux".
std::string_view source_name(Source s);
std::optional<Source> parse_source(std::string_view name);

struct Observation {
  Source source = Source::kPane;
  // What the source read; nullopt: it could not tell (never acts).
  std::optional<AgentStatus> status;
  MonoTime at{};
  // Evidence, in words a person can check: "hook Notification permission_prompt",
  // "pane: pattern claude.rate_limit '5-hour limit reached ∙ resets 4am'".
  std::string said;
  // Process source only: the identity of the process it is about (e.g. "pid
  // 4242 start 889123"); empty means the one already known. Ignored for the
  // other sources (a hook's parent may be a wrapper, not the agent).
  std::string process;
};

struct Evidence {
  Source source = Source::kPane;
  std::optional<AgentStatus> status;  // what it read; nullopt: unknown
  MonoTime at{};
  std::string said;
  bool decided = false;  // this reading made the transition

  friend bool operator==(const Evidence&, const Evidence&) = default;
};

struct AgentTransition {
  AgentStatus from = AgentStatus::starting();
  AgentStatus to = AgentStatus::starting();
  MonoTime at{};             // when it took effect (an observation's time, or tick()'s now)
  bool new_process = false;  // a new process identity (rule 2)
  std::vector<Evidence> evidence;

  // Same state, changed detail (rule 5), or a new process in the same state.
  bool is_update() const { return from.state() == to.state(); }
};

struct AgentTrackerOptions {
  std::chrono::nanoseconds hook_fresh = std::chrono::seconds(30);
  std::chrono::nanoseconds pane_fresh = std::chrono::seconds(10);
  std::chrono::nanoseconds idle_debounce = std::chrono::milliseconds(1500);
  std::size_t evidence_limit = 8;  // at least 1
};

class AgentTracker {
 public:
  // A tracker starts in `starting` (the daemon makes one when it finds an
  // agent starting or running) for the process `process` (may be empty:
  // learnt from the first process observation).
  explicit AgentTracker(AgentTrackerOptions options = {}, std::string process = {},
                        MonoTime since = {});

  // Applies one observation (rules 1-5); the transition it makes, if any.
  std::optional<AgentTransition> observe(const Observation& o);
  // Settles what is due at `now`: a resting reading that has held, a held reading
  // whose overruling word went stale. At most one transition per call; call
  // again if next_deadline() is still <= now.
  std::optional<AgentTransition> tick(MonoTime now);
  // When tick() next has something to do; nullopt when nothing is pending.
  std::optional<MonoTime> next_deadline() const;

  const AgentStatus& status() const { return status_; }
  // When the status last changed (or was updated).
  MonoTime since() const { return since_; }
  const std::string& process() const { return process_; }
  // Whether the process source said `exited` for the current process.
  bool exited_for_good() const { return exited_final_; }
  // The latest word of `s` (counted or not), if it said anything yet.
  const std::optional<Evidence>& last(Source s) const { return last_[static_cast<std::size_t>(s)]; }
  // Readings since the last transition that did not make one, oldest first.
  const std::deque<Evidence>& recent() const { return recent_; }

 private:
  static constexpr std::size_t kSources = 4;

  // The end of the freshness of a more trusted source that overrules `o` at
  // `now`, or nullopt when none does.
  std::optional<MonoTime> overruled_until(const Observation& o, MonoTime now) const;
  bool outlasted(const Observation& o) const;
  std::optional<AgentTransition> count(const Observation& o, MonoTime at);
  std::optional<AgentTransition> transition(AgentStatus to, const Observation& decided, MonoTime at,
                                            bool new_process);
  void remember(const Observation& o);
  void keep_as_evidence(const Observation& o);
  std::optional<AgentTransition> settle_pending(MonoTime now);

  AgentTrackerOptions options_;
  AgentStatus status_ = AgentStatus::starting();
  MonoTime since_{};
  std::string process_;
  bool exited_final_ = false;
  // When each source last said something that counted (freshness, rule 3).
  std::array<std::optional<MonoTime>, kSources> counted_at_{};
  std::array<std::optional<Evidence>, kSources> last_{};
  std::optional<Observation> held_;            // rule 3
  std::optional<Observation> pending_;         // rule 4: the first resting reading
  std::optional<AgentStatus> pending_status_;  // and where it leads
  std::deque<Evidence> recent_;
};

}  // namespace aw::agents
