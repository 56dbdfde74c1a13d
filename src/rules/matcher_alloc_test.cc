// The matcher's non-matching path must not allocate (it runs for every event).
// Counts global operator new calls while a flag is set; the replacement
// operators below apply to this whole test binary but only count when asked.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "src/rules/matcher.h"
#include "src/rules/rule_loader.h"

namespace {
std::atomic<bool> g_counting{false};
std::atomic<long> g_allocations{0};
}  // namespace

// AddressSanitizer replaces every allocation function itself; replacing some of
// them here would mismatch with its own, so the test is skipped under ASan.
#if defined(__SANITIZE_ADDRESS__)
#define AW_COUNT_ALLOCATIONS 0
#else
#define AW_COUNT_ALLOCATIONS 1
void* operator new(std::size_t n) {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
// GCC cannot see that our operator new is malloc underneath, hence the pragma.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
#pragma GCC diagnostic pop
#endif

namespace aw {
namespace {

TEST(MatcherAllocation, NonMatchingEventsDoNotAllocate) {
  if (!AW_COUNT_ALLOCATIONS) GTEST_SKIP() << "allocation counting is off under AddressSanitizer";
  RuleLoad l = load_rules_from_string(R"([[rule]]
name = "exact"
on = "file.landed"
when = [ { path = "**/results/*.json" }, { field = "entity", matches = "^w[0-9]+$" },
         { field = "fields.size", gt = 10 }, { json = "/status", equals = "done" } ]
[[rule.action]]
do = "run"
argv = ["x", "{path}"]
[[rule]]
name = "wild"
on = "tmux.*"
[[rule.action]]
do = "emit"
kind = "y"
)");
  ASSERT_TRUE(l.ok()) << l.error_text();
  const RuleSet& set = l.rules();
  Event e;
  e.kind = "file.landed";
  e.path = "/srv/results/a.json";
  e.entity = "w1";
  e.fields.set("size", FieldValue(std::int64_t{5}));  // fails `gt = 10`
  std::vector<const Rule*> out;
  out.reserve(4);
  std::string content = R"({"status": "done"})";

  // The counter itself works (so the zero below means something).
  g_allocations = 0;
  g_counting = true;
  delete new std::string(64, 'x');
  g_counting = false;
  ASSERT_GE(g_allocations.load(), 1);

  g_allocations = 0;
  g_counting = true;
  matching_rules(set, e, MatchInput{&content, nullptr}, out);
  bool needs = needs_content(set, e);
  e.kind = "nobody.listens";
  matching_rules(set, e, MatchInput{nullptr, nullptr}, out);
  g_counting = false;

  EXPECT_TRUE(out.empty());
  EXPECT_FALSE(needs);
  EXPECT_EQ(g_allocations.load(), 0);
}

TEST(MatcherAllocation, WildcardPointersAndOtherRulesTimersDoNotAllocate) {
  if (!AW_COUNT_ALLOCATIONS) GTEST_SKIP() << "allocation counting is off under AddressSanitizer";
  RuleLoad l = load_rules_from_string(R"([[rule]]
name = "phases"
on = "file.landed"
when = [ { json = "/phases/*/status", equals = "done" } ]
[[rule.action]]
do = "mark"
entity = "{entity}"
[[rule]]
name = "periodic"
every = "30m"
[[rule.action]]
do = "probe"
argv = ["check"]
)");
  ASSERT_TRUE(l.ok()) << l.error_text();
  const RuleSet& set = l.rules();
  Event landed;
  landed.kind = "file.landed";
  landed.path = "/p/phases.json";
  std::string content = R"({"phases": [{"status": "done"}, {"status": "running"}]})";
  Event timer;
  timer.kind = "timer.fired";
  timer.fields.set("rule", "another");
  std::vector<const Rule*> out;
  out.reserve(4);

  g_allocations = 0;
  g_counting = true;
  matching_rules(set, landed, MatchInput{&content, nullptr}, out);
  matching_rules(set, timer, MatchInput{nullptr, nullptr}, out);
  g_counting = false;

  EXPECT_TRUE(out.empty());
  EXPECT_EQ(g_allocations.load(), 0);
}

}  // namespace
}  // namespace aw
