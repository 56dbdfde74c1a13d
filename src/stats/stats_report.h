// The two renderings of `agentwatch stats` (docs/stats.md has examples of both):
//
//   - stats_json: one JSON object on one line, for scripts:
//       {"group_by":"rule"|null,"since":TIME|null,"until":TIME|null,"failed_only":BOOL,
//        "rows":[ROW,...],"total":ROW}
//     ROW = {"group":STRING|null,"count":N,"succeeded":N,"failed":N,"success_rate":X|null,
//            "timed":N,"mean_ms":X|null,"p50_ms":N|null,"p95_ms":N|null,"p99_ms":N|null,
//            "cpu_ms":N|null,"peak_rss_kb":N|null,"retries":N}
//     null: nothing to compute it from (no execution with that field; "group":
//     the executions had no such key; "success_rate": no executions).
//   - stats_table: an aligned table for people, durations and sizes in units
//     (842ms, 12.3s, 4m05s; 512K, 12.3M), "-" for null; grouped tables end with
//     a "(total)" row. Keys from the log (entity names come from file names)
//     are shown with control characters escaped, so a hostile name cannot
//     rewrite the terminal.
//
// Pure: strings in, strings out.
#pragma once

#include <cstdint>
#include <string>

#include "src/stats/execution_stats.h"
#include "src/stats/time_window.h"

namespace aw {

struct StatsReportContext {
  const TimeWindow* window = nullptr;  // the bounds shown in the JSON; null = none
  bool failed_only = false;
};

std::string stats_json(const ExecutionStats& stats, const StatsReportContext& context);
std::string stats_table(const ExecutionStats& stats);

// Table units, exposed for tests.
std::string format_stats_ms(double ms);
std::string format_stats_kb(std::int64_t kb);

}  // namespace aw
