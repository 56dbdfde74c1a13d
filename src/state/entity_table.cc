#include "src/state/entity_table.h"

#include <algorithm>
#include <array>
#include <utility>

namespace aw {
namespace {

constexpr std::array<std::pair<MutationOp, std::string_view>, 6> kOpNames = {{
    {MutationOp::kCreate, "create"},
    {MutationOp::kTransition, "transition"},
    {MutationOp::kReset, "reset"},
    {MutationOp::kSetAttr, "set_attr"},
    {MutationOp::kEraseAttr, "erase_attr"},
    {MutationOp::kRemove, "remove"},
}};

Error unknown_entity(std::string_view id) {
  return make_error("unknown entity \"" + std::string(id) + "\"");
}

// Cuts `s` to at most `max` bytes without splitting a UTF-8 sequence, marking the cut.
void cut_detail(std::string& s, std::size_t max) {
  if (s.size() <= max) return;
  static constexpr std::string_view kMark = "...";
  std::size_t keep = max > kMark.size() ? max - kMark.size() : 0;
  // Back off over continuation bytes (10xxxxxx) so the cut lands on a boundary.
  while (keep > 0 && (static_cast<unsigned char>(s[keep]) & 0xC0) == 0x80) --keep;
  s.resize(keep);
  s += kMark.substr(0, std::min(kMark.size(), max));
}

}  // namespace

std::string_view mutation_op_name(MutationOp op) {
  for (const auto& [o, name] : kOpNames)
    if (o == op) return name;
  return "create";
}

std::optional<MutationOp> parse_mutation_op(std::string_view name) {
  for (const auto& [o, n] : kOpNames)
    if (n == name) return o;
  return std::nullopt;
}

EntityTable::EntityTable(EntityTableOptions options) : options_(options) {}

const EntityRecord* EntityTable::get(std::string_view id) const {
  auto it = entities_.find(id);
  return it == entities_.end() ? nullptr : &it->second;
}

std::vector<const EntityRecord*> EntityTable::list() const {
  std::vector<const EntityRecord*> out;
  out.reserve(entities_.size());
  for (const auto& [id, record] : entities_) out.push_back(&record);
  return out;
}

std::vector<Evidence> EntityTable::bound(std::vector<Evidence> evidence) const {
  if (evidence.size() > options_.max_evidence)
    evidence.erase(evidence.begin(),
                   evidence.end() - static_cast<std::ptrdiff_t>(options_.max_evidence));
  for (auto& e : evidence) cut_detail(e.detail, options_.max_evidence_detail);
  return evidence;
}

void EntityTable::emit(const Mutation& m) {
  apply(m);
  if (observer_) observer_(m);
}

// The one place the table changes. Must stay deterministic: replay relies on it.
void EntityTable::apply(const Mutation& m) {
  switch (m.op) {
    case MutationOp::kCreate: {
      EntityRecord record;
      record.id = m.id;
      record.kind = m.kind;
      record.state = m.to;
      record.since = m.time;
      record.reason = m.reason;
      record.evidence = bound(m.evidence);
      record.run = m.run;
      entities_.insert_or_assign(m.id, std::move(record));
      return;
    }
    case MutationOp::kTransition:
    case MutationOp::kReset: {
      auto it = entities_.find(m.id);
      if (it == entities_.end()) {
        EntityRecord record;
        record.id = m.id;
        it = entities_.emplace(m.id, std::move(record)).first;
      }
      EntityRecord& r = it->second;
      r.kind = m.kind;
      r.state = m.to;
      r.since = m.time;
      r.reason = m.reason;
      r.run = m.run;
      r.evidence.insert(r.evidence.end(), m.evidence.begin(), m.evidence.end());
      r.evidence = bound(std::move(r.evidence));
      return;
    }
    case MutationOp::kSetAttr: {
      auto it = entities_.find(m.id);
      if (it != entities_.end()) it->second.attrs[m.key] = m.value;
      return;
    }
    case MutationOp::kEraseAttr: {
      auto it = entities_.find(m.id);
      if (it != entities_.end()) it->second.attrs.erase(m.key);
      return;
    }
    case MutationOp::kRemove:
      if (auto it = entities_.find(m.id); it != entities_.end()) entities_.erase(it);
      return;
  }
}

Result<Change> EntityTable::create(std::string id, EntityKind kind, LifecycleState initial,
                                   WallTime now, std::string reason,
                                   std::vector<Evidence> evidence) {
  if (id.empty()) return make_error("entity id is empty");
  if (reason.empty()) return make_error("creating \"" + id + "\" needs a reason");
  if (entities_.count(id))
    return make_error("entity \"" + id + "\" exists (" +
                      std::string(lifecycle_state_name(entities_.find(id)->second.state)) + ")");
  Mutation m;
  m.op = MutationOp::kCreate;
  m.id = std::move(id);
  m.kind = kind;
  m.from = initial;
  m.to = initial;
  m.reason = std::move(reason);
  m.evidence = bound(std::move(evidence));
  m.time = now;
  m.run = 0;
  emit(m);
  return Change{m.id, kind, std::nullopt, initial, m.reason, m.evidence, now, 0, false};
}

Result<std::optional<Change>> EntityTable::ensure(std::string id, EntityKind kind,
                                                  LifecycleState initial, WallTime now,
                                                  std::string reason) {
  if (const EntityRecord* existing = get(id)) {
    if (existing->kind != kind)
      return make_error("entity \"" + id + "\" exists as a " +
                        std::string(entity_kind_name(existing->kind)) + ", not a " +
                        std::string(entity_kind_name(kind)));
    return std::optional<Change>();
  }
  auto created = create(std::move(id), kind, initial, now, std::move(reason));
  if (!created) return created.error();
  return std::optional<Change>(std::move(*created));
}

Result<Change> EntityTable::transition(std::string_view id, LifecycleState to, std::string reason,
                                       std::vector<Evidence> evidence, WallTime now) {
  auto it = entities_.find(id);
  if (it == entities_.end()) return unknown_entity(id);
  const EntityRecord& r = it->second;
  TransitionResult check = check_transition(r, to);
  if (!check.applied) return make_error(std::move(check.refusal));
  if (reason.empty())
    return make_error("transition of \"" + r.id + "\" to " + std::string(lifecycle_state_name(to)) +
                      " needs a reason");
  Mutation m;
  m.op = MutationOp::kTransition;
  m.id = r.id;
  m.kind = r.kind;
  m.from = r.state;
  m.to = to;
  m.reason = std::move(reason);
  m.evidence = bound(std::move(evidence));
  m.time = now;
  m.run = is_restart_edge(r.state, to) ? r.run + 1 : r.run;
  emit(m);
  return Change{m.id, m.kind, m.from, m.to, m.reason, m.evidence, now, m.run, false};
}

Result<Change> EntityTable::reset(std::string_view id, LifecycleState to, std::string reason,
                                  WallTime now) {
  auto it = entities_.find(id);
  if (it == entities_.end()) return unknown_entity(id);
  const EntityRecord& r = it->second;
  if (reason.empty()) return make_error("reset of \"" + r.id + "\" needs a reason");
  Mutation m;
  m.op = MutationOp::kReset;
  m.id = r.id;
  m.kind = r.kind;
  m.from = r.state;
  m.to = to;
  m.evidence = bound({Evidence{
      "reset", "from " + std::string(lifecycle_state_name(r.state)) + ": " + reason, now}});
  m.reason = std::move(reason);
  m.time = now;
  bool new_run = to == LifecycleState::kQueued && r.state != LifecycleState::kQueued;
  m.run = new_run ? r.run + 1 : r.run;
  emit(m);
  return Change{m.id, m.kind, m.from, m.to, m.reason, m.evidence, now, m.run, true};
}

Result<Change> EntityTable::recover_reset(std::string_view id, const RecoverResetRequest& request,
                                          WallTime now) {
  auto it = entities_.find(id);
  if (it == entities_.end()) return unknown_entity(id);
  const EntityRecord& r = it->second;
  TransitionResult check = check_recover_reset(r.state, request.force);
  if (!check.applied) return make_error(std::move(check.refusal));
  std::string detail = "reset by uid " + std::to_string(request.uid);
  if (r.state == LifecycleState::kCompleted) detail += ", forced";
  Mutation m;
  m.op = MutationOp::kReset;
  m.id = r.id;
  m.kind = r.kind;
  m.from = r.state;
  m.to = LifecycleState::kQueued;
  m.reason = "reset";
  m.evidence = bound({Evidence{"recover", std::move(detail), now}});
  m.time = now;
  m.run = r.run + 1;
  emit(m);
  return Change{m.id, m.kind, m.from, m.to, m.reason, m.evidence, now, m.run, true};
}

Status EntityTable::set_attr(std::string_view id, std::string key, std::string value) {
  auto it = entities_.find(id);
  if (it == entities_.end()) return unknown_entity(id);
  if (key.empty()) return make_error("attr of \"" + std::string(id) + "\": empty key");
  auto attr = it->second.attrs.find(key);
  if (attr != it->second.attrs.end() && attr->second == value) return Status::Ok();
  Mutation m;
  m.op = MutationOp::kSetAttr;
  m.id = std::string(id);
  m.kind = it->second.kind;
  m.key = std::move(key);
  m.value = std::move(value);
  emit(m);
  return Status::Ok();
}

Status EntityTable::erase_attr(std::string_view id, std::string_view key) {
  auto it = entities_.find(id);
  if (it == entities_.end()) return unknown_entity(id);
  if (!it->second.attrs.count(std::string(key))) return Status::Ok();
  Mutation m;
  m.op = MutationOp::kEraseAttr;
  m.id = std::string(id);
  m.kind = it->second.kind;
  m.key = std::string(key);
  emit(m);
  return Status::Ok();
}

Status EntityTable::remove(std::string_view id) {
  auto it = entities_.find(id);
  if (it == entities_.end()) return unknown_entity(id);
  Mutation m;
  m.op = MutationOp::kRemove;
  m.id = std::string(id);
  m.kind = it->second.kind;
  emit(m);
  return Status::Ok();
}

std::vector<StuckEntity> EntityTable::stuck(WallTime now, const StuckThresholds& t) const {
  std::vector<StuckEntity> out;
  for (const auto& [id, r] : entities_) {
    Duration threshold;
    switch (r.state) {
      case LifecycleState::kProcessing:
        threshold = t.processing;
        break;
      case LifecycleState::kTimingOut:
        threshold = t.timing_out;
        break;
      case LifecycleState::kZombie:
        threshold = t.zombie;
        break;
      default:
        continue;
    }
    Duration age = now > r.since ? now - r.since : Duration::zero();
    if (age >= threshold) out.push_back({id, r.kind, r.state, r.since, age});
  }
  std::sort(out.begin(), out.end(), [](const StuckEntity& a, const StuckEntity& b) {
    return a.age != b.age ? a.age > b.age : a.id < b.id;
  });
  return out;
}

Status EntityTable::replay(const Mutation& m) {
  if (m.id.empty()) return make_error("record without an entity id");
  switch (m.op) {
    case MutationOp::kSetAttr:
    case MutationOp::kEraseAttr:
    case MutationOp::kRemove:
      if (!entities_.count(m.id))
        return make_error(std::string(mutation_op_name(m.op)) + " of " +
                          unknown_entity(m.id).message);
      break;
    default:
      break;
  }
  apply(m);
  return Status::Ok();
}

void EntityTable::restore(EntityRecord record) {
  record.evidence = bound(std::move(record.evidence));
  std::string id = record.id;
  entities_.insert_or_assign(std::move(id), std::move(record));
}

}  // namespace aw
