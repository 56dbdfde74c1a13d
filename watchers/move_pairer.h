// MovePairer: pairs inotify's IN_MOVED_FROM with its IN_MOVED_TO by cookie
// (the rename half of DirWatcher, issue #9).
//
// A rename inside the watched roots is two records with the same cookie, read
// from the same inotify fd, or from two fds when it crosses roots (cookies are
// global). The first half waits here until the second arrives (a rename, with
// `from`) or its deadline passes (moved out of the roots). A move into the
// roots has no first half: moved_to() finds nothing.
//
// While a directory's move is unresolved, records from inside it are
// ambiguous (its watches report under the old path): hides() tells the shell
// to skip them; the scan that follows the pair (or the removal after the
// deadline) accounts for them.
//
// Pure: no libuv, no system calls; time is the `now` the caller passes, and
// next_deadline() is what the caller's one alarm waits for.
//
// Thread safety: none; one owner.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "src/core/clock.h"

namespace aw {

struct PendingMove {
  std::size_t root = 0;        // the shell's root index
  std::uint64_t root_gen = 0;  // the root's generation then: a stale move is dropped
  std::string rel;             // where it was, relative to the root
  bool is_dir = false;
  // A directory whose records are hidden until the pair resolves (a visible,
  // not ignored, directory).
  bool hides_subtree = false;
  MonoTime deadline{};
};

class MovePairer {
 public:
  explicit MovePairer(Duration window) : window_(window) {}

  // The first half of a rename: waits `window` from `now` for its second half.
  // The same cookie again replaces the older half.
  void moved_from(std::uint32_t cookie, PendingMove move, MonoTime now);
  // The second half: the first one, taken out, or nullopt (cookie 0, unknown,
  // or already expired).
  std::optional<PendingMove> moved_to(std::uint32_t cookie);
  // Takes out every move whose deadline is at or before `now`, earliest first
  // (ties by rel): each was moved out of the roots.
  std::vector<PendingMove> expire(MonoTime now);
  // True when `dir_rel` of that root (generation) is, or lies below, a
  // directory whose move is unresolved.
  bool hides(std::size_t root, std::uint64_t root_gen, std::string_view dir_rel) const;

  std::optional<MonoTime> next_deadline() const;
  bool empty() const { return pending_.empty(); }
  std::size_t size() const { return pending_.size(); }
  void clear() {
    pending_.clear();
    hiding_ = 0;
  }

 private:
  Duration window_;
  std::unordered_map<std::uint32_t, PendingMove> pending_;  // by cookie
  std::size_t hiding_ = 0;  // entries with hides_subtree: hides() is free when 0
};

}  // namespace aw
