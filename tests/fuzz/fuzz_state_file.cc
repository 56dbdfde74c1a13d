// State files: the shared format (src/core/state_file.h parse_state_file), the
// timers' file on it (src/schedule/timer_state_file.h parse_timer_state, both
// versions), and the lifecycle store's journal and snapshot
// (src/state/state_codec.h). Every parser sees every input.
//
// Holds beyond "no crash":
//   - parse_state_file never reports a record beyond the text: records are in
//     line order, after the header, within the text's lines; whole_bytes ends
//     on a '\n' inside the text and is the text's size unless the last line is
//     torn; every line after the header is a record or a problem, once;
//   - a record's fields, written again with state_record(), parse back the
//     same;
//   - timer state that parses serializes to a file that parses to the same
//     file again (a fixed point after one round);
//   - a journal line that decodes encodes to a line that decodes to the same
//     record; replaying a journal accounts for every byte and never counts
//     more records than lines.
#include <string>
#include <vector>

#include "src/core/state_file.h"
#include "src/schedule/timer_state_file.h"
#include "src/state/entity_table.h"
#include "src/state/state_codec.h"
#include "tests/fuzz/fuzz_support.h"

using namespace aw;

namespace {

void check_state_file(std::string_view text, std::string_view kind) {
  auto file = parse_state_file(text, "s", kind);
  if (!file) {
    FUZZ_CHECK(file.error().message.starts_with("s:1: "));
    return;
  }
  const std::size_t lines = fuzz::line_count(text);
  FUZZ_CHECK(file->whole_bytes >= 1 && file->whole_bytes <= text.size());
  FUZZ_CHECK(text[file->whole_bytes - 1] == '\n');
  FUZZ_CHECK(file->torn_tail == (file->whole_bytes < text.size()));
  // Lines after the header: whole ones, plus a torn last one.
  std::size_t body_lines = 0;
  for (std::size_t i = text.find('\n') + 1; i < text.size(); ++i) body_lines += text[i] == '\n';
  if (file->torn_tail) ++body_lines;
  FUZZ_CHECK(file->records.size() + file->problems.size() == body_lines);
  std::size_t last = 1;
  for (const StateRecord& r : file->records) {
    FUZZ_CHECK(r.line > last && r.line <= lines);
    last = r.line;
    FUZZ_CHECK(!r.fields.empty());
    const std::string again_text = state_file_header(kind) + state_record(r.fields);
    auto again = parse_state_file(again_text, "s", kind);
    FUZZ_CHECK(again.ok());
    FUZZ_CHECK(again->problems.empty());
    FUZZ_CHECK(again->records.size() == 1);
    FUZZ_CHECK(again->records[0].fields == r.fields);
  }
}

void check_timers(std::string_view text) {
  auto records = parse_timer_state(text, "timers");
  if (!records) return;
  const std::string once = serialize_timer_state(*records);
  auto again = parse_timer_state(once, "timers");
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(again->size() == records->size());
  FUZZ_CHECK(serialize_timer_state(*again) == once);
}

void check_journal(std::string_view text) {
  std::size_t complete = 0;
  for (std::size_t start = 0;;) {
    const std::size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) break;
    ++complete;
    const std::string_view line = text.substr(start, nl - start);
    start = nl + 1;
    auto record = decode_journal_record(line);
    if (!record) continue;
    const std::string once = encode_journal_record(record->seq, record->mutation);
    FUZZ_CHECK(!once.empty() && once.back() == '\n');
    FUZZ_CHECK(once.find('\n') == once.size() - 1);
    auto again = decode_journal_record(std::string_view(once).substr(0, once.size() - 1));
    FUZZ_CHECK(again.ok());
    FUZZ_CHECK(encode_journal_record(again->seq, again->mutation) == once);
  }
  EntityTable table;
  const JournalReplayReport r = replay_journal(text, 3, table);
  FUZZ_CHECK(r.lines == complete);
  FUZZ_CHECK(r.valid_bytes + r.torn_tail_bytes == text.size());
  FUZZ_CHECK(r.applied + r.skipped_old + r.corrupt + r.unapplied + r.out_of_order <= r.lines);
  FUZZ_CHECK(r.problems.size() <= JournalReplayReport::kMaxProblems);
  FUZZ_CHECK(r.problem_count >= r.problems.size());
  FUZZ_CHECK(table.size() <= r.applied);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = fuzz::as_text(data, size);
  check_state_file(text, "timers");
  check_state_file(text, "log-offsets");
  check_state_file(text, "file-index");
  check_timers(text);
  check_journal(text);
  (void)decode_snapshot(text);
  return 0;
}
