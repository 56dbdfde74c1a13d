// LineSplitter: bytes read from a log file → whole lines (pure; STYLE §3).
//
// A tailer reads whatever the writer has written so far, which usually ends in
// the middle of a line. The splitter hands out every line whose '\n' has
// arrived and holds the unterminated tail until the rest comes in the next
// feed. The hold is bounded: a line longer than `max_line_bytes` is handed out
// at once, cut to `max_line_bytes` and flagged truncated, and the rest of it is
// skipped up to (and including) its '\n', so one runaway writer cannot make the
// daemon buffer without limit.
//
// Lines are handed out without their '\n', byte for byte otherwise (a CRLF
// writer's '\r' stays, as grep leaves it: a pattern ending in `$` then needs
// `\r?$`). A line of exactly `max_line_bytes` bytes is not truncated.
//
// Zero copy where it can be: a line that lies wholly inside one feed is passed
// as a view into the caller's buffer; only a held tail is copied.
//
// Thread safety: none; one owner.
#pragma once

#include <cstddef>
#include <cstring>
#include <string>
#include <string_view>

namespace aw {

class LineSplitter {
 public:
  explicit LineSplitter(std::size_t max_line_bytes)
      : max_(max_line_bytes == 0 ? 1 : max_line_bytes) {}

  // Splits `bytes`, calling `on_line(std::string_view line, bool truncated)`
  // for each line completed (or cut) by them, in order. The view is valid only
  // during the call.
  template <class OnLine>
  void feed(std::string_view bytes, OnLine&& on_line);

  // Bytes of the current, unterminated line held in memory (0 while skipping).
  std::size_t held() const { return held_.size(); }
  // True while the rest of a truncated line is being dropped.
  bool skipping() const { return skipping_; }
  // Drops everything up to and including the next '\n' (used when tailing
  // starts in the middle of a line, or resumes inside a truncated one).
  void skip_to_newline() {
    held_.clear();
    skipping_ = true;
  }
  // Hands out the held tail as a line (the file ended without its '\n', e.g. it
  // was rotated away or truncated) and forgets any skip. Returns false when
  // nothing was held.
  template <class OnLine>
  bool flush(OnLine&& on_line);
  void reset() {
    held_.clear();
    skipping_ = false;
  }
  std::size_t max_line_bytes() const { return max_; }

 private:
  std::size_t max_;
  std::string held_;
  bool skipping_ = false;
};

template <class OnLine>
void LineSplitter::feed(std::string_view bytes, OnLine&& on_line) {
  while (!bytes.empty()) {
    const void* nl = std::memchr(bytes.data(), '\n', bytes.size());
    const std::size_t upto =
        nl ? static_cast<std::size_t>(static_cast<const char*>(nl) - bytes.data()) : bytes.size();
    if (skipping_) {
      if (!nl) return;  // all of it belongs to the line being skipped
      skipping_ = false;
      bytes.remove_prefix(upto + 1);
      continue;
    }
    if (nl) {
      if (held_.empty()) {
        if (upto <= max_) {
          on_line(bytes.substr(0, upto), false);
        } else {
          on_line(bytes.substr(0, max_), true);
        }
      } else if (held_.size() + upto <= max_) {
        held_.append(bytes.data(), upto);
        on_line(std::string_view(held_), false);
        held_.clear();
      } else {
        held_.append(bytes.data(), max_ - held_.size());
        on_line(std::string_view(held_), true);
        held_.clear();
      }
      bytes.remove_prefix(upto + 1);
      continue;
    }
    // No '\n' in the rest: hold it, or cut the line once it is over the limit
    // (max_ + 1 bytes without a '\n' cannot become a line of max_ bytes).
    if (held_.size() + upto <= max_) {
      held_.append(bytes.data(), upto);
      return;
    }
    held_.append(bytes.data(), max_ - held_.size());
    on_line(std::string_view(held_), true);
    held_.clear();
    skipping_ = true;
    return;
  }
}

template <class OnLine>
bool LineSplitter::flush(OnLine&& on_line) {
  skipping_ = false;
  if (held_.empty()) return false;
  on_line(std::string_view(held_), false);
  held_.clear();
  return true;
}

}  // namespace aw
