// LineScanner: chunks of a log file → lines → which patterns each matches
// (pure). It joins a LineSplitter to a LineMatcher the way grep reads a file:
// the matcher's block prefilter runs over all the whole lines a chunk holds
// at once, and the per-line Set only where the prefilter stops. Every line is
// still handed out (for counting and line numbers), with an empty hit list
// when it matches nothing.
//
// Lines that are not a plain view into the chunk (assembled from a held tail,
// or cut because they were too long: the prefilter saw the whole line, the
// Set must see the cut one) always go through the Set.
//
// Ownership and threads: borrows the matcher, which must outlive the scanner;
// one owner, not thread-safe.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "src/core/line_splitter.h"
#include "watchers/logtail/line_matcher.h"

namespace aw {

class LineScanner {
 public:
  LineScanner(const LineMatcher& matcher, std::size_t max_line_bytes)
      : matcher_(matcher), splitter_(max_line_bytes) {}

  // Calls `on_line(std::string_view line, bool truncated, const std::vector<int>& hits)`
  // for every line `chunk` completes or cuts, in order; `hits` are the
  // indices of the patterns the line matches (ascending), valid during the call.
  template <class OnLine>
  void feed(std::string_view chunk, OnLine&& on_line);
  // Hands out the held tail, if any, as a line (see LineSplitter::flush).
  template <class OnLine>
  bool flush(OnLine&& on_line);

  LineSplitter& splitter() { return splitter_; }
  const LineSplitter& splitter() const { return splitter_; }
  // Lines that went through the per-line Set (the rest the prefilter ruled out).
  std::uint64_t lines_matched_one_by_one() const { return set_runs_; }

 private:
  const LineMatcher& matcher_;
  LineSplitter splitter_;
  std::vector<int> hits_;
  const std::vector<int> no_hits_;
  std::uint64_t set_runs_ = 0;
};

template <class OnLine>
void LineScanner::feed(std::string_view chunk, OnLine&& on_line) {
  // The block: the whole lines that lie entirely inside `chunk` (not the tail
  // of a line held from the previous chunk, not an unterminated last line).
  const char* const base = chunk.data();
  std::size_t start = 0;
  if (splitter_.held() > 0 || splitter_.skipping()) {
    const void* nl = std::memchr(base, '\n', chunk.size());
    start = nl ? static_cast<std::size_t>(static_cast<const char*>(nl) - base) + 1 : chunk.size();
  }
  const void* last =
      start < chunk.size() ? memrchr(base + start, '\n', chunk.size() - start) : nullptr;
  const std::size_t end =
      last ? static_cast<std::size_t>(static_cast<const char*>(last) - base) + 1 : start;
  const std::string_view block = chunk.substr(start, end - start);
  const auto block_lo = reinterpret_cast<std::uintptr_t>(block.data());
  const auto block_hi = block_lo + block.size();

  std::size_t candidate = 0;  // start (in block) of the next line that may match
  bool candidate_known = false;
  splitter_.feed(chunk, [&](std::string_view line, bool truncated) {
    const auto p = reinterpret_cast<std::uintptr_t>(line.data());
    if (!truncated && !block.empty() && p >= block_lo && p < block_hi) {
      const std::size_t off = p - block_lo;
      if (!candidate_known) {
        candidate = matcher_.next_candidate(block, off);
        candidate_known = true;
      }
      if (off < candidate) {
        on_line(line, false, no_hits_);
        return;
      }
      candidate_known = false;  // found again from the next line on
    }
    ++set_runs_;
    matcher_.match(line, hits_);
    on_line(line, truncated, hits_);
  });
}

template <class OnLine>
bool LineScanner::flush(OnLine&& on_line) {
  return splitter_.flush([&](std::string_view line, bool truncated) {
    ++set_runs_;
    matcher_.match(line, hits_);
    on_line(line, truncated, hits_);
  });
}

}  // namespace aw
