// Loading the worker, tmux, rotate and probe actions: every key, every default,
// every error with its line:column.
#include <re2/re2.h>

#include <gtest/gtest.h>

#include <csignal>

#include "src/rules/rule_loader.h"

namespace aw {
namespace {

// A rule whose only action table is `action`: the table starts at line 4, its
// first key is on line 5.
std::string rule_with_action(std::string_view action) {
  return "[[rule]]\n"
         "name = \"r\"\n"
         "on = \"worker.*\"\n"
         "[[rule.action]]\n" +
         std::string(action) + "\n";
}

ActionSpec one_action(std::string_view action) {
  RuleLoad load = load_rules_from_string(rule_with_action(action), "a.toml");
  EXPECT_TRUE(load.ok()) << load.error_text();
  if (!load.ok() || load.rules().rules()[0].actions.size() != 1) return ActionSpec{};
  return load.rules().rules()[0].actions[0];
}

// The body of `a` as T; a default T (and a failed test) when `a` is of another type.
template <class T>
const T& body(const ActionSpec& a) {
  static const T none{};
  const T* b = a.as<T>();
  EXPECT_NE(b, nullptr) << "the action is a " << action_type_name(a.type());
  return b ? *b : none;
}

std::vector<std::string> errors_of(std::string_view action) {
  RuleLoad load = load_rules_from_string(rule_with_action(action), "a.toml");
  EXPECT_FALSE(load.ok());
  std::vector<std::string> out;
  for (const RuleError& e : load.errors()) out.push_back(e.to_string());
  return out;
}

std::string one_error(std::string_view action) {
  std::vector<std::string> errors = errors_of(action);
  EXPECT_EQ(errors.size(), 1u) << ::testing::PrintToString(errors);
  return errors.empty() ? "" : errors[0];
}

// ---- kill / restart ----

TEST(KillAction, EveryKey) {
  ActionSpec a = one_action(
      "do = \"kill\"\nworker = \"{fields.worker}\"\nsignal = \"INT\"\ngrace = \"3s\"\n"
      "reason = \"hung for {fields.minutes}m\"");
  EXPECT_EQ(a.type(), ActionType::kKill);
  EXPECT_EQ(body<KillActionSpec>(a).worker.source(), "{fields.worker}");
  EXPECT_EQ(body<KillActionSpec>(a).signal, SIGINT);
  EXPECT_EQ(body<KillActionSpec>(a).grace, std::chrono::seconds(3));
  EXPECT_EQ(body<KillActionSpec>(a).reason->source(), "hung for {fields.minutes}m");
}

TEST(KillAction, Defaults) {
  ActionSpec a = one_action("do = \"kill\"");
  EXPECT_EQ(body<KillActionSpec>(a).worker.source(), "{entity}");
  EXPECT_EQ(body<KillActionSpec>(a).signal, SIGTERM);
  EXPECT_EQ(body<KillActionSpec>(a).grace, std::chrono::seconds(10));
  EXPECT_FALSE(body<KillActionSpec>(a).reason.has_value());
}

TEST(KillAction, EverySignalByNameWithOrWithoutSig) {
  const std::pair<const char*, int> cases[] = {
      {"TERM", SIGTERM},  {"INT", SIGINT},      {"HUP", SIGHUP},   {"KILL", SIGKILL},
      {"QUIT", SIGQUIT},  {"USR1", SIGUSR1},    {"USR2", SIGUSR2}, {"SIGKILL", SIGKILL},
      {"SIGHUP", SIGHUP}, {"SIGUSR2", SIGUSR2},
  };
  for (const auto& [name, number] : cases)
    EXPECT_EQ(
        body<KillActionSpec>(one_action("do = \"kill\"\nsignal = \"" + std::string(name) + "\""))
            .signal,
        number)
        << name;
}

TEST(KillAction, UnknownSignalSuggests) {
  EXPECT_EQ(one_error("do = \"kill\"\nsignal = \"TREM\""),
            "a.toml:6:10: error: unknown signal \"TREM\"; did you mean 'TERM'? (expected TERM, "
            "INT, HUP, KILL, QUIT, USR1 or USR2)");
  EXPECT_EQ(one_error("do = \"kill\"\nsignal = \"term\""),
            "a.toml:6:10: error: unknown signal \"term\" (expected TERM, INT, HUP, KILL, QUIT, "
            "USR1 or USR2)");
  EXPECT_EQ(one_error("do = \"kill\"\nsignal = 9"),
            "a.toml:6:10: error: 'signal' expects a string, not an integer");
}

TEST(KillAction, GraceMustBeADuration) {
  std::string e = one_error("do = \"kill\"\ngrace = \"10\"");
  EXPECT_EQ(e.rfind("a.toml:6:9: error: 'grace': invalid duration \"10\": missing unit", 0), 0u)
      << e;
}

TEST(KillAction, KillGraceBelongsToRun) {
  EXPECT_EQ(one_error("do = \"kill\"\nkill_grace = \"1s\""),
            "a.toml:6:1: error: 'kill_grace' does not apply to do = \"kill\" (kill takes worker, "
            "signal, grace and reason; common keys: timeout, retries, backoff, on_interrupt)");
}

TEST(RestartAction, KeysAndDefaults) {
  ActionSpec a = one_action("do = \"restart\"\nreason = \"deps done\"");
  EXPECT_EQ(a.type(), ActionType::kRestart);
  EXPECT_EQ(body<RestartActionSpec>(a).worker.source(), "{entity}");
  EXPECT_EQ(body<RestartActionSpec>(a).reason->source(), "deps done");
  EXPECT_EQ(body<RestartActionSpec>(one_action("do = \"restart\"\nworker = \"w-{fields.n}\""))
                .worker.source(),
            "w-{fields.n}");
  EXPECT_EQ(one_error("do = \"restart\"\nsignal = \"TERM\""),
            "a.toml:6:1: error: 'signal' does not apply to do = \"restart\" (restart takes worker "
            "and reason; common keys: timeout, retries, backoff, on_interrupt)");
}

TEST(RestartAction, WorkerTemplateErrorHasColumn) {
  EXPECT_EQ(one_error("do = \"restart\"\nworker = \"{entty}\""),
            "a.toml:6:11: error: 'worker': unknown template variable {entty}; did you mean "
            "{entity}? (known: path, name, stem, ext, dir, dir_name, root, rel, kind, source, "
            "entity, seq, "
            "rule, time, fields.KEY, env.NAME)");
}

// ---- tmux ----

TEST(TmuxAction, OpenWithEveryKey) {
  ActionSpec a = one_action(R"(do = "tmux"
op = "open"
session = "fix-{entity}"
argv = ["claude", "--model", "{fields.model}"]
cwd = "{fields.project}"
env = { TASK = "{entity}" }
brief = """
Fix the failing items of {entity}:
{fields.items}
"""
submit = false
keys = ["Enter", "C-l"]
wait_for = "> "
ready_timeout = "20s")");
  EXPECT_EQ(a.type(), ActionType::kTmux);
  EXPECT_EQ(body<TmuxActionSpec>(a).op, TmuxOp::kOpen);
  EXPECT_EQ(body<TmuxActionSpec>(a).session.source(), "fix-{entity}");
  ASSERT_EQ(body<TmuxActionSpec>(a).argv.size(), 3u);
  EXPECT_EQ(body<TmuxActionSpec>(a).argv[2].source(), "{fields.model}");
  EXPECT_EQ(body<TmuxActionSpec>(a).cwd->source(), "{fields.project}");
  ASSERT_EQ(body<TmuxActionSpec>(a).env.size(), 1u);
  EXPECT_EQ(body<TmuxActionSpec>(a).env[0].first, "TASK");
  EXPECT_EQ(body<TmuxActionSpec>(a).brief->source(),
            "Fix the failing items of {entity}:\n{fields.items}\n");
  EXPECT_FALSE(body<TmuxActionSpec>(a).submit);
  ASSERT_EQ(body<TmuxActionSpec>(a).keys.size(), 2u);
  EXPECT_EQ(body<TmuxActionSpec>(a).keys[1].source(), "C-l");
  EXPECT_EQ(body<TmuxActionSpec>(a).wait_for->source(), "> ");
  EXPECT_EQ(body<TmuxActionSpec>(a).ready_timeout, std::chrono::seconds(20));
}

TEST(TmuxAction, OpenDefaults) {
  ActionSpec a = one_action("do = \"tmux\"\nop = \"open\"\nsession = \"s\"");
  EXPECT_TRUE(body<TmuxActionSpec>(a).argv.empty());
  EXPECT_FALSE(body<TmuxActionSpec>(a).brief.has_value());
  EXPECT_TRUE(body<TmuxActionSpec>(a).submit);
  EXPECT_TRUE(body<TmuxActionSpec>(a).keys.empty());
  EXPECT_FALSE(body<TmuxActionSpec>(a).wait_for.has_value());
  EXPECT_EQ(body<TmuxActionSpec>(a).ready_timeout, Duration::zero());
}

TEST(TmuxAction, SendAndKill) {
  ActionSpec send = one_action("do = \"tmux\"\nop = \"send\"\nsession = \"s\"\nkeys = [\"C-c\"]");
  EXPECT_EQ(body<TmuxActionSpec>(send).op, TmuxOp::kSend);
  ASSERT_EQ(body<TmuxActionSpec>(send).keys.size(), 1u);
  ActionSpec brief = one_action("do = \"tmux\"\nop = \"send\"\nsession = \"s\"\nbrief = \"go\"");
  EXPECT_EQ(body<TmuxActionSpec>(brief).brief->source(), "go");
  ActionSpec kill = one_action("do = \"tmux\"\nop = \"kill\"\nsession = \"{fields.session}\"");
  EXPECT_EQ(body<TmuxActionSpec>(kill).op, TmuxOp::kKill);
  EXPECT_EQ(body<TmuxActionSpec>(kill).session.source(), "{fields.session}");
}

TEST(TmuxAction, OpAndSessionAreRequired) {
  EXPECT_EQ(errors_of("do = \"tmux\""),
            (std::vector<std::string>{
                "a.toml:4:1: error: action 1 of rule 'r' (do = \"tmux\") needs 'session': the "
                "tmux session name, e.g. \"agent-{entity}\"",
                "a.toml:4:1: error: action 1 of rule 'r' (do = \"tmux\") needs 'op': open, send "
                "or kill"}));
}

TEST(TmuxAction, UnknownOpSuggests) {
  EXPECT_EQ(one_error("do = \"tmux\"\nop = \"opne\"\nsession = \"s\""),
            "a.toml:6:6: error: 'op': unknown value \"opne\"; did you mean 'open'? (expected "
            "open, send or kill)");
}

TEST(TmuxAction, KeysThatDoNotApplyToTheOp) {
  EXPECT_EQ(one_error("do = \"tmux\"\nop = \"send\"\nsession = \"s\"\nkeys = [\"x\"]\n"
                      "argv = [\"sh\"]"),
            "a.toml:9:1: error: 'argv' does not apply to op = \"send\" (send takes op, session, "
            "brief, submit and keys)");
  EXPECT_EQ(one_error("do = \"tmux\"\nop = \"kill\"\nsession = \"s\"\nbrief = \"bye\""),
            "a.toml:8:1: error: 'brief' does not apply to op = \"kill\" (kill takes op and "
            "session)");
}

TEST(TmuxAction, SendNeedsKeysOrBrief) {
  EXPECT_EQ(one_error("do = \"tmux\"\nop = \"send\"\nsession = \"s\""),
            "a.toml:4:1: error: action 1 of rule 'r' (op = \"send\") needs 'keys' and/or "
            "'brief': what to type");
}

TEST(TmuxAction, KeysMustBeANonEmptyListOfTemplates) {
  EXPECT_EQ(one_error("do = \"tmux\"\nop = \"send\"\nsession = \"s\"\nkeys = []"),
            "a.toml:8:8: error: 'keys' is empty: list at least one key, or omit it");
  EXPECT_EQ(one_error("do = \"tmux\"\nop = \"send\"\nsession = \"s\"\nkeys = \"Enter\""),
            "a.toml:8:8: error: 'keys' expects an array of strings like [\"C-c\", \"Enter\"] "
            "(tmux key names or text), not a string");
  std::string e =
      one_error("do = \"tmux\"\nop = \"send\"\nsession = \"s\"\nkeys = [\"ok\", \"{x\"]");
  EXPECT_EQ(e.rfind("a.toml:8:16: error: 'keys': unclosed '{'", 0), 0u) << e;
}

TEST(TmuxAction, BriefTemplateErrorIsALoadError) {
  std::string e = one_error(
      "do = \"tmux\"\nop = \"open\"\nsession = \"s\"\nbrief = \"\"\"\nhi "
      "{nmae}\n\"\"\"");
  EXPECT_EQ(e.rfind("a.toml:8:9: error: 'brief': unknown template variable {nmae}; did you mean "
                    "{name}?",
                    0),
            0u)
      << e;
}

TEST(TmuxAction, ReadyTimeoutMustBePositive) {
  EXPECT_EQ(one_error("do = \"tmux\"\nop = \"open\"\nsession = \"s\"\nready_timeout = \"0\""),
            "a.toml:8:17: error: 'ready_timeout' must be longer than 0");
}

// ---- rotate ----

TEST(RotateAction, EveryKey) {
  ActionSpec a = one_action(R"(do = "rotate"
path = "{fields.log}"
max_size = "10MB"
max_age = "1d"
keep = 3
compress = false
method = "copytruncate")");
  EXPECT_EQ(a.type(), ActionType::kRotate);
  EXPECT_EQ(body<RotateActionSpec>(a).path.source(), "{fields.log}");
  EXPECT_EQ(body<RotateActionSpec>(a).max_size, 10u << 20);
  EXPECT_EQ(body<RotateActionSpec>(a).max_age, std::chrono::hours(24));
  EXPECT_EQ(body<RotateActionSpec>(a).keep, 3);
  EXPECT_FALSE(body<RotateActionSpec>(a).compress);
  EXPECT_EQ(body<RotateActionSpec>(a).method, RotateMethod::kCopyTruncate);
}

TEST(RotateAction, Defaults) {
  ActionSpec a = one_action("do = \"rotate\"\nmax_size = 4096");
  EXPECT_EQ(body<RotateActionSpec>(a).path.source(), "{path}");
  EXPECT_EQ(body<RotateActionSpec>(a).max_size, 4096u);
  EXPECT_EQ(body<RotateActionSpec>(a).max_age, Duration::zero());
  EXPECT_EQ(body<RotateActionSpec>(a).keep, 5);
  EXPECT_TRUE(body<RotateActionSpec>(a).compress);
  EXPECT_EQ(body<RotateActionSpec>(a).method, RotateMethod::kRename);
  EXPECT_EQ(body<RotateActionSpec>(one_action("do = \"rotate\"\nmax_age = \"12h\"")).max_size, 0u);
}

TEST(RotateAction, NeedsALimit) {
  EXPECT_EQ(one_error("do = \"rotate\"\nkeep = 2"),
            "a.toml:4:1: error: action 1 of rule 'r' (do = \"rotate\") needs 'max_size' and/or "
            "'max_age': when to rotate, e.g. max_size = \"10MB\" or max_age = \"1d\"");
}

TEST(RotateAction, BadValues) {
  std::string e = one_error("do = \"rotate\"\nmax_size = \"10 MB\"");
  EXPECT_EQ(
      e.rfind("a.toml:6:12: error: 'max_size': invalid size \"10 MB\": unknown unit \" MB\"", 0),
      0u)
      << e;
  EXPECT_EQ(one_error("do = \"rotate\"\nmax_size = \"0\""),
            "a.toml:6:12: error: 'max_size' must be more than 0 (omit it to rotate by age only)");
  EXPECT_EQ(one_error("do = \"rotate\"\nmax_size = -5"),
            "a.toml:6:12: error: 'max_size' must not be negative");
  EXPECT_EQ(one_error("do = \"rotate\"\nmax_size = 1.5"),
            "a.toml:6:12: error: 'max_size' expects a size like \"10MB\" or a number of bytes, "
            "not a float");
  EXPECT_EQ(one_error("do = \"rotate\"\nmax_age = \"0\""),
            "a.toml:6:11: error: 'max_age' must be longer than 0");
  EXPECT_EQ(one_error("do = \"rotate\"\nmax_age = \"1d\"\nkeep = 0"),
            "a.toml:7:8: error: 'keep' must be between 1 and 1000");
  EXPECT_EQ(one_error("do = \"rotate\"\nmax_age = \"1d\"\nkeep = \"5\""),
            "a.toml:7:8: error: 'keep' expects a whole number of rotated files to keep, e.g. 5, "
            "not a string");
  EXPECT_EQ(one_error("do = \"rotate\"\nmax_age = \"1d\"\nmethod = \"renmae\""),
            "a.toml:7:10: error: 'method': unknown value \"renmae\"; did you mean 'rename'? "
            "(expected rename or copytruncate)");
  EXPECT_EQ(one_error("do = \"rotate\"\nmax_age = \"1d\"\ncompress = \"gzip\""),
            "a.toml:7:12: error: 'compress' expects true or false, not a string");
}

// ---- probe ----

TEST(ProbeAction, EveryKey) {
  ActionSpec a = one_action(R"(do = "probe"
argv = ["queue-status", "--all"]
cwd = "{fields.project}"
env = { LANG = "C" }
timeout = "20s"
max_output = "64k"
patterns = [
  { match = '^FAILED (?P<job>\S+) after (?P<tries>\d+)', kind = "queue.failed" },
  { match = "^stalled", kind = "queue.stalled" },
])");
  EXPECT_EQ(a.type(), ActionType::kProbe);
  ASSERT_EQ(body<ProbeActionSpec>(a).argv.size(), 2u);
  EXPECT_EQ(body<ProbeActionSpec>(a).cwd->source(), "{fields.project}");
  EXPECT_EQ(body<ProbeActionSpec>(a).env.size(), 1u);
  EXPECT_EQ(a.timeout, std::chrono::seconds(20));
  EXPECT_EQ(body<ProbeActionSpec>(a).max_output, 64u * 1024);
  ASSERT_EQ(body<ProbeActionSpec>(a).patterns.size(), 2u);
  EXPECT_EQ(body<ProbeActionSpec>(a).patterns[0].kind, "queue.failed");
  EXPECT_EQ(body<ProbeActionSpec>(a).patterns[0].match,
            R"(^FAILED (?P<job>\S+) after (?P<tries>\d+))");
  ASSERT_NE(body<ProbeActionSpec>(a).patterns[0].regex, nullptr);
  std::string job, tries;
  EXPECT_TRUE(RE2::PartialMatch("FAILED build-7 after 3 tries",
                                *body<ProbeActionSpec>(a).patterns[0].regex, &job, &tries));
  EXPECT_EQ(job, "build-7");
  EXPECT_EQ(tries, "3");
  EXPECT_EQ(body<ProbeActionSpec>(a).patterns[0].regex->NamedCapturingGroups().count("job"), 1u);
  EXPECT_EQ(body<ProbeActionSpec>(a).patterns[1].kind, "queue.stalled");
}

TEST(ProbeAction, PatternsAsTableBlocksAndDefaults) {
  ActionSpec a = one_action(R"(do = "probe"
argv = ["check"]
[[rule.action.patterns]]
match = "DOWN"
kind = "service.down")");
  ASSERT_EQ(body<ProbeActionSpec>(a).patterns.size(), 1u);
  EXPECT_EQ(body<ProbeActionSpec>(a).patterns[0].kind, "service.down");
  EXPECT_EQ(body<ProbeActionSpec>(a).max_output, 1u << 20);
  EXPECT_TRUE(
      body<ProbeActionSpec>(one_action("do = \"probe\"\nargv = [\"check\"]")).patterns.empty());
}

TEST(ProbeAction, NeedsArgv) {
  EXPECT_EQ(one_error("do = \"probe\"\npatterns = [ { match = \"x\", kind = \"a.b\" } ]"),
            "a.toml:4:1: error: action 1 of rule 'r' (do = \"probe\") needs 'argv': the command "
            "whose output is read, e.g. argv = [\"queue-status\"]");
}

TEST(ProbeAction, BadRegexHasLineAndColumn) {
  std::string e = one_error(
      "do = \"probe\"\nargv = [\"x\"]\npatterns = [\n  { kind = \"a.b\", match = \"(unclosed\" "
      "},\n]");
  EXPECT_EQ(e.rfind("a.toml:8:27: error: 'match': invalid regular expression \"(unclosed\": "
                    "missing )",
                    0),
            0u)
      << e;
}

TEST(ProbeAction, ReservedCaptureNamesPointAtTheGroup) {
  EXPECT_EQ(one_error("do = \"probe\"\nargv = [\"x\"]\n"
                      "patterns = [ { match = \"^(?P<line>\\\\d+)\", kind = \"a.b\" } ]"),
            "a.toml:7:29: error: 'match': capture group 'line' would overwrite the event's own "
            "field line (reserved: line, probe, rule and truncated); rename the group");
  std::vector<std::string> errors = errors_of(
      "do = \"probe\"\nargv = [\"x\"]\n"
      "patterns = [ { match = '(?P<rule>a)(?P<probe>b)(?P<ok>c)', kind = \"a.b\" } ]");
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].rfind("a.toml:7:28: error: 'match': capture group 'rule'", 0), 0u)
      << errors[0];
  EXPECT_EQ(errors[1].rfind("a.toml:7:39: error: 'match': capture group 'probe'", 0), 0u)
      << errors[1];
}

TEST(ProbeAction, PatternKindAndKeys) {
  EXPECT_EQ(one_error("do = \"probe\"\nargv = [\"x\"]\n"
                      "patterns = [ { match = \"x\", kind = \"Queue Failed\" } ]"),
            "a.toml:7:36: error: event kind \"Queue Failed\" must be lowercase dotted words like "
            "\"queue.failed\"");
  EXPECT_EQ(one_error("do = \"probe\"\nargv = [\"x\"]\npatterns = [ { match = \"x\" } ]"),
            "a.toml:7:14: error: pattern 1 of 'patterns' needs 'kind': the kind of the event, "
            "e.g. \"queue.failed\"");
  EXPECT_EQ(one_error("do = \"probe\"\nargv = [\"x\"]\npatterns = [ { kind = \"a.b\" } ]"),
            "a.toml:7:14: error: pattern 1 of 'patterns' needs 'match': an RE2 regular "
            "expression");
  EXPECT_EQ(one_error("do = \"probe\"\nargv = [\"x\"]\n"
                      "patterns = [ { mtach = \"x\", kind = \"a.b\" } ]"),
            "a.toml:7:16: error: unknown key 'mtach' in pattern 1 of 'patterns'; did you mean "
            "'match'?");
  EXPECT_EQ(one_error("do = \"probe\"\nargv = [\"x\"]\npatterns = []"),
            "a.toml:7:12: error: 'patterns' is empty: give at least one, or omit it");
  EXPECT_EQ(one_error("do = \"probe\"\nargv = [\"x\"]\npatterns = [\"x\"]"),
            "a.toml:7:13: error: pattern 1 must be a table like { match = \"...\", kind = \"...\" "
            "}, not a string");
  EXPECT_EQ(one_error("do = \"probe\"\nargv = [\"x\"]\npatterns = \"x\""),
            "a.toml:7:12: error: 'patterns' expects an array of tables like [ { match = "
            "\"^FAILED\", kind = \"queue.failed\" } ], not a string");
}

TEST(ProbeAction, MaxOutput) {
  EXPECT_EQ(body<ProbeActionSpec>(one_action("do = \"probe\"\nargv = [\"x\"]\nmax_output = \"2M\""))
                .max_output,
            2u << 20);
  EXPECT_EQ(one_error("do = \"probe\"\nargv = [\"x\"]\nmax_output = 0"),
            "a.toml:7:14: error: 'max_output' must be more than 0");
}

TEST(RepairJsonAction, EveryKey) {
  ActionSpec a = one_action(R"(do = "repair_json"
path = "{fields.result}"
to = "{root}/completed"
quarantine = "{root}/quarantine"
root = "/srv/results")");
  EXPECT_EQ(a.type(), ActionType::kRepairJson);
  const auto& s = body<RepairJsonActionSpec>(a);
  EXPECT_EQ(s.path.source(), "{fields.result}");
  ASSERT_TRUE(s.to);
  EXPECT_EQ(s.to->source(), "{root}/completed");
  ASSERT_TRUE(s.quarantine);
  EXPECT_EQ(s.quarantine->source(), "{root}/quarantine");
  EXPECT_EQ(s.root.source(), "/srv/results");
}

TEST(RepairJsonAction, Defaults) {
  const ActionSpec a = one_action("do = \"repair_json\"");
  const auto& s = body<RepairJsonActionSpec>(a);
  EXPECT_EQ(s.path.source(), "{path}");
  EXPECT_FALSE(s.to);  // beside the original
  EXPECT_FALSE(s.quarantine);
  EXPECT_EQ(s.root.source(), "{root}");
}

TEST(RepairJsonAction, KeysOfOtherTypesAreRefused) {
  EXPECT_EQ(one_error("do = \"repair_json\"\nreason = \"x\""),
            "a.toml:6:1: error: 'reason' does not apply to do = \"repair_json\" (repair_json takes "
            "path, to, quarantine and root; common keys: timeout, retries, backoff, on_interrupt)");
}

TEST(CompleteSessionAction, KeysAndDefaults) {
  const ActionSpec dflt = one_action("do = \"complete_session\"\nto = \"{root}/done\"");
  const auto& d = body<CompleteSessionActionSpec>(dflt);
  EXPECT_EQ(d.session.source(), "{dir}");
  EXPECT_EQ(d.to.source(), "{root}/done");
  EXPECT_EQ(d.root.source(), "{root}");
  EXPECT_EQ(d.manifest.source(), "session.json");
  EXPECT_EQ(d.marker.source(), "session.done");
  const ActionSpec every = one_action(R"(do = "complete_session"
session = "{fields.dir}"
to = "/srv/done"
manifest = "expected.json"
marker = "ALL_DONE"
root = "/srv")");
  const auto& s = body<CompleteSessionActionSpec>(every);
  EXPECT_EQ(s.session.source(), "{fields.dir}");
  EXPECT_EQ(s.manifest.source(), "expected.json");
  EXPECT_EQ(s.marker.source(), "ALL_DONE");
  EXPECT_EQ(s.root.source(), "/srv");
}

TEST(CompleteSessionAction, NeedsTo) {
  EXPECT_EQ(one_error("do = \"complete_session\""),
            "a.toml:4:1: error: action 1 of rule 'r' (do = \"complete_session\") needs 'to': where "
            "complete sessions go, e.g. \"{root}/completed\"");
}

TEST(SessionLifeActions, KeysAndDefaults) {
  const ActionSpec fail = one_action("do = \"fail_session\"\nto = \"{root}/failed\"");
  const auto& f = body<FailSessionActionSpec>(fail);
  EXPECT_EQ(f.session.source(), "{dir}");
  EXPECT_EQ(f.root.source(), "{root}");
  EXPECT_EQ(f.reason.source(), "the session did not complete in the time its rule allows");

  const ActionSpec integrate = one_action(R"(do = "integrate_session"
argv = ["merge", "{dir}"]
to = "{root}/integrated"
env = { MODE = "x" }
kill_grace = "2s")");
  const auto& i = body<IntegrateSessionActionSpec>(integrate);
  ASSERT_EQ(i.command.argv.size(), 2u);
  EXPECT_EQ(i.command.argv[1].source(), "{dir}");
  EXPECT_EQ(i.command.kill_grace, std::chrono::seconds(2));
  EXPECT_EQ(i.marker.source(), "session.integrated");
  EXPECT_EQ(i.claim.source(), "session.integrating");
  EXPECT_EQ(one_error("do = \"integrate_session\"\nto = \"x\""),
            "a.toml:4:1: error: action 1 of rule 'r' (do = \"integrate_session\") needs 'argv': "
            "the integration command, e.g. argv = [\"integrate\", \"{dir}\"]");

  const ActionSpec ensure =
      one_action("do = \"ensure_file\"\nsource = \"/s/{name}\"\nmode = \"0755\"");
  const auto& e = body<EnsureFileActionSpec>(ensure);
  EXPECT_EQ(e.path.source(), "{path}");
  EXPECT_EQ(e.mode, 0755u);
  EXPECT_EQ(one_error("do = \"ensure_file\"\nsource = \"/s\"\nmode = 755"),
            "a.toml:7:8: error: 'mode' must be an octal string like \"0755\", not an integer (755 "
            "in TOML is decimal)");
  EXPECT_EQ(one_error("do = \"ensure_file\"\nsource = \"/s\"\nmode = \"0855\""),
            "a.toml:7:8: error: 'mode' \"0855\" is not an octal file mode like \"0755\"");

  const ActionSpec retain =
      one_action("do = \"retain\"\ndir = \"{root}/completed\"\nmax_age = \"7d\"\nglob = \"*.gz\"");
  const auto& r = body<RetainActionSpec>(retain);
  EXPECT_EQ(r.max_age, std::chrono::hours(24 * 7));
  EXPECT_EQ(r.max_entries, 10000u);
  EXPECT_EQ(one_error("do = \"retain\"\ndir = \"x\""),
            "a.toml:4:1: error: action 1 of rule 'r' (do = \"retain\") needs 'max_age': how old "
            "an entry must be to go, e.g. \"7d\"");
  EXPECT_EQ(one_action("do = \"check_disk\"").type(), ActionType::kCheckDisk);
}

// ---- across types ----

TEST(NewActions, UnknownActionListsEveryType) {
  EXPECT_EQ(one_error("do = \"kil\""),
            "a.toml:5:6: error: unknown action \"kil\"; did you mean 'kill'? (expected run, move, "
            "quarantine, mark, emit, kill, restart, tmux, rotate, probe, repair_json, "
            "complete_session, fail_session, integrate_session, ensure_file, retain or "
            "check_disk)");
}

TEST(NewActions, KeysOfOneTypeAreRefusedOnAnother) {
  EXPECT_EQ(one_error("do = \"run\"\nargv = [\"x\"]\nsession = \"s\""),
            "a.toml:7:1: error: 'session' does not apply to do = \"run\" (run takes argv, cwd, "
            "env, shell and kill_grace; common keys: timeout, retries, backoff, on_interrupt)");
  EXPECT_EQ(one_error("do = \"rotate\"\nmax_age = \"1d\"\nmax_sise = \"1M\""),
            "a.toml:7:1: error: unknown key 'max_sise' in action 1 of rule 'r'; did you mean "
            "'max_size'?");
}

TEST(NewActions, TheCommonKeysApply) {
  ActionSpec a = one_action("do = \"restart\"\nretries = 3\ntimeout = \"5s\"");
  EXPECT_EQ(a.retry.retries, 3);
  EXPECT_EQ(a.timeout, std::chrono::seconds(5));
}

TEST(NewActions, OnInterruptChoosesWhetherAResumedPlanRunsTheActionAgain) {
  ActionSpec dflt = one_action("do = \"run\"\nargv = [\"a\"]");
  EXPECT_EQ(dflt.on_interrupt, OnInterrupt::kDefault);
  EXPECT_EQ(one_action("do = \"run\"\nargv = [\"a\"]\non_interrupt = \"rerun\"").on_interrupt,
            OnInterrupt::kRerun);
  EXPECT_EQ(one_action("do = \"move\"\nto = \"done\"\non_interrupt = \"fail\"").on_interrupt,
            OnInterrupt::kFail);
  EXPECT_EQ(
      one_error("do = \"run\"\nargv = [\"a\"]\non_interrupt = \"rerunn\""),
      "a.toml:7:16: error: on_interrupt must be \"rerun\" or \"fail\", not \"rerunn\"; did you "
      "mean 'rerun'?");
}

TEST(NewActions, WithoutOnInterruptOnlyIdempotentActionsRunAgain) {
  ActionRequest run;
  run.body = RunRequest{};
  EXPECT_FALSE(run.rerun_when_interrupted());
  run.on_interrupt = OnInterrupt::kRerun;
  EXPECT_TRUE(run.rerun_when_interrupted());
  ActionRequest move;
  move.body = MoveRequest{};
  EXPECT_TRUE(move.rerun_when_interrupted());
  move.on_interrupt = OnInterrupt::kFail;
  EXPECT_FALSE(move.rerun_when_interrupted());
  ActionRequest tmux;
  tmux.body = TmuxRequest{};
  EXPECT_FALSE(tmux.rerun_when_interrupted());  // open types again
  std::get<TmuxRequest>(tmux.body).op = TmuxOp::kKill;
  EXPECT_TRUE(tmux.rerun_when_interrupted());
  ActionRequest repair;
  repair.body = RepairJsonRequest{};
  EXPECT_TRUE(repair.rerun_when_interrupted());  // a copy with the same text is reused
  ActionRequest restart;
  restart.body = RestartRequest{};
  EXPECT_FALSE(restart.rerun_when_interrupted());
  ActionRequest integrate;
  integrate.body = IntegrateSessionRequest{};
  EXPECT_FALSE(integrate.rerun_when_interrupted());  // its command is a run
  ActionRequest fail;
  fail.body = FailSessionRequest{};
  EXPECT_TRUE(fail.rerun_when_interrupted());
}

}  // namespace
}  // namespace aw
