#include "src/stats/stats_report.h"

#include <array>
#include <cmath>
#include <cstdio>
#include <vector>

#include "src/core/json_writer.h"
#include "src/core/terminal_text.h"

namespace aw {
namespace {

void optional_num(JsonObjectWriter& w, std::string_view key, const std::optional<std::int64_t>& v) {
  if (v)
    w.num(key, *v);
  else
    w.raw(key, "null");
}

void append_row_json(std::string& out, const StatsRow& r) {
  JsonObjectWriter w(out);
  if (r.group_present)
    w.str("group", r.group);
  else
    w.raw("group", "null");
  w.unum("count", r.count).unum("succeeded", r.succeeded).unum("failed", r.failed);
  if (r.count)
    w.dbl("success_rate", r.success_rate);
  else
    w.raw("success_rate", "null");
  w.unum("timed", r.timed);
  if (r.mean_ms)
    w.dbl("mean_ms", *r.mean_ms);
  else
    w.raw("mean_ms", "null");
  optional_num(w, "p50_ms", r.p50_ms);
  optional_num(w, "p95_ms", r.p95_ms);
  optional_num(w, "p99_ms", r.p99_ms);
  optional_num(w, "cpu_ms", r.cpu_ms);
  optional_num(w, "peak_rss_kb", r.peak_rss_kb);
  w.unum("retries", r.retries);
  w.close();
}

// A key from the log as it is safe to show on a terminal (escaped like
// `agentwatch events` shows text).
std::string terminal_safe(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  append_terminal_safe(out, s);
  return out;
}

// Columns on a terminal: UTF-8 continuation bytes take none. (Wide CJK
// characters take two; names like that are rare enough not to need a table.)
std::size_t display_width(std::string_view s) {
  std::size_t n = 0;
  for (char ch : s)
    if ((static_cast<unsigned char>(ch) & 0xc0) != 0x80) ++n;
  return n;
}

std::string dash_or_ms(const std::optional<std::int64_t>& v) {
  return v ? format_stats_ms(static_cast<double>(*v)) : "-";
}

}  // namespace

std::string format_stats_ms(double ms) {
  char buf[48];
  if (!std::isfinite(ms)) return "-";
  if (std::llround(ms) < 1000) {
    std::snprintf(buf, sizeof buf, "%lldms", static_cast<long long>(std::llround(ms)));
  } else if (ms < 59'950) {  // below what "%.1f" would print as 60.0s
    std::snprintf(buf, sizeof buf, "%.1fs", ms / 1000.0);
  } else if (ms < 3'599'500) {
    const long long s = std::llround(ms / 1000.0);
    std::snprintf(buf, sizeof buf, "%lldm%02llds", s / 60, s % 60);
  } else {
    const long long m = std::llround(ms / 60'000.0);
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", m / 60, m % 60);
  }
  return buf;
}

std::string format_stats_kb(std::int64_t kb) {
  char buf[48];
  if (kb < 1024) {
    std::snprintf(buf, sizeof buf, "%lldK", static_cast<long long>(kb));
  } else if (kb < 1024 * 1024) {
    std::snprintf(buf, sizeof buf, "%.1fM", static_cast<double>(kb) / 1024.0);
  } else {
    std::snprintf(buf, sizeof buf, "%.1fG", static_cast<double>(kb) / (1024.0 * 1024.0));
  }
  return buf;
}

std::string stats_json(const ExecutionStats& stats, const StatsReportContext& context) {
  std::string out;
  JsonObjectWriter w(out);
  const std::string_view group_by = stats_group_by_name(stats.group_by());
  if (group_by.empty())
    w.raw("group_by", "null");
  else
    w.str("group_by", group_by);
  const std::string empty;
  const std::string& since = context.window ? context.window->since_text() : empty;
  const std::string& until = context.window ? context.window->until_text() : empty;
  if (since.empty())
    w.raw("since", "null");
  else
    w.str("since", since);
  if (until.empty())
    w.raw("until", "null");
  else
    w.str("until", until);
  w.boolean("failed_only", context.failed_only);
  w.value("rows", [&stats](std::string& o) {
    o.push_back('[');
    bool first = true;
    for (const StatsRow& r : stats.rows()) {
      if (!first) o.push_back(',');
      first = false;
      append_row_json(o, r);
    }
    o.push_back(']');
  });
  w.value("total", [&stats](std::string& o) { append_row_json(o, stats.total()); });
  w.close();
  out.push_back('\n');
  return out;
}

std::string stats_table(const ExecutionStats& stats) {
  constexpr std::size_t kColumns = 12;
  using Line = std::array<std::string, kColumns>;
  // The first column is named after the grouping: RULE, ENTITY, ...
  std::string first_header = stats.group_by() == StatsGroupBy::kNone ? "GROUP" : "";
  for (char c : stats_group_by_name(stats.group_by()))
    first_header.push_back(static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c));

  std::vector<Line> lines;
  lines.push_back({first_header, "COUNT", "OK", "FAILED", "SUCCESS", "MEAN", "P50", "P95", "P99",
                   "CPU", "PEAK RSS", "RETRIES"});
  auto add = [&lines](const StatsRow& r, std::string label) {
    char rate[16] = "-";
    if (r.count) std::snprintf(rate, sizeof rate, "%.1f%%", 100.0 * r.success_rate);
    lines.push_back({std::move(label), std::to_string(r.count), std::to_string(r.succeeded),
                     std::to_string(r.failed), rate, r.mean_ms ? format_stats_ms(*r.mean_ms) : "-",
                     dash_or_ms(r.p50_ms), dash_or_ms(r.p95_ms), dash_or_ms(r.p99_ms),
                     dash_or_ms(r.cpu_ms), r.peak_rss_kb ? format_stats_kb(*r.peak_rss_kb) : "-",
                     std::to_string(r.retries)});
  };
  for (const StatsRow& r : stats.rows())
    add(r, r.group_present ? terminal_safe(r.group) : "(none)");
  if (stats.group_by() != StatsGroupBy::kNone) add(stats.total(), "(total)");

  std::array<std::size_t, kColumns> width{};
  for (const Line& line : lines)
    for (std::size_t c = 0; c < kColumns; ++c)
      width[c] = std::max(width[c], display_width(line[c]));
  std::string out;
  for (const Line& line : lines) {
    std::string text;
    for (std::size_t c = 0; c < kColumns; ++c) {
      const std::size_t pad = width[c] - display_width(line[c]);
      if (c > 0) text += "  ";
      // The key reads left to right; the figures line up on their last digit.
      if (c == 0) {
        text += line[c];
        text.append(pad, ' ');
      } else {
        text.append(pad, ' ');
        text += line[c];
      }
    }
    while (!text.empty() && text.back() == ' ') text.pop_back();
    out += text;
    out.push_back('\n');
  }
  return out;
}

}  // namespace aw
