// Rule files (src/rules/rule_loader.h): the TOML text of one rule file.
//
// Holds beyond "no crash":
//   - a load is a RuleSet or a non-empty list of errors, never both, each error
//     naming the file and a line within the text;
//   - a file that loads also loads as a later layer over itself (every rule
//     replaced in place: same names, same order);
//   - for events built from the rules' own kinds, a rule is in matching_rules()
//     exactly when explain_mismatch() (what `rules test` says) finds nothing,
//     and rendering its actions does not crash.
#include <string>
#include <vector>

#include "src/rules/matcher.h"
#include "src/rules/rule_loader.h"
#include "tests/fuzz/fuzz_support.h"

using namespace aw;

namespace {

Event event_for(std::string_view kind) {
  Event e;
  e.kind = std::string(kind);
  e.source = "inotify";
  e.seq = 42;
  e.path = "/w/results/sub/job-7.tar.gz";
  e.entity = "w1";
  e.fields.set("root", "/w/results");
  e.fields.set("rel", "sub/job-7.tar.gz");
  e.fields.set("status", "done");
  e.fields.set("size", FieldValue(std::int64_t{12}));
  e.fields.set("ok", FieldValue(false));
  e.fields.set("ratio", FieldValue(0.5));
  return e;
}

void check_errors(const RuleLoad& load, std::string_view text) {
  FUZZ_CHECK(!load.errors().empty());
  const std::size_t lines = fuzz::line_count(text);
  for (const RuleError& e : load.errors()) {
    FUZZ_CHECK(e.file == "a.toml");
    FUZZ_CHECK(e.line <= lines);
    FUZZ_CHECK(!e.message.empty());
  }
  FUZZ_CHECK(!load.error_text().empty());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = fuzz::as_text(data, size);
  const RuleLoad load = load_rules_from_string(text, "a.toml");
  if (!load.ok()) {
    check_errors(load, text);
    return 0;
  }
  FUZZ_CHECK(load.errors().empty());
  const RuleSet& rules = load.rules();

  const RuleLoad twice = load_rules(
      {{RuleFile{"a.toml", std::string(text)}}, {RuleFile{"b.toml", std::string(text)}}});
  FUZZ_CHECK(twice.ok());
  FUZZ_CHECK(twice.rules().size() == rules.size());
  for (std::size_t i = 0; i < rules.size(); ++i)
    FUZZ_CHECK(twice.rules().rules()[i].name == rules.rules()[i].name);

  std::vector<std::string> kinds = {"file.landed", "timer.fired"};
  for (const Rule& r : rules.rules())
    for (const Glob& g : r.on)
      if (kinds.size() < 8) kinds.push_back(g.pattern());
  const std::string content = R"({"status":"done","n":3,"items":[{"ok":true},{"ok":false}]})";
  const MatchInput input{&content, nullptr};
  std::vector<const Rule*> matched;
  for (const std::string& kind : kinds) {
    Event e = event_for(kind);
    if (kind == "timer.fired" && !rules.rules().empty())
      e.fields.set("rule", rules.rules()[0].name);
    matched.clear();
    matching_rules(rules, e, input, matched);
    (void)needs_content(rules, e);
    for (const Rule& r : rules.rules()) {
      bool in = false;
      for (const Rule* m : matched) in = in || m == &r;
      FUZZ_CHECK(in == !explain_mismatch(r, e, input).has_value());
    }
    for (const Rule* m : matched) (void)render(*m, e, input);
  }
  return 0;
}
