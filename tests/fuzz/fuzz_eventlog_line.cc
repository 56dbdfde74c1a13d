// Event-log lines: the input is the live events.jsonl of a state dir, read by
// the real EventLogReader (src/eventlog/event_log_reader.h: line framing, the
// per-line JSON check; one reader for every input, as a follower keeps one);
// each record then goes where `agentwatch events` sends it: parse_event_json
// (src/core/event.h), EventFilter (both overloads) and format_event_line.
//
// Holds beyond "no crash":
//   - every record is exactly one complete line of the input, at its line
//     number, in order; records + corrupt lines + blank lines = complete lines;
//     the bytes after the last '\n' are never a record (history mode);
//   - record.kind is the line's "kind" string;
//   - a line that parses as an Event re-serializes (to_json_line) to one line
//     that parses again and re-serializes to the same bytes;
//   - on that canonical line (what the writer writes), EventFilter::matches
//     gives the same answer for the LogRecord and for the Event, for a set of
//     filters (kinds, since, entity, failed);
//   - the readable line has no byte a terminal would act on.
#include <fcntl.h>
#include <simdjson.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "src/core/event.h"
#include "src/eventlog/event_filter.h"
#include "src/eventlog/event_format.h"
#include "src/eventlog/event_log_reader.h"
#include "tests/fuzz/fuzz_support.h"

using namespace aw;

namespace {

std::string g_dir;

void remove_dir() {
  ::unlink((g_dir + "/events.jsonl").c_str());
  ::rmdir(g_dir.c_str());
}

const std::string& state_dir() {
  if (g_dir.empty()) {
    // tmpfs when there is one: the file is rewritten for every input.
    const char* tmp = std::getenv("TMPDIR");
    const std::string base = ::access("/dev/shm", W_OK) == 0 ? "/dev/shm"
                             : tmp && *tmp                   ? tmp
                                                             : "/tmp";
    std::string tmpl = base + "/aw-fuzz-eventlog-XXXXXX";
    if (!::mkdtemp(tmpl.data())) fuzz::check_failed("mkdtemp", __FILE__, __LINE__);
    g_dir = tmpl;
    std::atexit(remove_dir);
  }
  return g_dir;
}

void write_live_log(std::string_view text) {
  const std::string path = state_dir() + "/events.jsonl";
  // A new file each time: truncating one makes ext4 flush it on close.
  ::unlink(path.c_str());
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  FUZZ_CHECK(fd >= 0);
  FUZZ_CHECK(::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  ::close(fd);
}

const std::vector<EventFilter>& filters() {
  static const std::vector<EventFilter> all = [] {
    std::vector<EventFilterSpec> specs(6);
    specs[0].kinds = {"file.*"};
    specs[1].kinds = {"*.failed", "action.*"};
    specs[1].failed_only = true;
    specs[2].entity = "w[0-9]*";
    specs[3].since = parse_time_utc("2026-01-02T03:04:05.678Z");
    specs[4].failed_only = true;
    specs[5].kinds = {"*"};
    specs[5].entity = "*";
    specs[5].since = parse_time_utc("1970-01-01T00:00:00.001Z");
    std::vector<EventFilter> out;
    for (const EventFilterSpec& s : specs) out.push_back(std::move(*EventFilter::compile(s)));
    return out;
  }();
  return all;
}

// The canonical line (to_json_line, without '\n') as the reader would hand it out.
void check_filters_agree(const Event& e, std::string_view canonical) {
  static simdjson::dom::parser parser;
  const simdjson::padded_string padded(canonical);
  simdjson::dom::element root;
  simdjson::dom::object object;
  std::string_view kind;
  FUZZ_CHECK(!parser.parse(padded).get(root));
  FUZZ_CHECK(!root.get_object().get(object));
  FUZZ_CHECK(!object["kind"].get_string().get(kind));
  FUZZ_CHECK(kind == e.kind);
  const LogRecord record{canonical, object, kind, "events.jsonl", 1};
  for (const EventFilter& f : filters()) FUZZ_CHECK(f.matches(record) == f.matches(e));
  // And a filter on the event's own kind, taken as a glob (escaped: it matches itself).
  std::string escaped;
  for (char c : e.kind) {
    if (c == '*' || c == '?' || c == '[' || c == '\\') escaped.push_back('\\');
    escaped.push_back(c);
  }
  EventFilterSpec own;
  own.kinds = {escaped};
  auto f = EventFilter::compile(own);
  FUZZ_CHECK(f.ok());
  FUZZ_CHECK(f->matches(record));
  FUZZ_CHECK(f->matches(e));
}

void check_line(std::string_view line) {
  auto event = parse_event_json(line);
  if (!event) return;
  const std::string once = to_json_line(*event);
  FUZZ_CHECK(!once.empty() && once.back() == '\n');
  const std::string_view canonical(once.data(), once.size() - 1);
  FUZZ_CHECK(canonical.find('\n') == std::string_view::npos);
  auto again = parse_event_json(canonical);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(to_json_line(*again) == once);
  check_filters_agree(*again, canonical);
  FUZZ_CHECK(!fuzz::has_terminal_control(format_event_line(*event)));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = fuzz::as_text(data, size);
  std::vector<std::string_view> lines;  // the complete ones
  for (std::size_t start = 0;;) {
    const std::size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) break;
    lines.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  std::size_t blank = 0;
  for (std::string_view l : lines) blank += l.find_first_not_of(" \t\r") == std::string_view::npos;

  write_live_log(text);
  static EventLogReader reader(state_dir());
  const EventLogReaderStats before = reader.stats();
  std::uint64_t last = 0;
  const Status s = reader.read_history([&](const LogRecord& r) {
    FUZZ_CHECK(r.line_number > last && r.line_number <= lines.size());
    last = r.line_number;
    FUZZ_CHECK(r.line == lines[r.line_number - 1]);
    FUZZ_CHECK(r.string_member("kind") == std::optional<std::string_view>(r.kind));
    check_line(r.line);
    return true;
  });
  FUZZ_CHECK(s.ok());
  const EventLogReaderStats& st = reader.stats();
  FUZZ_CHECK((st.records - before.records) + (st.corrupt_lines - before.corrupt_lines) + blank ==
             lines.size());
  return 0;
}
