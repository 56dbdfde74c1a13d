// PID files and /proc answers: parse_pid_text (src/supervise/pid_file_reader.h),
// parse_identity / format_identity, parse_stat_start_ticks, parse_stat_state
// and judge_pid_file (src/supervise/process_identity.h).
//
// Input: line 1 a PID file's text, line 2 an identity ("pid=1 start=2 exe=/x"),
// the rest a /proc/PID/stat line. The whole input is also tried as a PID file.
//
// Holds beyond "no crash":
//   - a PID parsed from a file is positive, written in the file, and reads
//     back from its own decimal form;
//   - an identity that parses formats to text that parses to the same identity;
//   - a stat line built around any command name (line 2: spaces, ')' and all)
//     gives back the start time and state put in it: the name cannot forge
//     fields;
//   - judge_pid_file on the stat text gives a verdict with evidence and a reason.
#include <string>

#include "src/supervise/pid_file_reader.h"
#include "src/supervise/process_identity.h"
#include "tests/fuzz/fuzz_support.h"

using namespace aw;

namespace {

void check_pid_text(std::string_view text) {
  const pid_t pid = parse_pid_text(text);
  FUZZ_CHECK(pid >= 0);
  if (pid == 0) return;
  const std::string digits = std::to_string(pid);
  FUZZ_CHECK(text.find(digits) != std::string_view::npos);
  FUZZ_CHECK(parse_pid_text(digits) == pid);
  FUZZ_CHECK(parse_pid_text(" " + digits + "\n") == pid);
}

void check_identity(std::string_view text) {
  const auto id = parse_identity(text);
  if (!id) return;
  FUZZ_CHECK(id->pid > 0);
  const auto again = parse_identity(format_identity(*id));
  FUZZ_CHECK(again.has_value());
  FUZZ_CHECK(*again == *id);
}

// A stat line as the kernel writes it, with `comm` as the command name.
void check_stat_framing(std::string_view comm, std::uint64_t ticks) {
  std::string stat = "4242 (" + std::string(comm.substr(0, 64)) + ") S";
  for (int field = 4; field <= 21; ++field) stat += " " + std::to_string(field * 3);
  stat += " " + std::to_string(ticks) + " 123456 789 18446744073709551615 1 2 3\n";
  const auto got = parse_stat_start_ticks(stat);
  FUZZ_CHECK(got.ok());
  FUZZ_CHECK(*got == ticks);
  const auto state = parse_stat_state(stat);
  FUZZ_CHECK(state.ok());
  FUZZ_CHECK(*state == 'S');
}

void check_stat(std::string_view stat, std::string_view exe) {
  const auto ticks = parse_stat_start_ticks(stat);
  const auto state = parse_stat_state(stat);
  if (ticks) FUZZ_CHECK(stat.rfind(')') != std::string_view::npos);
  // Start ticks beyond 2^38 (87 years of uptime at 100 Hz) never come from the
  // kernel, and process_start_time's nanosecond arithmetic overflows for ones
  // near 2^40: judge only what /proc can say.
  if (ticks && *ticks > (std::uint64_t{1} << 38)) return;
  const WallTime boot{std::chrono::seconds(1'700'000'000)};
  const WallTime written = boot + std::chrono::hours(1);
  const ProcAnswers proc{std::string(stat), std::string(exe), boot};
  const PidFileJudgement j = judge_pid_file(PidFileClaim{4242, written}, proc, "/usr/bin/sleep",
                                            written + std::chrono::seconds(5));
  FUZZ_CHECK(!j.reason.empty());
  FUZZ_CHECK(!j.evidence.empty());
  FUZZ_CHECK(j.seen.pid == 4242);
  if (!ticks || !state) FUZZ_CHECK(j.verdict == PidFileVerdict::kUnverifiable);
  if (j.verdict == PidFileVerdict::kPlausible) FUZZ_CHECK(ticks && *ticks == j.seen.start_ticks);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = fuzz::as_text(data, size);
  const auto parts = fuzz::split_lines(text, 3);
  check_pid_text(text);
  check_pid_text(parts[0]);
  check_identity(parts[1]);
  std::uint64_t ticks = 0;
  for (char c : parts[0]) ticks = ticks * 31 + static_cast<unsigned char>(c);
  check_stat_framing(parts[1], ticks);
  check_stat(parts[2], parts[1]);
  return 0;
}
