// FlatEntryTable: the open-addressing hash table behind FileIndex's
// (watch, rel) → entry lookups: string key → value (pure, header only).
//
// Why not std::unordered_map: in a storm of landing files every claim() is a
// lookup and most are inserts. A node-based map pays a heap node per entry, a
// pointer chase per bucket, a division per hash and rehashes as it grows; in a
// 200,000-file storm that was about 12% of the daemon's CPU.
//
// Layout: the items (key, value, the key's hash) are numbered densely from 0
// and kept in fixed-size blocks, so a growing table never moves one. Beside
// them a power-of-two array of 8-byte slots, each {32-bit hash, item index},
// is probed linearly from `hash & mask`. A probe compares the stored hash
// first, so a mismatch touches neither the item nor its key string, and eight
// slots share a cache line. Before an insert would fill more than 3/4 of the
// slots, the slot array doubles and its slots are placed again from the hashes
// they keep (no key is hashed or compared, no item is touched).
//
// Erase: backward-shift deletion (no tombstones, so probe runs stay as short
// after churn as they were before it), then the last item moves into the
// erased item's place and its slot is pointed there.
//
// Iteration order: by item number, i.e. insertion order until an erase moves
// the last item into the hole. Callers may rely on "each item exactly
// once", nothing more (FileIndex's compaction writes one record per
// (watch, rel), so it does not care about their order).
//
// Pointers: an Item* from find() or try_emplace() stays valid across inserts;
// an erase invalidates the erased item's and the last item's (which moves).
//
// Limits: fewer than 2^32 - 1 items (indices are 32-bit).
//
// Thread safety: none; one owner.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace aw {

// The default hash: the standard library's for strings (libstdc++: a 64-bit
// Murmur-style hash whose low bits, which the mask keeps, are well mixed).
struct StringViewHash {
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

template <class Value, class Hash = StringViewHash>
class FlatEntryTable {
 public:
  class Item {
   public:
    Item(std::string_view key, std::uint32_t hash) : key_(key), hash_(hash) {}
    const std::string& key() const { return key_; }
    Value value{};

   private:
    friend class FlatEntryTable;
    std::string key_;
    std::uint32_t hash_;
  };

  // Read-only: a key changed in place would no longer be found.
  class const_iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = Item;
    using difference_type = std::ptrdiff_t;
    using pointer = const Item*;
    using reference = const Item&;

    const_iterator() = default;
    reference operator*() const { return table_->at(index_); }
    pointer operator->() const { return &table_->at(index_); }
    const_iterator& operator++() {
      ++index_;
      return *this;
    }
    const_iterator operator++(int) {
      const_iterator old = *this;
      ++index_;
      return old;
    }
    friend bool operator==(const const_iterator&, const const_iterator&) = default;

   private:
    friend class FlatEntryTable;
    const_iterator(const FlatEntryTable* table, std::size_t index) : table_(table), index_(index) {}
    const FlatEntryTable* table_ = nullptr;
    std::size_t index_ = 0;
  };

  FlatEntryTable() = default;
  explicit FlatEntryTable(Hash hash) : hash_(std::move(hash)) {}

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // Slots: 0 before the first insert, then a power of two at least 4/3 of size().
  std::size_t capacity() const { return slots_.size(); }
  const_iterator begin() const { return {this, 0}; }
  const_iterator end() const { return {this, size_}; }

  const Item* find(std::string_view key) const {
    if (slots_.empty()) return nullptr;
    const Slot s = slots_[probe(key, hash_of(key))];
    return s.index == kEmpty ? nullptr : &at(s.index);
  }
  Item* find(std::string_view key) { return const_cast<Item*>(std::as_const(*this).find(key)); }

  // The item at `key`, inserted with a value-initialised value when there was
  // none (second: true). The key is copied only when it is inserted.
  std::pair<Item*, bool> try_emplace(std::string_view key) {
    const std::uint32_t h = hash_of(key);
    std::size_t pos = slots_.empty() ? 0 : probe(key, h);
    if (!slots_.empty() && slots_[pos].index != kEmpty) return {&at(slots_[pos].index), false};
    if (size_ >= kEmpty - 1) throw std::length_error("FlatEntryTable: too many items");
    if (over_load(size_ + 1)) {
      rehash(slots_.empty() ? kMinCapacity : 2 * slots_.size());
      pos = free_slot(h);
    }
    Item& item = append(key, h);  // first: if it throws, no slot points past the items
    slots_[pos] = Slot{h, static_cast<std::uint32_t>(size_ - 1)};
    return {&item, true};
  }

  // Removes `item`, which must be one of this table's. The last item moves
  // into its place (to erase while iterating, use erase_if()).
  void erase(const Item* item) { erase_slot(slot_of(item)); }
  // Removes the item at `key`; false when there was none.
  bool erase(std::string_view key) {
    if (slots_.empty()) return false;
    const std::size_t pos = probe(key, hash_of(key));
    if (slots_[pos].index == kEmpty) return false;
    erase_slot(pos);
    return true;
  }
  // Removes every item for which `pred(const Item&)` is true, visiting each
  // item once; returns how many were removed.
  template <class Pred>
  std::size_t erase_if(Pred pred) {
    std::size_t removed = 0;
    for (std::size_t i = 0; i < size_;) {
      const Item& item = at(i);
      if (pred(item)) {
        // The last item moves into i and is visited next.
        erase_slot(slot_of(&item));
        ++removed;
      } else {
        ++i;
      }
    }
    return removed;
  }

  // Makes room for `n` items without another growth of the slots.
  void reserve(std::size_t n) {
    std::size_t capacity = slots_.empty() ? kMinCapacity : slots_.size();
    while (over_load(n, capacity)) capacity *= 2;
    if (capacity > slots_.size()) rehash(capacity);
    blocks_.reserve((n + kBlockItems - 1) / kBlockItems);
  }

 private:
  struct Slot {
    std::uint32_t hash = 0;
    std::uint32_t index = kEmpty;
  };
  static constexpr std::uint32_t kEmpty = UINT32_MAX;
  static constexpr std::size_t kMinCapacity = 16;
  // Items live in blocks of 2^kBlockShift, each reserved once and never
  // reallocated: a growing table moves no item. (In one vector, the moves on
  // each of its growths cost about what the flat lookups saved.)
  static constexpr std::size_t kBlockShift = 8;
  static constexpr std::size_t kBlockItems = std::size_t{1} << kBlockShift;

  Item& at(std::size_t index) { return blocks_[index >> kBlockShift][index & (kBlockItems - 1)]; }
  const Item& at(std::size_t index) const {
    return blocks_[index >> kBlockShift][index & (kBlockItems - 1)];
  }
  Item& append(std::string_view key, std::uint32_t h) {
    const std::size_t block = size_ >> kBlockShift;
    if (block == blocks_.size()) {
      std::vector<Item> fresh;
      fresh.reserve(kBlockItems);
      blocks_.push_back(std::move(fresh));
    }
    Item& item = blocks_[block].emplace_back(key, h);
    ++size_;
    return item;
  }
  void pop_last() {
    --size_;
    blocks_[size_ >> kBlockShift].pop_back();
    // One empty block stays spare, so churn across a block boundary does not
    // allocate and free a block each time.
    if (blocks_.size() >= 2 && blocks_[blocks_.size() - 2].empty()) blocks_.pop_back();
  }

  std::uint32_t hash_of(std::string_view key) const {
    const std::uint64_t h = hash_(key);
    return static_cast<std::uint32_t>(h ^ (h >> 32));
  }
  std::size_t next(std::size_t pos) const { return (pos + 1) & mask_; }
  // Load factor at most 3/4.
  bool over_load(std::size_t n) const { return over_load(n, slots_.size()); }
  static bool over_load(std::size_t n, std::size_t capacity) { return 4 * n > 3 * capacity; }

  // The slot holding `key`, or the empty slot that ends its probe run (an
  // empty slot exists: the load stays at most 3/4). Needs slots.
  std::size_t probe(std::string_view key, std::uint32_t h) const {
    for (std::size_t pos = h & mask_;; pos = next(pos)) {
      const Slot s = slots_[pos];
      if (s.index == kEmpty || (s.hash == h && at(s.index).key_ == key)) return pos;
    }
  }
  // The first empty slot of `h`'s probe run (for a key known to be absent).
  std::size_t free_slot(std::uint32_t h) const {
    std::size_t pos = h & mask_;
    while (slots_[pos].index != kEmpty) pos = next(pos);
    return pos;
  }
  // The slot pointing at `item` (no key compared).
  std::size_t slot_of(const Item* item) const {
    for (std::size_t pos = item->hash_ & mask_;; pos = next(pos)) {
      const Slot s = slots_[pos];
      if (s.hash == item->hash_ && &at(s.index) == item) return pos;
    }
  }

  // Places every slot again in `capacity` slots (a power of two), from the
  // hashes the slots keep: no item is touched.
  void rehash(std::size_t capacity) {
    const std::vector<Slot> old = std::exchange(slots_, std::vector<Slot>(capacity));
    mask_ = capacity - 1;
    for (const Slot& s : old)
      if (s.index != kEmpty) slots_[free_slot(s.hash)] = s;
  }

  // Empties slot `pos` and removes its item.
  void erase_slot(std::size_t pos) {
    const std::uint32_t index = slots_[pos].index;
    shift_back(pos);
    const std::size_t last = size_ - 1;
    if (index != last) {
      Item& moved = at(last);
      slots_[slot_of(&moved)].index = index;
      at(index) = std::move(moved);
    }
    pop_last();
  }
  // Backward-shift deletion: the slots after the hole that may move back (the
  // hole lies between their home and where they are) fill it, one after the
  // other, until an empty slot ends the run. Every key stays reachable from
  // its home without a gap, and no tombstone is left.
  void shift_back(std::size_t hole) {
    for (std::size_t pos = next(hole);; pos = next(pos)) {
      const Slot s = slots_[pos];
      if (s.index == kEmpty) break;
      const std::size_t home = s.hash & mask_;
      if (((pos - home) & mask_) >= ((pos - hole) & mask_)) {
        slots_[hole] = s;
        hole = pos;
      }
    }
    slots_[hole] = Slot{};
  }

  std::vector<std::vector<Item>> blocks_;  // each reserved to kBlockItems
  std::size_t size_ = 0;
  std::vector<Slot> slots_;
  std::size_t mask_ = 0;  // slots_.size() - 1 once there are slots
  [[no_unique_address]] Hash hash_;
};

}  // namespace aw
