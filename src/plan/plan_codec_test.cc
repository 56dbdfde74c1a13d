#include "src/plan/plan_codec.h"

#include <gtest/gtest.h>
#include <re2/re2.h>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace aw {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;

// ---- samples: every field away from its default --------------------------

ActionRequest with_header(ActionBody body) {
  ActionRequest a;
  a.rule = "deploy";
  a.index = 3;
  a.line = 12;
  a.column = 5;
  a.timeout = milliseconds(1500) + nanoseconds(1);  // below a millisecond must survive
  a.retry.retries = 4;
  a.retry.initial = milliseconds(250) + nanoseconds(7);
  a.retry.factor = 1.5;
  a.retry.max = seconds(45);
  a.retry.jitter = 0.35;
  a.on_interrupt = OnInterrupt::kRerun;
  a.render_error = "{fields.x} is absent";
  a.body = std::move(body);
  return a;
}

ActionRequest run_action() {
  RunRequest r;
  r.argv = {"make", "install", "--prefix=/opt/app"};
  r.cwd = "/srv/app";
  r.env = {{"MODE", "prod"}, {"EMPTY", ""}, {"MODE", "again"}};  // order and repeats kept
  r.shell = true;
  r.kill_grace = milliseconds(2500) + nanoseconds(3);
  return with_header(std::move(r));
}

ActionRequest move_action() {
  return with_header(MoveRequest{"/in/a.txt", "/in/done", "/in"});
}

ActionRequest quarantine_action() {
  return with_header(QuarantineRequest{"/in/b.txt", "/in/bad", "/in", "checksum mismatch"});
}

ActionRequest mark_action() {
  return with_header(MarkRequest{"/in/.done", "job-7", "failed"});
}

ActionRequest emit_action() {
  EmitRequest r;
  r.kind = "deploy.finished";
  r.entity = "app";
  r.fields.set("host", "web-1");
  r.fields.set("count", std::int64_t{-42});
  r.fields.set("max", std::numeric_limits<std::int64_t>::max());
  r.fields.set("ratio", 2.0);  // a double that looks whole stays a double
  r.fields.set("tenth", 0.1);
  r.fields.set("ok", true);
  return with_header(std::move(r));
}

ActionRequest kill_action() {
  return with_header(KillRequest{"worker-1", SIGKILL, seconds(3) + nanoseconds(9), "stuck"});
}

ActionRequest restart_action() {
  return with_header(RestartRequest{"worker-2", "config changed"});
}

ActionRequest tmux_action() {
  TmuxRequest r;
  r.op = TmuxOp::kSend;
  r.session = "agent-3";
  r.argv = {"claude", "--resume"};
  r.cwd = "/home/agent";
  r.env = {{"TERM", "xterm-256color"}};
  r.brief = "line one\nline two";
  r.submit = false;
  r.keys = {"C-c", "Enter"};
  r.wait_for = "> ";
  r.ready_timeout = seconds(20);
  return with_header(std::move(r));
}

ActionRequest rotate_action() {
  RotateRequest r;
  r.path = "/var/log/app.log";
  r.max_size = std::numeric_limits<std::uint64_t>::max();
  r.max_age = hours(24);
  r.keep = 9;
  r.compress = false;
  r.method = RotateMethod::kCopyTruncate;
  return with_header(std::move(r));
}

ProbePattern pattern(std::string match, std::string kind) {
  auto regex = std::make_shared<const RE2>(match);
  return ProbePattern{std::move(match), std::move(regex), std::move(kind)};
}

ActionRequest probe_action() {
  ProbeRequest r;
  r.argv = {"queue-status", "--json"};
  r.cwd = "/srv/probe";
  r.env = {{"LANG", "C"}};
  r.patterns = {pattern(R"(^ERROR (?P<code>\d+))", "queue.failed"),
                pattern("warn", "queue.warned")};
  r.max_output = 4096;
  return with_header(std::move(r));
}

Plan plan_of(std::vector<ActionRequest> actions) {
  return Plan{"deploy", std::move(actions)};
}

ActionRequest repair_json_action() {
  return with_header(
      RepairJsonRequest{"/in/r/a1.json", "/in/completed", "/in", "/in/quarantine/r"});
}

ActionRequest complete_session_action() {
  return with_header(
      CompleteSessionRequest{"/in/temp/s1", "/in/completed", "/in", "manifest.json", "DONE"});
}

ActionRequest fail_session_action() {
  return with_header(FailSessionRequest{"/in/temp/s1", "/in/failed", "/in", "m.json", "DONE",
                                        "no completion in 30m"});
}

ActionRequest integrate_session_action() {
  IntegrateSessionRequest r;
  r.session = "/in/completed/s1";
  r.to = "/in/integrated";
  r.root = "/in";
  r.command.argv = {"integrate", "--session", "s 1"};
  r.command.cwd = "/srv";
  r.command.env = {{"MODE", "fast"}};
  r.command.shell = true;
  r.command.kill_grace = milliseconds(3000);
  r.marker = "done.json";
  r.claim = "claim.json";
  return with_header(std::move(r));
}

ActionRequest ensure_file_action() {
  return with_header(
      EnsureFileRequest{"/in/hooks/stop.sh", "/etc/hooks/stop.sh", "/in", "/in/kept", 0750});
}

ActionRequest retain_action() {
  return with_header(RetainRequest{"/in/completed", "/in", "s*", hours(24 * 7), 250});
}

Plan every_type() {
  return plan_of({run_action(), move_action(), quarantine_action(), mark_action(), emit_action(),
                  kill_action(), restart_action(), tmux_action(), rotate_action(), probe_action(),
                  repair_json_action(), complete_session_action(), fail_session_action(),
                  integrate_session_action(), ensure_file_action(), retain_action(),
                  with_header(CheckDiskRequest{})});
}

std::string encode(const Plan& plan) {
  std::string out;
  append_plan_json(out, plan);
  return out;
}

// ---- field-by-field equality ----------------------------------------------

void expect_same_header(const ActionHeader& want, const ActionHeader& got) {
  EXPECT_EQ(want.rule, got.rule);
  EXPECT_EQ(want.index, got.index);
  EXPECT_EQ(want.line, got.line);
  EXPECT_EQ(want.column, got.column);
  EXPECT_EQ(want.timeout.count(), got.timeout.count());
  EXPECT_EQ(want.retry.retries, got.retry.retries);
  EXPECT_EQ(want.retry.initial.count(), got.retry.initial.count());
  EXPECT_EQ(want.retry.factor, got.retry.factor);
  EXPECT_EQ(want.retry.max.count(), got.retry.max.count());
  EXPECT_EQ(want.retry.jitter, got.retry.jitter);
  EXPECT_EQ(want.on_interrupt, got.on_interrupt);
  EXPECT_EQ(want.render_error, got.render_error);
}

void expect_same_body(const RunRequest& want, const RunRequest& got) {
  EXPECT_EQ(want.argv, got.argv);
  EXPECT_EQ(want.cwd, got.cwd);
  EXPECT_EQ(want.env, got.env);
  EXPECT_EQ(want.shell, got.shell);
  EXPECT_EQ(want.kill_grace.count(), got.kill_grace.count());
}

void expect_same_body(const MoveRequest& want, const MoveRequest& got) {
  EXPECT_EQ(want.source, got.source);
  EXPECT_EQ(want.to, got.to);
  EXPECT_EQ(want.root, got.root);
}

void expect_same_body(const QuarantineRequest& want, const QuarantineRequest& got) {
  EXPECT_EQ(want.source, got.source);
  EXPECT_EQ(want.to, got.to);
  EXPECT_EQ(want.root, got.root);
  EXPECT_EQ(want.reason, got.reason);
}

void expect_same_body(const RepairJsonRequest& want, const RepairJsonRequest& got) {
  EXPECT_EQ(want.source, got.source);
  EXPECT_EQ(want.to, got.to);
  EXPECT_EQ(want.root, got.root);
  EXPECT_EQ(want.quarantine, got.quarantine);
}

void expect_same_body(const CompleteSessionRequest& want, const CompleteSessionRequest& got) {
  EXPECT_EQ(want.session, got.session);
  EXPECT_EQ(want.to, got.to);
  EXPECT_EQ(want.root, got.root);
  EXPECT_EQ(want.manifest, got.manifest);
  EXPECT_EQ(want.marker, got.marker);
}

void expect_same_body(const FailSessionRequest& want, const FailSessionRequest& got) {
  EXPECT_EQ(want.session, got.session);
  EXPECT_EQ(want.to, got.to);
  EXPECT_EQ(want.root, got.root);
  EXPECT_EQ(want.manifest, got.manifest);
  EXPECT_EQ(want.marker, got.marker);
  EXPECT_EQ(want.reason, got.reason);
}

void expect_same_body(const IntegrateSessionRequest& want, const IntegrateSessionRequest& got) {
  EXPECT_EQ(want.session, got.session);
  EXPECT_EQ(want.to, got.to);
  EXPECT_EQ(want.root, got.root);
  expect_same_body(want.command, got.command);
  EXPECT_EQ(want.marker, got.marker);
  EXPECT_EQ(want.claim, got.claim);
}

void expect_same_body(const EnsureFileRequest& want, const EnsureFileRequest& got) {
  EXPECT_EQ(want.path, got.path);
  EXPECT_EQ(want.source, got.source);
  EXPECT_EQ(want.root, got.root);
  EXPECT_EQ(want.keep, got.keep);
  EXPECT_EQ(want.mode, got.mode);
}

void expect_same_body(const RetainRequest& want, const RetainRequest& got) {
  EXPECT_EQ(want.dir, got.dir);
  EXPECT_EQ(want.root, got.root);
  EXPECT_EQ(want.glob, got.glob);
  EXPECT_EQ(want.max_age, got.max_age);
  EXPECT_EQ(want.max_entries, got.max_entries);
}

void expect_same_body(const CheckDiskRequest&, const CheckDiskRequest&) {}

void expect_same_body(const MarkRequest& want, const MarkRequest& got) {
  EXPECT_EQ(want.marker, got.marker);
  EXPECT_EQ(want.entity, got.entity);
  EXPECT_EQ(want.state, got.state);
}

void expect_same_body(const EmitRequest& want, const EmitRequest& got) {
  EXPECT_EQ(want.kind, got.kind);
  EXPECT_EQ(want.entity, got.entity);
  ASSERT_EQ(want.fields.size(), got.fields.size());
  auto g = got.fields.begin();
  for (const auto& w : want.fields) {
    EXPECT_EQ(w.key, g->key);
    EXPECT_EQ(w.value.index(), g->value.index()) << w.key << ": the value's type changed";
    EXPECT_EQ(field_to_string(w.value), field_to_string(g->value)) << w.key;
    EXPECT_TRUE(w.value == g->value) << w.key;
    ++g;
  }
}

void expect_same_body(const KillRequest& want, const KillRequest& got) {
  EXPECT_EQ(want.worker, got.worker);
  EXPECT_EQ(want.signal, got.signal);
  EXPECT_EQ(want.grace.count(), got.grace.count());
  EXPECT_EQ(want.reason, got.reason);
}

void expect_same_body(const RestartRequest& want, const RestartRequest& got) {
  EXPECT_EQ(want.worker, got.worker);
  EXPECT_EQ(want.reason, got.reason);
}

void expect_same_body(const TmuxRequest& want, const TmuxRequest& got) {
  EXPECT_EQ(want.op, got.op);
  EXPECT_EQ(want.session, got.session);
  EXPECT_EQ(want.argv, got.argv);
  EXPECT_EQ(want.cwd, got.cwd);
  EXPECT_EQ(want.env, got.env);
  EXPECT_EQ(want.brief, got.brief);
  EXPECT_EQ(want.submit, got.submit);
  EXPECT_EQ(want.keys, got.keys);
  EXPECT_EQ(want.wait_for, got.wait_for);
  EXPECT_EQ(want.ready_timeout.count(), got.ready_timeout.count());
}

void expect_same_body(const RotateRequest& want, const RotateRequest& got) {
  EXPECT_EQ(want.path, got.path);
  EXPECT_EQ(want.max_size, got.max_size);
  EXPECT_EQ(want.max_age.count(), got.max_age.count());
  EXPECT_EQ(want.keep, got.keep);
  EXPECT_EQ(want.compress, got.compress);
  EXPECT_EQ(want.method, got.method);
}

void expect_same_body(const ProbeRequest& want, const ProbeRequest& got) {
  EXPECT_EQ(want.argv, got.argv);
  EXPECT_EQ(want.cwd, got.cwd);
  EXPECT_EQ(want.env, got.env);
  ASSERT_EQ(want.patterns.size(), got.patterns.size());
  for (std::size_t i = 0; i < want.patterns.size(); ++i) {
    EXPECT_EQ(want.patterns[i].match, got.patterns[i].match);
    EXPECT_EQ(want.patterns[i].kind, got.patterns[i].kind);
    ASSERT_NE(got.patterns[i].regex, nullptr) << "decoding compiles the regex";
    EXPECT_TRUE(got.patterns[i].regex->ok());
    EXPECT_EQ(got.patterns[i].regex->pattern(), want.patterns[i].match);
    EXPECT_EQ(got.patterns[i].regex->NamedCapturingGroups(),
              want.patterns[i].regex->NamedCapturingGroups());
  }
  EXPECT_EQ(want.max_output, got.max_output);
}

void expect_same(const Plan& want, const Plan& got) {
  EXPECT_EQ(want.rule, got.rule);
  ASSERT_EQ(want.actions.size(), got.actions.size());
  for (std::size_t i = 0; i < want.actions.size(); ++i) {
    SCOPED_TRACE("actions[" + std::to_string(i) + "]");
    const ActionRequest& w = want.actions[i];
    const ActionRequest& g = got.actions[i];
    expect_same_header(w, g);
    ASSERT_EQ(w.type(), g.type());
    std::visit(
        [&g](const auto& body) {
          expect_same_body(body, std::get<std::decay_t<decltype(body)>>(g.body));
        },
        w.body);
  }
}

// Encodes, decodes and compares; a second encoding must be the same bytes.
void expect_round_trip(const Plan& plan) {
  const std::string json = encode(plan);
  auto back = parse_plan_json(json);
  ASSERT_TRUE(back.ok()) << back.error().message << "\n" << json;
  expect_same(plan, *back);
  EXPECT_EQ(encode(*back), json);
}

// ---- round trips ------------------------------------------------------------

TEST(PlanCodec, RunRoundTrips) {
  expect_round_trip(plan_of({run_action()}));
}
TEST(PlanCodec, MoveRoundTrips) {
  expect_round_trip(plan_of({move_action()}));
}
TEST(PlanCodec, QuarantineRoundTrips) {
  expect_round_trip(plan_of({quarantine_action()}));
}
TEST(PlanCodec, MarkRoundTrips) {
  expect_round_trip(plan_of({mark_action()}));
}
TEST(PlanCodec, EmitRoundTripsKeepingValueTypes) {
  expect_round_trip(plan_of({emit_action()}));
}
TEST(PlanCodec, KillRoundTrips) {
  expect_round_trip(plan_of({kill_action()}));
}
TEST(PlanCodec, RestartRoundTrips) {
  expect_round_trip(plan_of({restart_action()}));
}
TEST(PlanCodec, TmuxRoundTrips) {
  expect_round_trip(plan_of({tmux_action()}));
}
TEST(PlanCodec, RotateRoundTrips) {
  expect_round_trip(plan_of({rotate_action()}));
}
TEST(PlanCodec, ProbeRoundTripsAndRecompilesItsPatterns) {
  expect_round_trip(plan_of({probe_action()}));
}

TEST(PlanCodec, RepairJsonRoundTrips) {
  expect_round_trip(plan_of({repair_json_action()}));
}

TEST(PlanCodec, CompleteSessionRoundTrips) {
  expect_round_trip(plan_of({complete_session_action()}));
}

TEST(PlanCodec, SessionRetentionAndHookActionsRoundTrip) {
  expect_round_trip(plan_of({fail_session_action()}));
  expect_round_trip(plan_of({integrate_session_action()}));
  expect_round_trip(plan_of({ensure_file_action()}));
  expect_round_trip(plan_of({retain_action()}));
}

TEST(PlanCodec, EveryTypeInOnePlanRoundTrips) {
  expect_round_trip(every_type());
}

TEST(PlanCodec, EmptyPlanRoundTrips) {
  EXPECT_EQ(encode(Plan{}), R"({"rule":"","actions":[]})");
  expect_round_trip(Plan{});
}

TEST(PlanCodec, DefaultRequestsRoundTrip) {
  std::vector<ActionRequest> defaults(std::variant_size_v<ActionBody>);  // [0] is a RunRequest
  defaults[1].body = MoveRequest{};
  defaults[2].body = QuarantineRequest{};
  defaults[3].body = MarkRequest{};
  defaults[4].body = EmitRequest{};
  defaults[5].body = KillRequest{};
  defaults[6].body = RestartRequest{};
  defaults[7].body = TmuxRequest{};
  defaults[8].body = RotateRequest{};
  defaults[9].body = ProbeRequest{};
  defaults[10].body = RepairJsonRequest{};
  defaults[11].body = CompleteSessionRequest{};
  defaults[12].body = FailSessionRequest{};
  defaults[13].body = IntegrateSessionRequest{};
  defaults[14].body = EnsureFileRequest{};
  defaults[15].body = RetainRequest{};
  defaults[16].body = CheckDiskRequest{};
  for (std::size_t i = 0; i < defaults.size(); ++i)
    ASSERT_EQ(static_cast<std::size_t>(defaults[i].type()), i);
  expect_round_trip(plan_of(std::move(defaults)));
}

// The pipeline marks a resumed action; the journal records what the rule decided.
TEST(PlanCodec, ResumedIsNotJournaled) {
  ActionRequest a = move_action();
  a.resumed = true;
  const std::string json = encode(plan_of({a}));
  EXPECT_EQ(json, encode(plan_of({move_action()})));
  auto back = parse_plan_json(json);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_FALSE(back->actions[0].resumed);
}

// The stored form is a file format: changing it must be deliberate.
TEST(PlanCodec, WritesTheDocumentedShape) {
  ActionRequest a;
  a.rule = "tidy";
  a.line = 7;
  a.column = 1;
  a.body = MoveRequest{"/in/a", "/in/done", "/in"};
  EXPECT_EQ(encode(Plan{"tidy", {a}}),
            R"({"rule":"tidy","actions":[{"type":"move","rule":"tidy","index":0,"line":7,)"
            R"("column":1,"timeout_ns":0,"retry":{"retries":0,"initial_ns":1000000000,)"
            R"("factor":2.0,"max_ns":60000000000,"jitter":0.2},"on_interrupt":"default",)"
            R"("render_error":"","source":"/in/a","to":"/in/done","root":"/in"}]})");
}

TEST(PlanCodec, AppendsToWhatIsThere) {
  std::string out = "journal: ";
  append_plan_json(out, Plan{});
  EXPECT_EQ(out, R"(journal: {"rule":"","actions":[]})");
}

// Quotes, backslashes, control bytes, NUL, DEL and multi-byte UTF-8 come back
// exact, and the line holds no raw control byte (one journal line).
TEST(PlanCodec, AwkwardStringsRoundTripOnOneLine) {
  const std::string awkward = std::string("q\"b\\s/n\nt\tr\rNUL") + '\0' + "x\x01\x1f\x7f" +
                              "é 日本 🎉 \xF4\x8F\xBF\xBF end";
  ActionRequest a = run_action();
  a.rule = awkward;
  a.render_error = awkward;
  auto& run = std::get<RunRequest>(a.body);
  run.argv = {awkward, "", std::string(1, '\0')};
  run.cwd = awkward;
  run.env = {{awkward, awkward}};
  ActionRequest e = emit_action();
  std::get<EmitRequest>(e.body).fields.set(awkward, awkward);
  Plan plan{awkward, {a, e, tmux_action()}};
  std::get<TmuxRequest>(plan.actions[2].body).brief = awkward;

  const std::string json = encode(plan);
  for (char c : json) {
    const auto b = static_cast<unsigned char>(c);
    ASSERT_TRUE(b >= 0x20 && b != 0x7F) << "raw control byte " << int(b) << " in " << json;
  }
  expect_round_trip(plan);
}

// A file name is any bytes; the path a resumed move acts on must be the one
// the rule rendered, not one with U+FFFD in it.
TEST(PlanCodec, TextThatIsNotUtf8RoundTripsAsHex) {
  ActionRequest a = move_action();
  auto& move = std::get<MoveRequest>(a.body);
  move.source = "/in/caf\xE9.txt";          // Latin-1
  move.to = "/in/\xC0\xAF";                 // overlong '/'
  move.root = std::string("\xED\xA0\x80");  // a UTF-16 surrogate
  const std::string json = encode(plan_of({a}));
  EXPECT_NE(json.find(R"("source":{"hex":"2f696e2f636166e92e747874"})"), std::string::npos) << json;
  expect_round_trip(plan_of({a}));
}

TEST(PlanCodec, HexTextThatIsUtf8ReadsAsTheString) {
  std::string json = encode(plan_of({move_action()}));
  const std::string from = R"("to":"/in/done")";
  json.replace(json.find(from), from.size(), R"("to":{"hex":"2F696E2F646F6E65"})");
  auto back = parse_plan_json(json);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(std::get<MoveRequest>(back->actions[0].body).to, "/in/done");
}

TEST(PlanCodec, ExtremeNumbersRoundTrip) {
  ActionRequest a = rotate_action();
  a.index = std::numeric_limits<std::size_t>::max();
  a.line = std::numeric_limits<std::uint32_t>::max();
  a.column = std::numeric_limits<std::uint32_t>::max();
  a.timeout = Duration::max();
  a.retry.retries = std::numeric_limits<int>::max();
  a.retry.factor = 1e300;
  a.retry.jitter = 5e-324;  // the smallest subnormal
  auto& rotate = std::get<RotateRequest>(a.body);
  rotate.keep = std::numeric_limits<int>::max();
  ActionRequest e = emit_action();
  auto& fields = std::get<EmitRequest>(e.body).fields;
  fields.set("min", std::numeric_limits<std::int64_t>::min());
  fields.set("neg_zero", -0.0);
  fields.set("huge", 1.7976931348623157e308);
  expect_round_trip(plan_of({a, e}));
}

// ---- rejections: each names the offending key --------------------------------

// `json` with its one occurrence of `from` replaced by `to`.
std::string replaced(std::string json, std::string_view from, std::string_view to) {
  const std::size_t at = json.find(from);
  EXPECT_NE(at, std::string::npos) << from << " not in " << json;
  EXPECT_EQ(json.find(from, at + 1), std::string::npos) << from << " twice in " << json;
  if (at != std::string::npos) json.replace(at, from.size(), to);
  return json;
}

std::string error_of(std::string_view json) {
  auto plan = parse_plan_json(json);
  if (plan.ok()) return "(parsed)";
  return plan.error().message;
}

// The error after replacing `from` with `to` in the encoding of `plan`.
std::string error_after(const Plan& plan, std::string_view from, std::string_view to) {
  return error_of(replaced(encode(plan), from, to));
}

TEST(PlanCodecRejects, TextThatIsNotJson) {
  EXPECT_TRUE(error_of("").starts_with("not JSON: ")) << error_of("");
  EXPECT_TRUE(error_of("{").starts_with("not JSON: ")) << error_of("{");
  EXPECT_TRUE(error_of(encode(Plan{}) + "x").starts_with("not JSON: "));
  EXPECT_TRUE(error_of(R"({"rule":"\ud800","actions":[]})").starts_with("not JSON: "))
      << "a lone surrogate";
  EXPECT_TRUE(error_of("{\"rule\":\"\xE9\",\"actions\":[]}").starts_with("not JSON: "))
      << "a raw byte that is not UTF-8";
}

TEST(PlanCodecRejects, AValueThatIsNotAnObject) {
  EXPECT_EQ(error_of("[]"), "expected a JSON object");
  EXPECT_EQ(error_of(R"("plan")"), "expected a JSON object");
  EXPECT_EQ(error_of(R"({"rule":"r","actions":{}})"), "actions: expected an array of objects");
  EXPECT_EQ(error_of(R"({"rule":"r","actions":[[]]})"), "actions[0]: expected an object");
  EXPECT_EQ(error_after(plan_of({run_action()}), R"("retry":{)", R"("retry":7,"x":{)"),
            "actions[0].retry: expected an object");
}

TEST(PlanCodecRejects, AMissingKey) {
  EXPECT_EQ(error_of(R"({"rule":"r"})"), "actions: missing");
  EXPECT_EQ(error_of(R"({"actions":[]})"), "rule: missing");
  EXPECT_EQ(error_of(R"({"rule":"r","actions":[{}]})"), "actions[0].type: missing");
  EXPECT_EQ(error_after(plan_of({run_action()}), R"(,"cwd":"/srv/app")", ""),
            "actions[0].cwd: missing");
  EXPECT_EQ(error_after(plan_of({run_action()}), R"("jitter":0.35)", R"("jitte":0.35)"),
            "actions[0].retry.jitter: missing");
  EXPECT_EQ(error_after(plan_of({move_action(), probe_action()}), R"(,"kind":"queue.warned")", ""),
            "actions[1].patterns[1].kind: missing");
}

TEST(PlanCodecRejects, AnUnknownKey) {
  EXPECT_EQ(error_of(R"({"rule":"r","actions":[],"version":2})"), "version: unknown key");
  // A key of another action type is unknown here.
  EXPECT_EQ(error_after(plan_of({run_action()}), R"("shell":true)", R"("shell":true,"signal":9)"),
            "actions[0].signal: unknown key");
  EXPECT_EQ(error_after(plan_of({run_action()}), R"("jitter":0.35)", R"("jitter":0.35,"cap_ns":1)"),
            "actions[0].retry.cap_ns: unknown key");
  EXPECT_EQ(error_after(plan_of({probe_action()}), R"("kind":"queue.failed")",
                        R"("kind":"queue.failed","flags":"i")"),
            "actions[0].patterns[0].flags: unknown key");
}

TEST(PlanCodecRejects, AKeyWithControlBytesIsNamedOnOneLine) {
  EXPECT_EQ(error_of(R"({"rule":"r","actions":[],"a\nb\u0000":1})"), R"(a\x0ab\x00: unknown key)");
}

TEST(PlanCodecRejects, AKeyGivenTwice) {
  EXPECT_EQ(error_of(R"({"rule":"r","actions":[],"rule":"s"})"), "rule: given twice");
  EXPECT_EQ(
      error_after(plan_of({run_action()}), R"("shell":true)", R"("shell":true,"shell":false)"),
      "actions[0].shell: given twice");
  EXPECT_EQ(error_after(plan_of({emit_action()}), R"("ok":true)", R"("ok":true,"host":"x")"),
            "actions[0].fields.host: given twice");
}

TEST(PlanCodecRejects, AnUnknownActionType) {
  EXPECT_EQ(
      error_after(plan_of({run_action(), move_action()}), R"("type":"move")", R"("type":"mov")"),
      "actions[1].type: expected run, move, quarantine, mark, emit, kill, restart, tmux, "
      "rotate, probe, repair_json, complete_session, fail_session, integrate_session, "
      "ensure_file, retain or check_disk, not \"mov\"");
  EXPECT_EQ(error_after(plan_of({move_action()}), R"("type":"move")", R"("type":1)"),
            "actions[0].type: expected a string");
}

TEST(PlanCodecRejects, AnUnknownName) {
  EXPECT_EQ(error_after(plan_of({run_action()}), R"("on_interrupt":"rerun")",
                        R"("on_interrupt":"some\ntimes")"),
            R"(actions[0].on_interrupt: expected default, rerun or fail, not "some\ntimes")");
  EXPECT_EQ(error_after(plan_of({tmux_action()}), R"("op":"send")", R"("op":"paste")"),
            R"(actions[0].op: expected open, send or kill, not "paste")");
  EXPECT_EQ(
      error_after(plan_of({rotate_action()}), R"("method":"copytruncate")", R"("method":"copy")"),
      R"(actions[0].method: expected rename or copytruncate, not "copy")");
}

TEST(PlanCodecRejects, AWrongType) {
  const Plan two = plan_of({move_action(), run_action()});
  EXPECT_EQ(error_after(two, R"("argv":["make","install","--prefix=/opt/app"])",
                        R"("argv":"make install")"),
            "actions[1].argv: expected an array of strings");
  EXPECT_EQ(error_after(two, R"("argv":["make",)", R"("argv":[7,)"),
            R"(actions[1].argv[0]: expected a string (or {"hex": pairs of hex digits}))");
  EXPECT_EQ(error_after(two, R"("cwd":"/srv/app")", R"("cwd":null)"),
            R"(actions[1].cwd: expected a string (or {"hex": pairs of hex digits}))");
  EXPECT_EQ(error_after(two, R"("shell":true)", R"("shell":1)"),
            "actions[1].shell: expected true or false");
  EXPECT_EQ(error_after(two, R"("env":[)", R"("env":{"A":"b"},"x":[)"),
            "actions[1].env: expected an array of [name, value] pairs");
  EXPECT_EQ(error_after(two, R"(["EMPTY",""])", R"(["EMPTY"])"),
            "actions[1].env[1]: expected a [name, value] pair of strings");
  EXPECT_EQ(error_after(two, R"(["EMPTY",""])", R"(["EMPTY","",""])"),
            "actions[1].env[1]: expected a [name, value] pair of strings");
  EXPECT_EQ(error_after(two, R"(["EMPTY",""])", R"(["EMPTY",false])"),
            "actions[1].env[1]: expected a [name, value] pair of strings");
  EXPECT_EQ(error_after(plan_of({run_action()}), R"("factor":1.5)", R"("factor":"fast")"),
            "actions[0].retry.factor: expected a number");
  EXPECT_EQ(error_after(plan_of({emit_action()}), R"("fields":{)", R"("fields":[],"x":{)"),
            "actions[0].fields: expected an object");
  EXPECT_EQ(error_after(plan_of({emit_action()}), R"("ok":true)", R"("ok":{"nested":1})"),
            "actions[0].fields.ok: expected a string, number or boolean");
  EXPECT_EQ(error_after(plan_of({emit_action()}), R"("ok":true)", R"("ok":null)"),
            "actions[0].fields.ok: expected a string, number or boolean");
  EXPECT_EQ(error_after(plan_of({probe_action()}), R"("patterns":[)", R"("patterns":[1,)"),
            "actions[0].patterns[0]: expected an object");
}

TEST(PlanCodecRejects, BadHexText) {
  const Plan plan = plan_of({move_action()});
  const std::string expected =
      R"(actions[0].to: expected a string (or {"hex": pairs of hex digits}))";
  EXPECT_EQ(error_after(plan, R"("to":"/in/done")", R"("to":{"hex":"2f6"})"), expected);
  EXPECT_EQ(error_after(plan, R"("to":"/in/done")", R"("to":{"hex":"zz"})"), expected);
  EXPECT_EQ(error_after(plan, R"("to":"/in/done")", R"("to":{"hex":7})"), expected);
  EXPECT_EQ(error_after(plan, R"("to":"/in/done")", R"("to":{"bytes":"2f"})"), expected);
  EXPECT_EQ(error_after(plan, R"("to":"/in/done")", R"("to":{"hex":"2f","more":""})"), expected);
}

TEST(PlanCodecRejects, AnIntegerOutOfRange) {
  const Plan plan = plan_of({run_action()});
  EXPECT_EQ(error_after(plan, R"("line":12)", R"("line":4294967296)"),
            "actions[0].line: expected an integer from 0 to 4294967295");
  EXPECT_EQ(error_after(plan, R"("column":5)", R"("column":-1)"),
            "actions[0].column: expected an integer from 0 to 4294967295");
  EXPECT_EQ(error_after(plan, R"("index":3)", R"("index":-3)"),
            "actions[0].index: expected an integer from 0 to 18446744073709551615");
  EXPECT_EQ(error_after(plan, R"("index":3)", R"("index":3.0)"),
            "actions[0].index: expected an integer from 0 to 18446744073709551615");
  EXPECT_EQ(error_after(plan, R"("retries":4)", R"("retries":-1)"),
            "actions[0].retry.retries: expected an integer from 0 to 2147483647");
  EXPECT_EQ(error_after(plan, R"("retries":4)", R"("retries":2147483648)"),
            "actions[0].retry.retries: expected an integer from 0 to 2147483647");
  EXPECT_EQ(error_after(plan_of({kill_action()}), R"("signal":9)", R"("signal":0)"),
            "actions[0].signal: expected an integer from 1 to 64");
  EXPECT_EQ(error_after(plan_of({kill_action()}), R"("signal":9)", R"("signal":65)"),
            "actions[0].signal: expected an integer from 1 to 64");
  EXPECT_EQ(error_after(plan_of({rotate_action()}), R"("keep":9)", R"("keep":0)"),
            "actions[0].keep: expected an integer from 1 to 2147483647");
  EXPECT_EQ(error_after(plan_of({probe_action()}), R"("max_output":4096)", R"("max_output":-1)"),
            "actions[0].max_output: expected an integer from 0 to 18446744073709551615");
}

TEST(PlanCodecRejects, ABadDuration) {
  const Plan plan = plan_of({run_action()});
  const std::string ns = "expected a non-negative integer (nanoseconds)";
  EXPECT_EQ(error_after(plan, R"("timeout_ns":1500000001)", R"("timeout_ns":-1)"),
            "actions[0].timeout_ns: " + ns);
  EXPECT_EQ(error_after(plan, R"("timeout_ns":1500000001)", R"("timeout_ns":1.5e9)"),
            "actions[0].timeout_ns: " + ns);
  EXPECT_EQ(error_after(plan, R"("timeout_ns":1500000001)", R"("timeout_ns":9223372036854775808)"),
            "actions[0].timeout_ns: " + ns);
  EXPECT_EQ(error_after(plan, R"("initial_ns":250000007)", R"("initial_ns":"250ms")"),
            "actions[0].retry.initial_ns: " + ns);
  EXPECT_EQ(error_after(plan, R"("kill_grace_ns":2500000003)", R"("kill_grace_ns":true)"),
            "actions[0].kill_grace_ns: " + ns);
}

TEST(PlanCodecRejects, ANumberJsonCannotHold) {
  // simdjson refuses a literal beyond the doubles, so no infinity gets in,
  // and an integer beyond 64 bits.
  const Plan plan = plan_of({run_action()});
  const std::string infinite = error_after(plan, "1.5", "1e999");
  EXPECT_TRUE(infinite.starts_with("not JSON: ")) << infinite;
  const std::string huge = error_after(plan, R"("index":3)", R"("index":18446744073709551616)");
  EXPECT_TRUE(huge.starts_with("not JSON: ")) << huge;
}

TEST(PlanCodecRejects, AProbePatternThatIsNotARegex) {
  const std::string error = error_after(plan_of({move_action(), probe_action()}),
                                        R"("match":"warn")", R"("match":"(unclosed")");
  EXPECT_TRUE(error.starts_with(R"(actions[1].patterns[1].match: invalid regular expression )"
                                R"("(unclosed": )"))
      << error;
}

TEST(PlanCodecRejects, ALaterErrorAfterGoodActions) {
  // The first bad action is named even when others before it are whole.
  const std::string error = error_after(every_type(), R"("keep":9)", R"("keep":"nine")");
  EXPECT_EQ(error, "actions[8].keep: expected an integer from 1 to 2147483647");
}

}  // namespace
}  // namespace aw
