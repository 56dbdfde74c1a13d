#include "src/state/state_codec.h"

#include <simdjson.h>

#include <utility>

#include "src/core/json_writer.h"

namespace aw {
namespace {

std::int64_t to_ns(WallTime t) {
  return t.time_since_epoch().count();
}
WallTime from_ns(std::int64_t ns) {
  return WallTime(Duration(ns));
}

void append_evidence_array(std::string& out, const std::vector<Evidence>& evidence) {
  out.push_back('[');
  bool first = true;
  for (const auto& e : evidence) {
    if (!first) out.push_back(',');
    first = false;
    JsonObjectWriter w(out);
    w.str("signal", e.signal).str("detail", e.detail).num("time_ns", to_ns(e.time));
    w.close();
  }
  out.push_back(']');
}

std::string evidence_json(const std::vector<Evidence>& evidence) {
  std::string out;
  append_evidence_array(out, evidence);
  return out;
}

std::string attrs_json(const std::map<std::string, std::string>& attrs) {
  std::string out;
  JsonObjectWriter w(out);
  for (const auto& [k, v] : attrs) w.str(k, v);
  w.close();
  return out;
}

// Reads fields of one DOM object with the error naming the key and what was expected.
class ObjectReader {
 public:
  explicit ObjectReader(simdjson::dom::object obj) : obj_(obj) {}

  Status str(std::string_view key, std::string& out) const {
    simdjson::dom::element v;
    if (obj_.at_key(key).get(v)) return missing(key, "a string");
    std::string_view s;
    if (v.get_string().get(s)) return wrong(key, "a string");
    out.assign(s);
    return Status::Ok();
  }
  Status i64(std::string_view key, std::int64_t& out) const {
    simdjson::dom::element v;
    if (obj_.at_key(key).get(v)) return missing(key, "an integer");
    if (v.get_int64().get(out)) return wrong(key, "an integer");
    return Status::Ok();
  }
  Status u64(std::string_view key, std::uint64_t& out) const {
    simdjson::dom::element v;
    if (obj_.at_key(key).get(v)) return missing(key, "a non-negative integer");
    if (v.get_uint64().get(out)) return wrong(key, "a non-negative integer");
    return Status::Ok();
  }
  Status time(std::string_view key, WallTime& out) const {
    std::int64_t ns = 0;
    if (Status s = i64(key, ns); !s) return s;
    out = from_ns(ns);
    return Status::Ok();
  }
  Status state(std::string_view key, LifecycleState& out) const {
    std::string name;
    if (Status s = str(key, name); !s) return s;
    auto parsed = parse_lifecycle_state(name);
    if (!parsed)
      return make_error("\"" + std::string(key) + "\": unknown state \"" + name +
                        "\" (expected queued, processing, timing_out, zombie, failed, completed)");
    out = *parsed;
    return Status::Ok();
  }
  Status kind(std::string_view key, EntityKind& out) const {
    std::string name;
    if (Status s = str(key, name); !s) return s;
    auto parsed = parse_entity_kind(name);
    if (!parsed)
      return make_error("\"" + std::string(key) + "\": unknown entity kind \"" + name +
                        "\" (expected worker, session, project)");
    out = *parsed;
    return Status::Ok();
  }
  Status evidence(std::string_view key, std::vector<Evidence>& out) const {
    simdjson::dom::element v;
    if (obj_.at_key(key).get(v)) return missing(key, "an array");
    simdjson::dom::array arr;
    if (v.get_array().get(arr)) return wrong(key, "an array");
    for (simdjson::dom::element item : arr) {
      simdjson::dom::object eo;
      if (item.get_object().get(eo)) return wrong(key, "an array of objects");
      ObjectReader er(eo);
      Evidence e;
      if (Status s = er.str("signal", e.signal); !s) return nested(key, s);
      if (Status s = er.str("detail", e.detail); !s) return nested(key, s);
      if (Status s = er.time("time_ns", e.time); !s) return nested(key, s);
      out.push_back(std::move(e));
    }
    return Status::Ok();
  }
  Status attrs(std::string_view key, std::map<std::string, std::string>& out) const {
    simdjson::dom::element v;
    if (obj_.at_key(key).get(v)) return missing(key, "an object");
    simdjson::dom::object ao;
    if (v.get_object().get(ao)) return wrong(key, "an object");
    for (auto [k, value] : ao) {
      std::string_view s;
      if (value.get_string().get(s))
        return make_error("\"" + std::string(key) + "\".\"" + std::string(k) +
                          "\": expected a string");
      out[std::string(k)] = std::string(s);
    }
    return Status::Ok();
  }

 private:
  static Error missing(std::string_view key, std::string_view what) {
    return make_error("missing \"" + std::string(key) + "\" (expected " + std::string(what) + ")");
  }
  static Error wrong(std::string_view key, std::string_view what) {
    return make_error("\"" + std::string(key) + "\": expected " + std::string(what));
  }
  static Error nested(std::string_view key, const Status& s) {
    return make_error("\"" + std::string(key) + "\": " + s.error().message);
  }
  simdjson::dom::object obj_;
};

void add_problem(JournalReplayReport& r, std::string problem) {
  ++r.problem_count;
  if (r.problems.size() < JournalReplayReport::kMaxProblems)
    r.problems.push_back(std::move(problem));
}

Result<EntityRecord> decode_entity(simdjson::dom::element item) {
  simdjson::dom::object obj;
  if (item.get_object().get(obj)) return make_error("expected an object");
  ObjectReader r(obj);
  EntityRecord e;
  Status s;
  if (!(s = r.str("id", e.id))) return s.error();
  if (e.id.empty()) return make_error("\"id\": expected a non-empty string");
  if (!(s = r.kind("kind", e.kind))) return s.error();
  if (!(s = r.state("state", e.state))) return s.error();
  if (!(s = r.time("since_ns", e.since))) return s.error();
  if (!(s = r.str("reason", e.reason))) return s.error();
  if (!(s = r.u64("run", e.run))) return s.error();
  if (!(s = r.evidence("evidence", e.evidence))) return s.error();
  if (!(s = r.attrs("attrs", e.attrs))) return s.error();
  return e;
}

}  // namespace

std::string encode_journal_record(std::uint64_t seq, const Mutation& m) {
  std::string out;
  JsonObjectWriter w(out);
  w.unum("seq", seq).str("op", mutation_op_name(m.op)).str("id", m.id);
  switch (m.op) {
    case MutationOp::kCreate:
    case MutationOp::kTransition:
    case MutationOp::kReset:
      w.str("kind", entity_kind_name(m.kind));
      if (m.op != MutationOp::kCreate) w.str("from", lifecycle_state_name(m.from));
      w.str("to", lifecycle_state_name(m.to))
          .str("reason", m.reason)
          .num("time_ns", to_ns(m.time))
          .unum("run", m.run)
          .raw("evidence", evidence_json(m.evidence));
      break;
    case MutationOp::kSetAttr:
      w.str("key", m.key).str("value", m.value);
      break;
    case MutationOp::kEraseAttr:
      w.str("key", m.key);
      break;
    case MutationOp::kRemove:
      break;
  }
  w.close();
  out.push_back('\n');
  return out;
}

Result<JournalRecord> decode_journal_record(std::string_view line) {
  thread_local simdjson::dom::parser parser;
  simdjson::padded_string padded(line);
  simdjson::dom::element root;
  if (auto err = parser.parse(padded).get(root))
    return make_error(std::string("not JSON: ") + simdjson::error_message(err));
  simdjson::dom::object obj;
  if (root.get_object().get(obj)) return make_error("expected a JSON object");
  ObjectReader r(obj);
  JournalRecord rec;
  Mutation& m = rec.mutation;
  Status s;
  if (!(s = r.u64("seq", rec.seq))) return s.error();
  std::string op_name;
  if (!(s = r.str("op", op_name))) return s.error();
  auto op = parse_mutation_op(op_name);
  if (!op)
    return make_error("\"op\": unknown operation \"" + op_name +
                      "\" (expected create, transition, reset, set_attr, erase_attr, remove)");
  m.op = *op;
  if (!(s = r.str("id", m.id))) return s.error();
  if (m.id.empty()) return make_error("\"id\": expected a non-empty string");
  switch (m.op) {
    case MutationOp::kCreate:
    case MutationOp::kTransition:
    case MutationOp::kReset:
      if (!(s = r.kind("kind", m.kind))) return s.error();
      if (m.op != MutationOp::kCreate) {
        if (!(s = r.state("from", m.from))) return s.error();
      }
      if (!(s = r.state("to", m.to))) return s.error();
      if (m.op == MutationOp::kCreate) m.from = m.to;
      if (!(s = r.str("reason", m.reason))) return s.error();
      if (!(s = r.time("time_ns", m.time))) return s.error();
      if (!(s = r.u64("run", m.run))) return s.error();
      if (!(s = r.evidence("evidence", m.evidence))) return s.error();
      break;
    case MutationOp::kSetAttr:
      if (!(s = r.str("key", m.key))) return s.error();
      if (!(s = r.str("value", m.value))) return s.error();
      break;
    case MutationOp::kEraseAttr:
      if (!(s = r.str("key", m.key))) return s.error();
      break;
    case MutationOp::kRemove:
      break;
  }
  return rec;
}

JournalReplayReport replay_journal(std::string_view text, std::uint64_t after_seq,
                                   EntityTable& table, std::string_view source) {
  JournalReplayReport report;
  std::uint64_t previous_seq = after_seq;
  std::size_t pos = 0;
  std::size_t line_no = 0;
  while (pos < text.size()) {
    std::size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) {
      // A write cut short by a crash: its batch never became durable, so no
      // caller was told it did. Dropping it loses nothing that was promised.
      report.torn_tail_bytes = text.size() - pos;
      break;
    }
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    report.valid_bytes = pos;
    ++line_no;
    ++report.lines;
    if (line.empty()) continue;
    auto where = [&] { return std::string(source) + ":" + std::to_string(line_no) + ": "; };
    auto rec = decode_journal_record(line);
    if (!rec) {
      ++report.corrupt;
      add_problem(report, where() + "corrupt record skipped: " + rec.error().message);
      continue;
    }
    if (rec->seq > report.last_seq) report.last_seq = rec->seq;
    if (rec->seq <= after_seq) {
      ++report.skipped_old;
      continue;
    }
    if (rec->seq <= previous_seq) {
      ++report.out_of_order;
      add_problem(report, where() + "record seq " + std::to_string(rec->seq) +
                              " is not above the previous " + std::to_string(previous_seq) +
                              "; skipped");
      continue;
    }
    previous_seq = rec->seq;
    if (Status s = table.replay(rec->mutation); !s) {
      ++report.unapplied;
      add_problem(report, where() + "record seq " + std::to_string(rec->seq) +
                              " not applied: " + s.error().message);
      continue;
    }
    ++report.applied;
  }
  return report;
}

std::string encode_snapshot(std::uint64_t last_seq, const EntityTable& table) {
  std::string out;
  out.reserve(64 + table.size() * 256);
  out += "{\"format\":";
  append_json_string(out, kSnapshotFormat);
  out += ",\"version\":" + std::to_string(kSnapshotVersion);
  out += ",\"last_seq\":" + std::to_string(last_seq);
  out += ",\"entities\":[";
  bool first = true;
  for (const EntityRecord* e : table.list()) {
    out += first ? "\n" : ",\n";
    first = false;
    JsonObjectWriter w(out);
    w.str("id", e->id)
        .str("kind", entity_kind_name(e->kind))
        .str("state", lifecycle_state_name(e->state))
        .num("since_ns", to_ns(e->since))
        .str("reason", e->reason)
        .unum("run", e->run)
        .raw("evidence", evidence_json(e->evidence))
        .raw("attrs", attrs_json(e->attrs));
    w.close();
  }
  out += "\n]}\n";
  return out;
}

Result<DecodedSnapshot> decode_snapshot(std::string_view json, std::string_view source) {
  // A parser of its own (not thread_local): a snapshot can be megabytes, and the
  // parser keeps its buffers as long as it lives.
  simdjson::dom::parser parser;
  simdjson::padded_string padded(json);
  simdjson::dom::element root;
  std::string where = std::string(source) + ": ";
  if (auto err = parser.parse(padded).get(root))
    return make_error(where + "not JSON: " + simdjson::error_message(err));
  simdjson::dom::object obj;
  if (root.get_object().get(obj)) return make_error(where + "expected a JSON object");
  ObjectReader r(obj);
  std::string format;
  if (Status s = r.str("format", format); !s) return make_error(where + s.error().message);
  if (format != kSnapshotFormat)
    return make_error(where + "\"format\": expected \"" + std::string(kSnapshotFormat) +
                      "\", got \"" + format + "\"");
  std::int64_t version = 0;
  if (Status s = r.i64("version", version); !s) return make_error(where + s.error().message);
  if (version != kSnapshotVersion)
    return make_error(where + "\"version\": expected " + std::to_string(kSnapshotVersion) +
                      ", got " + std::to_string(version));
  DecodedSnapshot snap;
  if (Status s = r.u64("last_seq", snap.last_seq); !s) return make_error(where + s.error().message);
  simdjson::dom::array entities;
  if (obj.at_key("entities").get_array().get(entities))
    return make_error(where + "\"entities\": expected an array");
  std::size_t index = 0;
  for (simdjson::dom::element item : entities) {
    ++index;
    auto entity = decode_entity(item);
    if (!entity) {
      snap.problems.push_back(where + "entity #" + std::to_string(index) +
                              " skipped: " + entity.error().message);
      continue;
    }
    snap.entities.push_back(std::move(*entity));
  }
  return snap;
}

}  // namespace aw
