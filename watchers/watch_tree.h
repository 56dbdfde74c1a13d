// WatchTree: which inotify watch descriptor watches which directory of one
// watch root (the bookkeeping half of DirWatcher, issue #9).
//
// Pure: no libuv, no system calls. It only remembers; adding and removing the
// kernel's watches is the shell's job, and every operation that forgets watches
// returns their descriptors so the shell can inotify_rm_watch them when it
// must (a moved-away directory) and not when the kernel already did (a deleted
// one, IN_IGNORED).
//
// Paths are "rel" strings (beneath_path.h): relative to the root, "" for the
// root itself. Both directions are kept: wd → rel to translate a record, and
// rel → wd ordered by path, so a whole subtree is one range.
//
// Sweeps: a full scan re-adds the watch of every directory it finds. Watches
// not confirmed since the scan began (begin_sweep) belong to directories that
// went away while events were lost (an overflow dropped their IN_IGNORED);
// unconfirmed() lists them.
//
// Thread safety: none; one owner.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace aw {

class WatchTree {
 public:
  // Records that `wd` watches `rel`, confirmed in the current sweep. A wd the
  // kernel hands out again for the same directory under a new path (a rename
  // whose events were lost) moves to the new path.
  void map(int wd, const std::string& rel);
  // Forgets `wd` (IN_IGNORED: the kernel removed it). Unknown wds are ignored.
  void unmap(int wd);
  // The directory `wd` watches, or nullptr for a wd we no longer know (valid
  // until the next change to the tree).
  const std::string* rel_of(int wd) const;
  bool watches(std::string_view rel) const { return wd_of_.find(rel) != wd_of_.end(); }

  // Forgets `rel` and every directory below it, except the watch `keep_wd`
  // (the root's), and returns the forgotten wds.
  std::vector<int> drop_subtree(const std::string& rel, int keep_wd);
  // `from` and everything below it now live under `to`; the watches stay.
  void rename_subtree(const std::string& from, const std::string& to);
  // Forgets everything; returns every wd it knew.
  std::vector<int> clear();

  // Starts a sweep and returns its generation; `keep_wd` (the root, which the
  // scan does not re-add) counts as confirmed.
  std::uint64_t begin_sweep(int keep_wd);
  // Watches not confirmed since sweep `gen` began, except `keep_wd`.
  std::vector<int> unconfirmed(std::uint64_t gen, int keep_wd) const;

  std::size_t size() const { return by_wd_.size(); }

 private:
  struct Watch {
    std::string rel;
    std::uint64_t confirmed = 0;  // sweep_gen_ when last mapped
  };
  std::unordered_map<int, Watch> by_wd_;
  std::map<std::string, int, std::less<>> wd_of_;  // ordered: subtree ranges
  std::uint64_t sweep_gen_ = 0;
};

// The keys of an ordered map or set keyed by rel that are `rel` or lie below
// it ("" is above everything). "a/b" and "a/b/..." are not contiguous in byte
// order ("a/b-c" sorts between), so the two ranges are taken separately.
template <class Ordered, class KeyOf>
std::vector<std::string> rel_keys_under(const Ordered& m, const std::string& rel, KeyOf key_of) {
  std::vector<std::string> out;
  if (rel.empty()) {
    for (const auto& kv : m) out.push_back(key_of(kv));
    return out;
  }
  if (m.find(rel) != m.end()) out.push_back(rel);
  const std::string lo = rel + '/', hi = rel + '0';  // '0' == '/' + 1
  for (auto it = m.lower_bound(lo); it != m.end() && key_of(*it) < hi; ++it)
    out.push_back(key_of(*it));
  return out;
}

}  // namespace aw
