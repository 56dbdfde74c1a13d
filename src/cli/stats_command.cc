#include "src/cli/stats_command.h"

#include <sys/stat.h>

#include <ostream>
#include <string>

#include "src/cli/events_command.h"
#include "src/eventlog/event_log_reader.h"
#include "src/stats/execution_stats.h"
#include "src/stats/stats_report.h"
#include "src/stats/time_window.h"

namespace aw {
namespace {

// --since and --until take what `events --since` takes, parsed by its parser;
// only the option named in the message differs.
Result<WallTime> parse_bound(std::string_view option, std::string_view text, WallTime now) {
  auto t = parse_since(text, now);
  if (t) return t;
  std::string message = t.error().message;
  constexpr std::string_view kSince = "--since";
  if (option != kSince && message.starts_with(kSince))
    message.replace(0, kSince.size(), std::string(option));
  return make_error(std::move(message));
}

}  // namespace

int stats_command(const StatsOptions& options, std::ostream& out, std::ostream& err) {
  StatsGroupBy group_by = StatsGroupBy::kNone;
  if (options.group_by) {
    const auto g = parse_stats_group_by(*options.group_by);
    if (!g) {
      err << "agentwatch stats: --group-by \"" << *options.group_by << "\": expected one of "
          << kStatsGroupByChoices << "\n";
      return 2;
    }
    group_by = *g;
  }
  std::optional<WallTime> since, until;
  const WallTime now = options.now ? *options.now : SystemClock().wall();
  auto bound = [&](std::string_view option, const std::optional<std::string>& text,
                   std::optional<WallTime>& into) {
    if (!text) return true;
    auto t = parse_bound(option, *text, now);
    if (!t) {
      err << "agentwatch stats: " << t.error().message << "\n";
      return false;
    }
    into = *t;
    return true;
  };
  if (!bound("--since", options.since, since) || !bound("--until", options.until, until)) return 2;
  if (since && until && *since > *until) {
    // Most likely swapped: "--since 1h --until 2h" is an empty window, not a question.
    err << "agentwatch stats: --since \"" << *options.since << "\" is after --until \""
        << *options.until << "\": expected --since before --until\n";
    return 2;
  }
  if (options.state_dir.empty()) {
    err << "agentwatch stats: no state dir given\n";
    return 2;
  }

  const TimeWindow window(since, until);
  const bool bounded = window.bounded();
  ExecutionStats stats(group_by);
  EventLogReader reader(options.state_dir);
  // The hot path: the reader parses only outcomes (the others are told by
  // their line's head), and decoding copies nothing.
  reader.set_kind_filter(is_execution_kind);
  const auto visit = [&](const LogRecord& record) {
    if (!is_execution_kind(record.kind)) return true;
    const std::optional<Execution> e = decode_execution(record.kind, record.object);
    if (!e || (options.failed && !e->failed) || (bounded && !window.contains(e->time))) return true;
    stats.add(*e);
    return true;
  };

  struct stat st;
  if (::stat(options.state_dir.c_str(), &st) != 0)
    err << "agentwatch stats: no event log yet (" << options.state_dir << " does not exist)\n";
  const Status status = reader.read_history(visit);

  const EventLogReaderStats& read = reader.stats();
  if (read.corrupt_lines > 0) {
    err << "agentwatch stats: skipped " << read.corrupt_lines
        << " corrupt line(s) (not a JSON event; first at " << read.first_corrupt << ")\n";
  }
  if (!status) {
    err << "agentwatch stats: " << status.error().message << "\n";
    return 1;
  }
  if (options.json)
    out << stats_json(stats, StatsReportContext{&window, options.failed});
  else
    out << stats_table(stats);
  out.flush();
  return 0;
}

}  // namespace aw
