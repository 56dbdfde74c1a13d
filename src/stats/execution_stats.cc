#include "src/stats/execution_stats.h"

#include <algorithm>
#include <cmath>
#include <tuple>

namespace aw {

struct ExecutionStats::Accumulator {
  std::uint64_t count = 0;
  std::uint64_t succeeded = 0;
  std::uint64_t failed = 0;
  std::uint64_t retries = 0;
  std::int64_t cpu_ms = 0;
  bool has_cpu = false;
  std::int64_t peak_rss_kb = 0;
  bool has_rss = false;
  std::vector<std::int64_t> durations_ms;

  void add(const Execution& e) {
    ++count;
    if (e.failed)
      ++failed;
    else
      ++succeeded;
    if (e.attempts > 1) retries += static_cast<std::uint64_t>(e.attempts - 1);
    if (e.duration_ms) durations_ms.push_back(*e.duration_ms);
    if (e.user_ms || e.sys_ms) {
      cpu_ms += e.user_ms.value_or(0) + e.sys_ms.value_or(0);
      has_cpu = true;
    }
    if (e.max_rss_kb && (!has_rss || *e.max_rss_kb > peak_rss_kb)) {
      peak_rss_kb = *e.max_rss_kb;
      has_rss = true;
    }
  }

  StatsRow row(std::string group, bool present) const {
    StatsRow r;
    r.group = std::move(group);
    r.group_present = present;
    r.count = count;
    r.succeeded = succeeded;
    r.failed = failed;
    r.success_rate = count ? static_cast<double>(succeeded) / static_cast<double>(count) : 0.0;
    r.timed = durations_ms.size();
    r.retries = retries;
    if (has_cpu) r.cpu_ms = cpu_ms;
    if (has_rss) r.peak_rss_kb = peak_rss_kb;
    if (!durations_ms.empty()) {
      // Selected, not sorted (a log holds millions of durations): each
      // nth_element leaves everything above its rank after it, so the next,
      // higher rank is selected among those alone. On a copy: rows() may be
      // asked for again.
      std::vector<std::int64_t> v = durations_ms;
      std::size_t from = 0;
      auto select = [&](double p) {
        const std::size_t at = nearest_rank_index(v.size(), p);
        std::nth_element(v.begin() + static_cast<std::ptrdiff_t>(from),
                         v.begin() + static_cast<std::ptrdiff_t>(at), v.end());
        from = at;
        return v[at];
      };
      // A long double sum: int64 milliseconds cannot overflow it in practice,
      // and the mean stays exact for any realistic log.
      long double sum = 0;
      for (std::int64_t d : v) sum += static_cast<long double>(d);
      r.mean_ms = static_cast<double>(sum / static_cast<long double>(v.size()));
      r.p50_ms = select(50);
      r.p95_ms = select(95);
      r.p99_ms = select(99);
    }
    return r;
  }
};

std::optional<StatsGroupBy> parse_stats_group_by(std::string_view text) {
  if (text == "rule") return StatsGroupBy::kRule;
  if (text == "action") return StatsGroupBy::kAction;
  if (text == "worker" || text == "entity") return StatsGroupBy::kEntity;
  if (text == "category") return StatsGroupBy::kCategory;
  if (text == "kind") return StatsGroupBy::kKind;
  return std::nullopt;
}

std::string_view stats_group_by_name(StatsGroupBy g) {
  switch (g) {
    case StatsGroupBy::kNone:
      return "";
    case StatsGroupBy::kRule:
      return "rule";
    case StatsGroupBy::kAction:
      return "action";
    case StatsGroupBy::kEntity:
      return "entity";
    case StatsGroupBy::kCategory:
      return "category";
    case StatsGroupBy::kKind:
      return "kind";
  }
  return "";
}

std::size_t nearest_rank_index(std::size_t n, double p) {
  // The smallest rank whose share of the values reaches p. The epsilon keeps
  // a product that should be whole (0.95 × 100 = 95.00000000000001) from
  // rounding up one rank too far.
  auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(n) - 1e-9));
  return std::clamp<std::size_t>(rank, 1, n) - 1;
}

std::int64_t nearest_rank(const std::vector<std::int64_t>& sorted, double p) {
  return sorted[nearest_rank_index(sorted.size(), p)];
}

ExecutionStats::ExecutionStats(StatsGroupBy group_by)
    : group_by_(group_by), total_(std::make_unique<Accumulator>()) {}
ExecutionStats::~ExecutionStats() = default;
ExecutionStats::ExecutionStats(ExecutionStats&&) noexcept = default;
ExecutionStats& ExecutionStats::operator=(ExecutionStats&&) noexcept = default;

std::string_view ExecutionStats::key_of(const Execution& e) const {
  switch (group_by_) {
    case StatsGroupBy::kNone:
      return {};
    case StatsGroupBy::kRule:
      return e.rule;
    case StatsGroupBy::kAction:
      return e.action;
    case StatsGroupBy::kEntity:
      return e.entity;
    case StatsGroupBy::kCategory:
      return e.category;
    case StatsGroupBy::kKind:
      return e.kind;
  }
  return {};
}

ExecutionStats::Accumulator& ExecutionStats::group_for(std::string_view key) {
  if (last_ && key == last_key_) return *last_;
  auto it = groups_.find(key);
  if (it == groups_.end())
    it = groups_.emplace(std::string(key), std::make_unique<Accumulator>()).first;
  // Map nodes never move, so the key's characters stay where this view points.
  last_key_ = it->first;
  last_ = it->second.get();
  return *last_;
}

void ExecutionStats::add(const Execution& e) {
  total_->add(e);
  if (group_by_ == StatsGroupBy::kNone) return;
  const std::string_view key = key_of(e);
  if (key.empty()) {
    // The log leaves empty strings out: no entity and an empty entity are one.
    if (!absent_) absent_ = std::make_unique<Accumulator>();
    absent_->add(e);
    return;
  }
  group_for(key).add(e);
}

std::uint64_t ExecutionStats::count() const {
  return total_->count;
}

StatsRow ExecutionStats::total() const {
  return total_->row("all", true);
}

std::vector<StatsRow> ExecutionStats::rows() const {
  if (group_by_ == StatsGroupBy::kNone) return {total()};
  std::vector<StatsRow> rows;
  rows.reserve(groups_.size() + 1);
  for (const auto& [key, acc] : groups_) rows.push_back(acc->row(key, true));
  if (absent_) rows.push_back(absent_->row("", false));
  std::sort(rows.begin(), rows.end(), [](const StatsRow& a, const StatsRow& b) {
    // Most executions first; ties by key, with the keyless group after the named ones.
    return std::forward_as_tuple(b.count, b.group_present, a.group) <
           std::forward_as_tuple(a.count, a.group_present, b.group);
  });
  return rows;
}

}  // namespace aw
