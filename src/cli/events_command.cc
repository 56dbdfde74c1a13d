#include "src/cli/events_command.h"

#include <sys/stat.h>
#include <unistd.h>

#include <iostream>
#include <ostream>

#include "src/core/duration.h"
#include "src/core/event.h"
#include "src/eventlog/event_filter.h"
#include "src/eventlog/event_format.h"
#include "src/eventlog/event_log_reader.h"
#include "src/os/environ.h"

namespace aw {

Result<WallTime> parse_since(std::string_view text, WallTime now) {
  if (auto d = parse_duration(text)) return now - *d;
  if (auto t = parse_time_utc(text)) return *t;
  return make_error("--since \"" + std::string(text) +
                    "\": expected a duration before now (90s, 10m, 1h30m, 7d) or a time "
                    "(2026-11-22T11:20:00Z, 2026-11-22T12:20:00+01:00, 2026-11-22)");
}

int events_command(const EventsOptions& options, std::ostream& out, std::ostream& err) {
  EventFilterSpec spec;
  spec.kinds = options.kinds;
  spec.entity = options.entity;
  spec.failed_only = options.failed;
  if (options.since) {
    const WallTime now = options.now ? *options.now : SystemClock().wall();
    auto since = parse_since(*options.since, now);
    if (!since) {
      err << "agentwatch events: " << since.error().message << "\n";
      return 2;
    }
    spec.since = *since;
  }
  auto filter = EventFilter::compile(spec);
  if (!filter) {
    err << "agentwatch events: " << filter.error().message << "\n";
    return 2;
  }
  if (options.state_dir.empty()) {
    err << "agentwatch events: no state dir given\n";
    return 2;
  }

  const bool color =
      options.color.value_or(&out == &std::cout && ::isatty(STDOUT_FILENO) && !env_var("NO_COLOR"));
  const EventFormatOptions format{color};
  std::size_t printed = 0;
  if (options.limit && *options.limit == 0) return 0;

  EventLogReader reader(options.state_dir);
  auto visit = [&](const LogRecord& record) {
    if (!filter->matches(record)) return true;
    if (options.json) {
      out << record.line << '\n';
    } else if (auto event = parse_event_json(record.line)) {
      out << format_event_line(*event, format) << '\n';
    } else {
      // JSON with a kind, but not our schema (hand-edited?): show it as it is.
      out << "?  " << record.line << "  (" << record.file << ":" << record.line_number << ": "
          << event.error().message << ")\n";
    }
    ++printed;
    return !options.limit || printed < *options.limit;
  };

  Status status;
  if (options.follow) {
    FollowControl control;
    // Called after every batch: the right moment to flush for `events -f | grep`.
    control.stop = [&] {
      out.flush();
      return options.stop && options.stop();
    };
    status = reader.follow(visit, control);
  } else {
    struct stat st;
    if (::stat(options.state_dir.c_str(), &st) != 0)
      err << "agentwatch events: no event log yet (" << options.state_dir << " does not exist)\n";
    status = reader.read_history(visit);
  }
  out.flush();

  const EventLogReaderStats& stats = reader.stats();
  if (stats.corrupt_lines > 0) {
    err << "agentwatch events: skipped " << stats.corrupt_lines
        << " corrupt line(s) (not a JSON event; first at " << stats.first_corrupt << ")\n";
  }
  if (!status) {
    err << "agentwatch events: " << status.error().message << "\n";
    return 1;
  }
  return 0;
}

}  // namespace aw
