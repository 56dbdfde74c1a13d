#include "src/core/glob.h"

#include <cstdint>
#include <vector>

namespace aw {
namespace {

// The (pattern position, text position) starts of what follows a "**" that
// failed: each is tried once, so matching takes polynomial time however many
// "**" a pattern holds (it was exponential in their number: "a/****/b" against
// a long path did not finish). Short patterns and texts use the inline bits:
// no allocation.
class FailedStarts {
 public:
  FailedStarts(std::size_t pattern_size, std::size_t text_size) : width_(text_size + 1) {
    const std::size_t bits = (pattern_size + 1) * width_;
    if (bits > kInlineBits) heap_.assign((bits + 63) / 64, 0);
  }
  bool has(std::size_t pi, std::size_t ti) const {
    const std::size_t i = pi * width_ + ti;
    return (words()[i / 64] >> (i % 64)) & 1;
  }
  void add(std::size_t pi, std::size_t ti) {
    const std::size_t i = pi * width_ + ti;
    words()[i / 64] |= std::uint64_t{1} << (i % 64);
  }

 private:
  static constexpr std::size_t kInlineBits = 8192;
  const std::uint64_t* words() const { return heap_.empty() ? inline_ : heap_.data(); }
  std::uint64_t* words() { return heap_.empty() ? inline_ : heap_.data(); }
  std::size_t width_;
  std::uint64_t inline_[kInlineBits / 64] = {};
  std::vector<std::uint64_t> heap_;
};

// Matches a class starting at p[pi] == '['. Returns the index after ']' and sets
// `matched`. The pattern was validated at compile time, so ']' exists.
std::size_t match_class(std::string_view p, std::size_t pi, char c, bool& matched) {
  ++pi;  // past '['
  bool negate = false;
  if (pi < p.size() && (p[pi] == '!' || p[pi] == '^')) {
    negate = true;
    ++pi;
  }
  bool hit = false;
  bool first = true;
  while (pi < p.size() && (first || p[pi] != ']')) {
    first = false;
    char lo = p[pi];
    if (lo == '\\' && pi + 1 < p.size()) lo = p[++pi];
    char hi = lo;
    if (pi + 2 < p.size() && p[pi + 1] == '-' && p[pi + 2] != ']') {
      hi = p[pi + 2];
      if (hi == '\\' && pi + 3 < p.size()) hi = p[++pi + 2];
      pi += 2;
    }
    if (c >= lo && c <= hi) hit = true;
    ++pi;
  }
  matched = hit != negate;
  return pi + 1;  // past ']'
}

// Iterative matcher with single-star backtracking, and recursion only for "**"
// (path mode: `failed` is then set).
bool match_from(std::string_view p, std::size_t pi, std::string_view t, std::size_t ti,
                bool path_mode, FailedStarts* failed) {
  std::size_t star_p = std::string_view::npos, star_t = 0;
  while (ti < t.size() || pi < p.size()) {
    if (pi < p.size()) {
      char pc = p[pi];
      if (pc == '*') {
        bool dbl = pi + 1 < p.size() && p[pi + 1] == '*';
        if (dbl && path_mode) {
          std::size_t next = pi + 2;
          auto from = [&](std::size_t q, std::size_t k) {
            if (failed->has(q, k)) return false;
            if (match_from(p, q, t, k, path_mode, failed)) return true;
            failed->add(q, k);
            return false;
          };
          // "a/**/b" may match "a/b": let "**/" match nothing.
          if (next < p.size() && p[next] == '/' && from(next + 1, ti)) return true;
          // Row pi + 1 (inside this "**": never a start) marks where this loop
          // failed from: it fails from any later position too, so each text
          // position is tried once per "**".
          std::size_t k = ti;
          for (; k <= t.size() && !failed->has(pi + 1, k); ++k)
            if (from(next, k)) return true;
          for (std::size_t j = ti; j < k; ++j) failed->add(pi + 1, j);
          return false;
        }
        while (pi < p.size() && p[pi] == '*') ++pi;
        star_p = pi;
        star_t = ti;
        continue;
      }
      if (ti < t.size()) {
        char tc = t[ti];
        if (pc == '?') {
          if (!(path_mode && tc == '/')) {
            ++pi, ++ti;
            continue;
          }
        } else if (pc == '[') {
          bool hit = false;
          std::size_t after = match_class(p, pi, tc, hit);
          if (hit && !(path_mode && tc == '/')) {
            pi = after, ++ti;
            continue;
          }
        } else {
          char lit = pc;
          std::size_t step = 1;
          if (pc == '\\' && pi + 1 < p.size()) lit = p[pi + 1], step = 2;
          if (lit == tc) {
            pi += step, ++ti;
            continue;
          }
        }
      }
    }
    // Mismatch: let the last single star eat one more character (not '/' in path mode).
    if (star_p != std::string_view::npos && star_t < t.size() && !(path_mode && t[star_t] == '/')) {
      ++star_t;
      pi = star_p;
      ti = star_t;
      continue;
    }
    return false;
  }
  return true;
}

}  // namespace

Result<Glob> Glob::compile(std::string_view pattern, GlobMode mode) {
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '\\') {
      if (i + 1 == pattern.size())
        return make_error("dangling '\\' at column " + std::to_string(i + 1) + " of glob \"" +
                          std::string(pattern) + "\"");
      ++i;
    } else if (pattern[i] == '[') {
      std::size_t j = i + 1;
      if (j < pattern.size() && (pattern[j] == '!' || pattern[j] == '^')) ++j;
      if (j < pattern.size() && pattern[j] == ']') ++j;  // leading ']' is literal
      while (j < pattern.size() && pattern[j] != ']') {
        if (pattern[j] == '\\') ++j;
        ++j;
      }
      if (j >= pattern.size())
        return make_error("unclosed '[' at column " + std::to_string(i + 1) + " of glob \"" +
                          std::string(pattern) + "\" (expected a closing ']')");
      i = j;
    }
  }
  return Glob(std::string(pattern), mode);
}

bool Glob::matches(std::string_view text) const {
  if (mode_ == GlobMode::kPath && pattern_.find("**") != std::string::npos) {
    FailedStarts failed(pattern_.size(), text.size());
    return match_from(pattern_, 0, text, 0, true, &failed);
  }
  return match_from(pattern_, 0, text, 0, mode_ == GlobMode::kPath, nullptr);
}

}  // namespace aw
