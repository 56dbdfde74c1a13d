#include "watchers/move_pairer.h"

#include <algorithm>

#include "watchers/beneath_path.h"

namespace aw {

void MovePairer::moved_from(std::uint32_t cookie, PendingMove move, MonoTime now) {
  move.deadline = now + window_;
  if (auto it = pending_.find(cookie); it != pending_.end() && it->second.hides_subtree) --hiding_;
  if (move.hides_subtree) ++hiding_;
  pending_[cookie] = std::move(move);
}

std::optional<PendingMove> MovePairer::moved_to(std::uint32_t cookie) {
  if (cookie == 0) return std::nullopt;
  auto it = pending_.find(cookie);
  if (it == pending_.end()) return std::nullopt;
  PendingMove m = std::move(it->second);
  pending_.erase(it);
  if (m.hides_subtree) --hiding_;
  return m;
}

std::vector<PendingMove> MovePairer::expire(MonoTime now) {
  std::vector<PendingMove> out;
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->second.deadline <= now) {
      if (it->second.hides_subtree) --hiding_;
      out.push_back(std::move(it->second));
      it = pending_.erase(it);
    } else {
      ++it;
    }
  }
  std::sort(out.begin(), out.end(), [](const PendingMove& a, const PendingMove& b) {
    return a.deadline < b.deadline || (a.deadline == b.deadline && a.rel < b.rel);
  });
  return out;
}

bool MovePairer::hides(std::size_t root, std::uint64_t root_gen, std::string_view dir_rel) const {
  if (hiding_ == 0) return false;
  for (const auto& [cookie, m] : pending_)
    if (m.hides_subtree && m.root == root && m.root_gen == root_gen && rel_is_under(dir_rel, m.rel))
      return true;
  return false;
}

std::optional<MonoTime> MovePairer::next_deadline() const {
  std::optional<MonoTime> due;
  for (const auto& [cookie, m] : pending_)
    if (!due || m.deadline < *due) due = m.deadline;
  return due;
}

}  // namespace aw
