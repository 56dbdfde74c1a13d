#include "watchers/watch_tree.h"

namespace aw {

namespace {
const std::string& first_of(const std::pair<const std::string, int>& kv) {
  return kv.first;
}
}  // namespace

void WatchTree::map(int wd, const std::string& rel) {
  auto it = by_wd_.find(wd);
  if (it != by_wd_.end() && it->second.rel != rel) {
    auto old = wd_of_.find(it->second.rel);
    if (old != wd_of_.end() && old->second == wd) wd_of_.erase(old);
  }
  by_wd_[wd] = Watch{rel, sweep_gen_};
  wd_of_[rel] = wd;
}

void WatchTree::unmap(int wd) {
  auto it = by_wd_.find(wd);
  if (it == by_wd_.end()) return;
  auto rel_it = wd_of_.find(it->second.rel);
  if (rel_it != wd_of_.end() && rel_it->second == wd) wd_of_.erase(rel_it);
  by_wd_.erase(it);
}

const std::string* WatchTree::rel_of(int wd) const {
  auto it = by_wd_.find(wd);
  return it == by_wd_.end() ? nullptr : &it->second.rel;
}

std::vector<int> WatchTree::drop_subtree(const std::string& rel, int keep_wd) {
  std::vector<int> dropped;
  for (const auto& k : rel_keys_under(wd_of_, rel, first_of)) {
    auto it = wd_of_.find(k);
    const int wd = it->second;
    if (wd == keep_wd) continue;
    by_wd_.erase(wd);
    wd_of_.erase(it);
    dropped.push_back(wd);
  }
  return dropped;
}

void WatchTree::rename_subtree(const std::string& from, const std::string& to) {
  std::vector<std::pair<std::string, int>> moved;
  for (const auto& k : rel_keys_under(wd_of_, from, first_of)) {
    auto it = wd_of_.find(k);
    moved.emplace_back(to + k.substr(from.size()), it->second);
    wd_of_.erase(it);
  }
  for (auto& [rel, wd] : moved) {
    by_wd_[wd].rel = rel;
    wd_of_[rel] = wd;
  }
}

std::vector<int> WatchTree::clear() {
  std::vector<int> all;
  all.reserve(by_wd_.size());
  for (const auto& [wd, w] : by_wd_) all.push_back(wd);
  by_wd_.clear();
  wd_of_.clear();
  return all;
}

std::uint64_t WatchTree::begin_sweep(int keep_wd) {
  ++sweep_gen_;
  if (auto it = by_wd_.find(keep_wd); it != by_wd_.end()) it->second.confirmed = sweep_gen_;
  return sweep_gen_;
}

std::vector<int> WatchTree::unconfirmed(std::uint64_t gen, int keep_wd) const {
  std::vector<int> stale;
  for (const auto& [wd, w] : by_wd_)
    if (w.confirmed < gen && wd != keep_wd) stale.push_back(wd);
  return stale;
}

}  // namespace aw
