// The status vocabulary of a coding agent (issue #13, docs/agents.md): what one
// agent (a tmux pane running Claude Code, Codex, Gemini CLI...) is doing now.
//
//   starting      the process is up, the agent has not said anything yet
//   working       a turn is running (spinner, "esc to interrupt", a tool call)
//   idle          the turn is done; the agent waits at its prompt
//   waiting       the agent needs a person: reason permission | question | input
//   rate_limited  a usage limit stopped it; reset_at when the agent said when
//   context_low   its context window is nearly full; context_pct is what is left
//   errored       an API error ended the turn
//   exited        the process is gone
//
// The names are stable: they are what `agent.status` events carry in `from` and
// `to`, what pattern files name in `status = "..."`, and what rules match on.
//
// An AgentStatus holds a state and only the detail that state has (STYLE §14: a
// reason only for waiting, a reset time only for rate_limited, a percentage
// only for context_low), so an impossible combination cannot be built. A reset
// time is never invented: absent unless the agent printed (or its hook sent)
// one that could be read for certain.
//
// Pure value type; no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "src/core/clock.h"

namespace aw::agents {

enum class AgentState : std::uint8_t {
  kStarting,
  kWorking,
  kIdle,
  kWaiting,
  kRateLimited,
  kContextLow,
  kErrored,
  kExited,
};

enum class WaitReason : std::uint8_t { kPermission, kQuestion, kInput };

// "starting", "working", "idle", "waiting", "rate_limited", "context_low",
// "errored", "exited".
std::string_view state_name(AgentState s);
std::optional<AgentState> parse_state(std::string_view name);
// Every state name, in declaration order (for "did you mean" and docs).
const std::vector<std::string_view>& all_state_names();

// "permission", "question", "input".
std::string_view wait_reason_name(WaitReason r);
std::optional<WaitReason> parse_wait_reason(std::string_view name);
const std::vector<std::string_view>& all_wait_reason_names();

class AgentStatus {
 public:
  static AgentStatus starting() { return AgentStatus(Starting{}); }
  static AgentStatus working() { return AgentStatus(Working{}); }
  static AgentStatus idle() { return AgentStatus(Idle{}); }
  static AgentStatus waiting(WaitReason reason) { return AgentStatus(Waiting{reason}); }
  // `reset_at`: when the limit lifts, if the agent said so for certain.
  static AgentStatus rate_limited(std::optional<WallTime> reset_at = std::nullopt) {
    return AgentStatus(RateLimited{reset_at});
  }
  // `pct_left` is clamped to [0, 100].
  static AgentStatus context_low(int pct_left);
  static AgentStatus errored() { return AgentStatus(Errored{}); }
  static AgentStatus exited() { return AgentStatus(Exited{}); }

  AgentState state() const { return static_cast<AgentState>(v_.index()); }
  // Present only for waiting.
  std::optional<WaitReason> reason() const;
  // Present only for rate_limited with a known reset time.
  std::optional<WallTime> reset_at() const;
  // Present only for context_low.
  std::optional<int> context_pct() const;

  // For evidence and test failures: "waiting(permission)",
  // "rate_limited(reset 2026-01-01T00:00:00.000Z)", "context_low(12%)", "idle".
  std::string to_string() const;

  friend bool operator==(const AgentStatus&, const AgentStatus&) = default;

 private:
  struct Starting {
    friend bool operator==(const Starting&, const Starting&) = default;
  };
  struct Working {
    friend bool operator==(const Working&, const Working&) = default;
  };
  struct Idle {
    friend bool operator==(const Idle&, const Idle&) = default;
  };
  struct Waiting {
    WaitReason reason;
    friend bool operator==(const Waiting&, const Waiting&) = default;
  };
  struct RateLimited {
    std::optional<WallTime> reset_at;
    friend bool operator==(const RateLimited&, const RateLimited&) = default;
  };
  struct ContextLow {
    int pct_left;
    friend bool operator==(const ContextLow&, const ContextLow&) = default;
  };
  struct Errored {
    friend bool operator==(const Errored&, const Errored&) = default;
  };
  struct Exited {
    friend bool operator==(const Exited&, const Exited&) = default;
  };
  // Alternatives in AgentState order: state() is the index.
  using Detail =
      std::variant<Starting, Working, Idle, Waiting, RateLimited, ContextLow, Errored, Exited>;

  explicit AgentStatus(Detail d) : v_(d) {}
  Detail v_;
};

}  // namespace aw::agents
