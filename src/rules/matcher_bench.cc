// Match throughput against 100 loaded rules, mostly not matching (DESIGN §7:
// figures are read as ratios against a floor measured by the same harness).
//
//   BM_Floor_EmptyRuleSet      the call itself with no rules: the floor for matching
//   BM_Match_NoListener        an event kind no rule listens to
//   BM_Match_FileLanded        2 of 100 rules match (globs, field equality, regex)
//   BM_MatchAndRender_*        the same plus rendering the Plans (templates)
//   BM_Match_JsonCondition     a rule with a JSON Pointer condition on ~1 KiB of JSON
//   BM_Floor_SimdjsonParse     parsing that JSON alone: the floor for the JSON case
#include <benchmark/benchmark.h>
#include <simdjson.h>

#include <string>

#include "src/rules/matcher.h"
#include "src/rules/rule_loader.h"

namespace aw {
namespace {

std::string action() {
  return "[[rule.action]]\ndo = \"emit\"\nkind = \"bench.hit\"\n";
}

// 100 rules: 90 on other exact kinds, 5 on non-matching wildcards, 3 on
// file.landed whose conditions fail, 2 that match a result JSON landing.
std::string rules_text(bool with_json) {
  std::string t;
  for (int i = 0; i < 90; ++i)
    t += "[[rule]]\nname = \"other-" + std::to_string(i) + "\"\non = \"worker.k" +
         std::to_string(i) + "\"\nwhen = [ { field = \"entity\", matches = \"^w[0-9]+$\" } ]\n" +
         action();
  const char* wild[] = {"tmux.*", "process.*", "timer.*", "notify.*", "disk.*"};
  for (int i = 0; i < 5; ++i)
    t += "[[rule]]\nname = \"wild-" + std::to_string(i) + "\"\non = \"" + wild[i] + "\"\n" +
         action();
  for (int i = 0; i < 3; ++i)
    t += "[[rule]]\nname = \"miss-" + std::to_string(i) +
         "\"\non = \"file.landed\"\nwhen = [ { path = \"**/other" + std::to_string(i) +
         "/*.json\" } ]\n" + action();
  t += R"([[rule]]
name = "hit-fields"
on = "file.landed"
when = [ { name = "*.json" }, { field = "fields.via", equals = "close_write" },
         { field = "fields.size", gt = 0 }, { field = "entity", matches = "^w[0-9]+$" } ]
[[rule.action]]
do = "move"
to = "{root}/completed"
)";
  t += R"([[rule]]
name = "hit-json"
on = "file.landed"
when = [ { path = "**/results/*.json" }, )" +
       std::string(with_json ? R"({ json = "/status", equals = "done" })"
                             : R"({ field = "fields.via", exists = true })") +
       R"( ]
[[rule.action]]
do = "run"
argv = ["integrate", "--file", "{path}", "--entity", "{entity}"]
)";
  return t;
}

RuleSet load(bool with_json) {
  RuleLoad l = load_rules_from_string(rules_text(with_json), "bench.toml");
  if (!l.ok()) {
    fprintf(stderr, "%s", l.error_text().c_str());
    abort();
  }
  if (l.rules().size() != 100) abort();
  return std::move(l).rules();
}

Event landed() {
  Event e;
  e.kind = "file.landed";
  e.source = "inotify";
  e.path = "/srv/fleet/results/w17-result.json";
  e.entity = "w17";
  e.fields.set("root", "/srv/fleet");
  e.fields.set("rel", "results/w17-result.json");
  e.fields.set("via", "close_write");
  e.fields.set("size", FieldValue(std::int64_t{1024}));
  return e;
}

std::string result_json() {
  std::string s = R"({"status": "done", "worker": "w17", "items": [)";
  for (int i = 0; i < 40; ++i)
    s += (i ? "," : "") + std::string(R"({"id":)") + std::to_string(i) + R"(,"ok":true})";
  return s + R"(], "summary": "all phases complete"})";
}

void BM_Floor_EmptyRuleSet(benchmark::State& state) {
  RuleSet set;
  Event e = landed();
  std::vector<const Rule*> out;
  for (auto _ : state) {
    out.clear();
    matching_rules(set, e, MatchInput{}, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Floor_EmptyRuleSet);

void BM_Match_NoListener(benchmark::State& state) {
  RuleSet set = load(false);
  Event e = landed();
  e.kind = "nobody.listens";
  std::vector<const Rule*> out;
  for (auto _ : state) {
    out.clear();
    matching_rules(set, e, MatchInput{}, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Match_NoListener);

void BM_Match_FileLanded(benchmark::State& state) {
  RuleSet set = load(false);
  Event e = landed();
  std::vector<const Rule*> out;
  for (auto _ : state) {
    out.clear();
    matching_rules(set, e, MatchInput{}, out);
    if (out.size() != 2) state.SkipWithError("expected 2 matches");
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Match_FileLanded);

void BM_MatchAndRender_FileLanded(benchmark::State& state) {
  RuleSet set = load(false);
  Event e = landed();
  for (auto _ : state) {
    std::vector<Plan> plans = match(set, e, MatchInput{});
    benchmark::DoNotOptimize(plans.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MatchAndRender_FileLanded);

void BM_Match_JsonCondition(benchmark::State& state) {
  RuleSet set = load(true);
  Event e = landed();
  std::string content = result_json();
  std::vector<const Rule*> out;
  for (auto _ : state) {
    out.clear();
    matching_rules(set, e, MatchInput{&content, nullptr}, out);
    if (out.size() != 2) state.SkipWithError("expected 2 matches");
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(content.size()));
}
BENCHMARK(BM_Match_JsonCondition);

void BM_Floor_SimdjsonParse(benchmark::State& state) {
  std::string content = result_json();
  simdjson::dom::parser parser;
  simdjson::padded_string padded(content);
  for (auto _ : state) {
    auto doc = parser.parse(padded);
    benchmark::DoNotOptimize(doc.error());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(content.size()));
}
BENCHMARK(BM_Floor_SimdjsonParse);

void BM_NeedsContent(benchmark::State& state) {
  RuleSet set = load(true);
  Event e = landed();
  for (auto _ : state) benchmark::DoNotOptimize(needs_content(set, e));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_NeedsContent);

}  // namespace
}  // namespace aw

BENCHMARK_MAIN();
