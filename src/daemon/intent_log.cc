#include "src/daemon/intent_log.h"

#include <charconv>
#include <map>
#include <optional>

#include "src/core/state_file.h"
#include "src/plan/plan_codec.h"

namespace aw {
namespace {

constexpr std::string_view kOpen = "open";
constexpr std::string_view kStart = "start";
constexpr std::string_view kEnd = "end";
constexpr std::string_view kClose = "close";

// Decimal digits of `n`, in a buffer that lives as long as the caller's statement.
struct Digits {
  char buf[24];
  std::size_t len;
  explicit Digits(std::uint64_t n) {
    len = static_cast<std::size_t>(std::to_chars(buf, buf + sizeof buf, n).ptr - buf);
  }
  std::string_view view() const { return {buf, len}; }
};

std::optional<std::uint64_t> parse_number(std::string_view s) {
  std::uint64_t n = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc{} || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return n;
}

std::optional<ActionEnd> parse_end(std::string_view s) {
  for (ActionEnd e : {ActionEnd::kOk, ActionEnd::kFailed, ActionEnd::kInterrupted})
    if (s == action_end_name(e)) return e;
  return std::nullopt;
}

// Replays one record onto the intents open so far; an error says what was wrong.
class Replayer {
 public:
  std::map<std::uint64_t, OpenIntent> open;
  std::uint64_t last_id = 0;

  Status apply(const std::vector<std::string>& f) {
    if (f.size() < 2) return make_error("expected a record type and an intent id");
    const std::optional<std::uint64_t> id = parse_number(f[1]);
    if (!id || *id == 0) return make_error("expected an intent id, found '" + f[1] + "'");
    if (*id > last_id) last_id = *id;
    if (f[0] == kOpen) return apply_open(*id, f);
    auto it = open.find(*id);
    if (f[0] == kClose) {
      if (f.size() != 2) return make_error("expected: close ID");
      if (it == open.end()) return make_error("close of intent " + f[1] + ", which is not open");
      open.erase(it);
      return Status::Ok();
    }
    if (f[0] != kStart && f[0] != kEnd)
      return make_error("unknown record type '" + f[0] + "' (expected open, start, end or close)");
    if (it == open.end()) return make_error(f[0] + " of intent " + f[1] + ", which is not open");
    const bool is_end = f[0] == kEnd;
    if (f.size() != (is_end ? 5u : 4u))
      return make_error(is_end ? "expected: end ID PLAN ACTION OUTCOME"
                               : "expected: start ID PLAN ACTION");
    OpenIntent& intent = it->second;
    const std::optional<std::uint64_t> plan = parse_number(f[2]);
    const std::optional<std::uint64_t> action = parse_number(f[3]);
    if (!plan || *plan >= intent.plans.size())
      return make_error("intent " + f[1] + " has no plan '" + f[2] + "'");
    if (!action || *action >= intent.plans[*plan].actions.size())
      return make_error("plan " + f[2] + " of intent " + f[1] + " has no action '" + f[3] + "'");
    PlanProgress& p = intent.progress[*plan];
    const auto a = static_cast<std::size_t>(*action);
    if (!is_end) {
      p.next = a;
      p.in_flight = true;
      p.interrupted = false;
      return Status::Ok();
    }
    const std::optional<ActionEnd> end = parse_end(f[4]);
    if (!end)
      return make_error("unknown outcome '" + f[4] + "' (expected ok, failed or interrupted)");
    p.in_flight = false;
    p.interrupted = *end == ActionEnd::kInterrupted;
    p.next = p.interrupted ? a : a + 1;
    p.stopped = *end == ActionEnd::kFailed;
    return Status::Ok();
  }

 private:
  Status apply_open(std::uint64_t id, const std::vector<std::string>& f) {
    if (f.size() < 4) return make_error("expected: open ID EVENT PLAN...");
    if (open.count(id)) return make_error("intent " + f[1] + " is opened twice");
    Result<Event> cause = parse_event_json(f[2]);
    if (!cause) return make_error("its event: " + cause.error().message);
    OpenIntent intent;
    intent.id = id;
    intent.cause = std::move(*cause);
    for (std::size_t i = 3; i < f.size(); ++i) {
      Result<Plan> plan = parse_plan_json(f[i]);
      if (!plan)
        return make_error("its plan " + std::to_string(i - 3) + ": " + plan.error().message);
      intent.plans.push_back(std::move(*plan));
    }
    intent.progress.resize(intent.plans.size());
    open.emplace(id, std::move(intent));
    return Status::Ok();
  }
};

}  // namespace

void append_intent_open(std::string& out, std::uint64_t id, const Event& cause,
                        const std::vector<const Plan*>& plans) {
  const Digits digits(id);
  std::string cause_json;
  append_json_line(cause_json, cause);
  if (!cause_json.empty() && cause_json.back() == '\n') cause_json.pop_back();
  std::vector<std::string> plan_json(plans.size());
  std::vector<std::string_view> fields{kOpen, digits.view(), cause_json};
  for (std::size_t i = 0; i < plans.size(); ++i) {
    append_plan_json(plan_json[i], *plans[i]);
    fields.push_back(plan_json[i]);
  }
  append_state_record(out, std::span<const std::string_view>(fields));
}

void append_intent_start(std::string& out, std::uint64_t id, std::size_t plan, std::size_t action) {
  const Digits i(id), p(plan), a(action);
  append_state_record(out, {kStart, i.view(), p.view(), a.view()});
}

void append_intent_end(std::string& out, std::uint64_t id, std::size_t plan, std::size_t action,
                       ActionEnd end) {
  const Digits i(id), p(plan), a(action);
  append_state_record(out, {kEnd, i.view(), p.view(), a.view(), action_end_name(end)});
}

void append_intent_close(std::string& out, std::uint64_t id) {
  const Digits i(id);
  append_state_record(out, {kClose, i.view()});
}

void append_intent_state(std::string& out, const OpenIntent& intent) {
  std::vector<const Plan*> plans;
  plans.reserve(intent.plans.size());
  for (const Plan& p : intent.plans) plans.push_back(&p);
  append_intent_open(out, intent.id, intent.cause, plans);
  for (std::size_t i = 0; i < intent.progress.size(); ++i) {
    const PlanProgress& p = intent.progress[i];
    // The one record that replays to this progress (see Replayer::apply).
    if (p.in_flight)
      append_intent_start(out, intent.id, i, p.next);
    else if (p.interrupted)
      append_intent_end(out, intent.id, i, p.next, ActionEnd::kInterrupted);
    else if (p.next > 0)
      append_intent_end(out, intent.id, i, p.next - 1,
                        p.stopped ? ActionEnd::kFailed : ActionEnd::kOk);
  }
}

Result<IntentReplay> replay_intents(std::string_view text, const std::string& path) {
  Result<StateFileContents> contents = parse_state_file(text, path, kIntentLogKind);
  if (!contents) return contents.error();
  IntentReplay out;
  out.problems = std::move(contents->problems);
  out.whole_bytes = contents->whole_bytes;
  out.records = contents->records.size();
  Replayer replayer;
  for (const StateRecord& r : contents->records) {
    if (Status s = replayer.apply(r.fields); !s)
      out.problems.push_back(path + ":" + std::to_string(r.line) + ": " + s.error().message);
  }
  out.last_id = replayer.last_id;
  out.open.reserve(replayer.open.size());
  for (auto& [id, intent] : replayer.open) out.open.push_back(std::move(intent));
  return out;
}

}  // namespace aw
