#include "src/agents/agent_tracker.h"

#include <algorithm>
#include <utility>

namespace aw::agents {
namespace {

constexpr std::array<std::string_view, 4> kSourceNames{"process", "hook", "pane", "tmux"};

// Rule 3: another state, or another waiting reason. A changed reset time or
// percentage in the same state is a refinement, not a contradiction.
bool contradicts(const AgentStatus& a, const AgentStatus& b) {
  return a.state() != b.state() || a.reason() != b.reason();
}

// Rule 4: what a screen at rest shows.
bool is_resting(const AgentStatus& s) {
  return s.state() == AgentState::kIdle || s.state() == AgentState::kContextLow;
}

// Rule 4: states a resting reading does not end.
bool outlasts_rest(const AgentStatus& current, const AgentStatus& reading) {
  const AgentState c = current.state();
  return c == AgentState::kRateLimited || c == AgentState::kErrored ||
         (c == AgentState::kContextLow && reading.state() == AgentState::kIdle);
}

Evidence evidence_of(const Observation& o, bool decided) {
  return Evidence{o.source, o.status, o.at, o.said, decided};
}

}  // namespace

std::string_view source_name(Source s) {
  return kSourceNames[static_cast<std::size_t>(s)];
}

std::optional<Source> parse_source(std::string_view name) {
  for (std::size_t i = 0; i < kSourceNames.size(); ++i)
    if (kSourceNames[i] == name) return static_cast<Source>(i);
  return std::nullopt;
}

AgentTracker::AgentTracker(AgentTrackerOptions options, std::string process, MonoTime since)
    : options_(options), since_(since), process_(std::move(process)) {
  options_.evidence_limit = std::max<std::size_t>(options_.evidence_limit, 1);
}

void AgentTracker::remember(const Observation& o) {
  last_[static_cast<std::size_t>(o.source)] = evidence_of(o, false);
}

void AgentTracker::keep_as_evidence(const Observation& o) {
  recent_.push_back(evidence_of(o, false));
  while (recent_.size() > options_.evidence_limit) recent_.pop_front();
}

std::optional<MonoTime> AgentTracker::overruled_until(const Observation& o, MonoTime now) const {
  if (!contradicts(*o.status, status_)) return std::nullopt;
  std::optional<MonoTime> until;
  auto check = [&](Source s, std::chrono::nanoseconds fresh) {
    const auto& at = counted_at_[static_cast<std::size_t>(s)];
    if (o.source > s && at && now < *at + fresh) until = std::max(until.value_or(now), *at + fresh);
  };
  check(Source::kHook, options_.hook_fresh);
  check(Source::kPane, options_.pane_fresh);
  return until;
}

std::optional<AgentTransition> AgentTracker::transition(AgentStatus to, const Observation& decided,
                                                        MonoTime at, bool new_process) {
  AgentTransition t{status_, to, at, new_process, {}};
  t.evidence.push_back(evidence_of(decided, true));
  for (auto it = recent_.rbegin(); it != recent_.rend(); ++it) {
    if (t.evidence.size() >= options_.evidence_limit) break;
    // The deciding reading may also sit in `recent_` (a held or pending one).
    if (it->at == decided.at && it->source == decided.source && it->said == decided.said) continue;
    t.evidence.push_back(*it);
  }
  recent_.clear();
  status_ = t.to;
  since_ = at;
  return t;
}

// Rule 4: a resting reading from the pane or tmux that the current status
// outlasts. It is evidence, never held, never counted.
bool AgentTracker::outlasted(const Observation& o) const {
  const bool lower = o.source == Source::kPane || o.source == Source::kTmux;
  return lower && is_resting(*o.status) && o.status->state() != status_.state() &&
         outlasts_rest(status_, *o.status);
}

// A reading that counts: it refreshes its source's freshness and sets the
// status (rules 4 and 5).
std::optional<AgentTransition> AgentTracker::count(const Observation& o, MonoTime at) {
  if (outlasted(o)) {  // a held reading the status has since come to outlast
    keep_as_evidence(o);
    return std::nullopt;
  }
  AgentStatus to = *o.status;
  const bool resting = is_resting(to) && to.state() != status_.state();
  counted_at_[static_cast<std::size_t>(o.source)] = o.at;
  held_.reset();  // a newer word counts: an older overruled one is stale

  if (resting && o.source == Source::kPane) {
    if (!pending_) {
      pending_ = o;
      pending_status_ = to;
    } else {
      keep_as_evidence(o);
      if (to.state() == AgentState::kContextLow) pending_status_ = to;
    }
    return settle_pending(at);
  }
  pending_.reset();
  pending_status_.reset();

  // Rule 5: the same limit printed again without its time keeps the time.
  if (to.state() == AgentState::kRateLimited && !to.reset_at() && status_.reset_at())
    to = AgentStatus::rate_limited(status_.reset_at());
  if (to == status_) return std::nullopt;
  return transition(to, o, at, false);
}

std::optional<AgentTransition> AgentTracker::settle_pending(MonoTime now) {
  if (!pending_ || now < pending_->at + options_.idle_debounce) return std::nullopt;
  const Observation first = std::move(*pending_);
  AgentStatus to = pending_status_.value_or(AgentStatus::idle());
  pending_.reset();
  pending_status_.reset();
  return transition(to, first, now, false);
}

std::optional<AgentTransition> AgentTracker::observe(const Observation& o) {
  remember(o);
  if (!o.status) {  // rule 1
    keep_as_evidence(o);
    return std::nullopt;
  }

  if (o.source == Source::kProcess) {  // rule 2
    if (!o.process.empty() && !process_.empty() && o.process != process_) {
      process_ = o.process;
      counted_at_ = {};
      held_.reset();
      pending_.reset();
      pending_status_.reset();
      exited_final_ = o.status->state() == AgentState::kExited;
      counted_at_[static_cast<std::size_t>(Source::kProcess)] = o.at;
      return transition(*o.status, o, o.at, true);
    }
    if (process_.empty()) process_ = o.process;
    if (exited_final_) {
      keep_as_evidence(o);
      return std::nullopt;
    }
    exited_final_ = o.status->state() == AgentState::kExited;
    if (exited_final_) {
      held_.reset();
      pending_.reset();
      pending_status_.reset();
    }
    return count(o, o.at);
  }

  if (exited_final_ || outlasted(o)) {  // rules 2 and 4
    keep_as_evidence(o);
    return std::nullopt;
  }
  if (overruled_until(o, o.at)) {  // rule 3
    keep_as_evidence(o);
    held_ = o;
    return std::nullopt;
  }
  return count(o, o.at);
}

std::optional<AgentTransition> AgentTracker::tick(MonoTime now) {
  if (exited_final_) return std::nullopt;
  if (held_ && !overruled_until(*held_, now)) {
    // It counts now, as of when it was read: a held resting reading has been
    // holding since then.
    const Observation o = std::move(*held_);
    held_.reset();
    if (auto t = count(o, now)) return t;
  }
  return settle_pending(now);
}

std::optional<MonoTime> AgentTracker::next_deadline() const {
  if (exited_final_) return std::nullopt;
  std::optional<MonoTime> next;
  if (pending_) next = pending_->at + options_.idle_debounce;
  if (held_) {
    // overruled_until() at the held reading's own time is when it lapses.
    if (auto until = overruled_until(*held_, held_->at))
      next = next ? std::min(*next, *until) : *until;
    else
      next = held_->at;  // nothing overrules it any more: due now
  }
  return next;
}

}  // namespace aw::agents
