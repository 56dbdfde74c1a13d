// Shared by the libFuzzer targets in this directory (docs/fuzzing.md).
//
// FUZZ_CHECK states what must hold beyond "no crash": it aborts with the
// condition and its place, whatever NDEBUG says, so libFuzzer saves the input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

#define FUZZ_CHECK(cond) \
  ((cond) ? static_cast<void>(0) : ::aw::fuzz::check_failed(#cond, __FILE__, __LINE__))

namespace aw::fuzz {

[[noreturn]] inline void check_failed(const char* what, const char* file, int line) {
  std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", file, line, what);
  std::abort();
}

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// The input cut at its first `parts - 1` newlines (the last part keeps the
// rest, newlines included); missing parts are empty. Seeds stay readable:
// one line per leading part.
inline std::vector<std::string_view> split_lines(std::string_view text, std::size_t parts) {
  std::vector<std::string_view> out;
  while (out.size() + 1 < parts) {
    const std::size_t nl = text.find('\n');
    if (nl == std::string_view::npos) break;
    out.push_back(text.substr(0, nl));
    text.remove_prefix(nl + 1);
  }
  out.push_back(text);
  out.resize(parts);
  return out;
}

// A framed protocol line (a request or reply we encoded): it must end with
// '\n' and hold no other; returns it without that '\n'.
inline std::string_view without_newline(std::string_view line) {
  FUZZ_CHECK(!line.empty() && line.back() == '\n');
  line.remove_suffix(1);
  FUZZ_CHECK(line.find('\n') == std::string_view::npos);
  return line;
}

// 1 + the number of '\n' in `text`: the last line a position may name.
inline std::size_t line_count(std::string_view text) {
  std::size_t n = 1;
  for (char c : text) n += c == '\n';
  return n;
}

// Bytes a terminal acts on: C0 controls, DEL, and C1 controls (U+0080..U+009F,
// UTF-8 C2 80..C2 9F).
inline bool has_terminal_control(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7F) return true;
    if (c == 0xC2 && i + 1 < s.size()) {
      const auto d = static_cast<unsigned char>(s[i + 1]);
      if (d >= 0x80 && d <= 0x9F) return true;
    }
  }
  return false;
}

}  // namespace aw::fuzz
