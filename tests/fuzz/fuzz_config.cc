// agentwatch.toml (src/daemon/config.h parse_daemon_config) and its
// [[worker]] sections read alone (src/supervise/worker_spec.h
// parse_worker_specs_from_string).
//
// Holds beyond "no crash":
//   - every line of an error names the file and a line within the text;
//   - a config that parses has workers with distinct, non-empty names, and the
//     [[worker]] array read alone parses too, to the same workers;
//   - the config's worker list, read alone, fails only when the config fails.
#include <string>
#include <vector>

#include "src/daemon/config.h"
#include "src/supervise/worker_spec.h"
#include "tests/fuzz/fuzz_support.h"

using namespace aw;

namespace {

constexpr std::string_view kFile = "agentwatch.toml";

// "agentwatch.toml:LINE:COLUMN: error: ..." or "agentwatch.toml: error: ...", one per line.
void check_error_text(const std::string& message, std::size_t lines) {
  FUZZ_CHECK(!message.empty());
  std::string_view rest = message;
  while (!rest.empty()) {
    const std::size_t nl = rest.find('\n');
    const std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
    if (!line.starts_with(kFile))
      std::fprintf(stderr, "not a positioned error: %.*s\n", static_cast<int>(line.size()),
                   line.data());
    FUZZ_CHECK(line.starts_with(kFile));
    const std::string_view after = line.substr(kFile.size());
    FUZZ_CHECK(after.starts_with(":"));
    if (after.starts_with(": error: ")) continue;
    std::size_t n = 0;
    std::size_t i = 1;
    while (i < after.size() && after[i] >= '0' && after[i] <= '9' && n <= lines)
      n = n * 10 + static_cast<std::size_t>(after[i++] - '0');
    FUZZ_CHECK(i > 1);
    FUZZ_CHECK(n >= 1 && n <= lines);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = fuzz::as_text(data, size);
  const std::size_t lines = fuzz::line_count(text);

  auto config = parse_daemon_config(text, std::string(kFile));
  auto workers = parse_worker_specs_from_string(text, std::string(kFile));
  if (!config) check_error_text(config.error().message, lines);
  if (!workers) {
    check_error_text(workers.error().message, lines);
    FUZZ_CHECK(!config.ok());
    return 0;
  }
  if (!config) return 0;

  FUZZ_CHECK(config->workers.size() == workers->size());
  for (std::size_t i = 0; i < workers->size(); ++i) {
    const WorkerSpec& w = (*workers)[i];
    FUZZ_CHECK(!w.name.empty());
    FUZZ_CHECK(w.name == config->workers[i].name);
    FUZZ_CHECK(w.argv == config->workers[i].argv);
    FUZZ_CHECK(w.line >= 1 && w.line <= lines);
    for (std::size_t j = 0; j < i; ++j) FUZZ_CHECK((*workers)[j].name != w.name);
  }
  return 0;
}
