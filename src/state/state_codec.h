// The on-disk forms of the lifecycle state (docs/lifecycle.md, "Persistence").
// PURE: strings in, values out; no files, no loop. Written with json_writer.h,
// read with simdjson's DOM API (runtime CPU dispatch; strict parsing).
//
// Journal: one JSON object per line, one line per Mutation, each with a sequence
// number that increases by one per record over the store's whole life:
//   {"seq":7,"op":"transition","id":"w1","kind":"worker","from":"processing",
//    "to":"failed","reason":"exited","time_ns":1700000000000000000,"run":0,
//    "evidence":[{"signal":"pidfd","detail":"pid 123 exited status 1","time_ns":...}]}
//   {"seq":8,"op":"set_attr","id":"w1","key":"restarts","value":"1"}
// Snapshot: one JSON document holding every entity and the seq of the last record
// it includes ("last_seq"); replay skips journal records at or below it.
//
// Times are integer nanoseconds since the epoch so a reload is exact. Strings are
// expected to be UTF-8: invalid bytes are stored as U+FFFD (json_writer.h).
// Unknown keys are ignored when reading (a newer writer may add some); missing or
// mistyped required keys make the record corrupt.
//
// Thread safety: the decoders use a thread_local parser; safe from any thread
// (the store reads files at startup and may do so on the thread pool).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "src/core/result.h"
#include "src/state/entity_table.h"

namespace aw {

inline constexpr std::string_view kSnapshotFormat = "agentwatch-lifecycle-snapshot";
inline constexpr std::int64_t kSnapshotVersion = 1;

struct JournalRecord {
  std::uint64_t seq = 0;
  Mutation mutation;
  friend bool operator==(const JournalRecord&, const JournalRecord&) = default;
};

// One journal line, '\n'-terminated, with no other raw newline.
std::string encode_journal_record(std::uint64_t seq, const Mutation& mutation);
// Parses one line (without its '\n'). The error says what was expected.
Result<JournalRecord> decode_journal_record(std::string_view line);

// What replaying a journal's text found. Problems name "<source>:<line>".
struct JournalReplayReport {
  std::size_t lines = 0;              // complete lines seen (blank ones included)
  std::size_t applied = 0;            // records applied to the table
  std::size_t skipped_old = 0;        // seq <= after_seq (already in the snapshot)
  std::size_t corrupt = 0;            // lines that are not a valid record (skipped)
  std::size_t unapplied = 0;          // valid records the table refused (e.g. attr of unknown id)
  std::size_t out_of_order = 0;       // seq not above the previous record's (skipped)
  std::uint64_t last_seq = 0;         // highest seq seen in a valid record (0 if none)
  std::size_t valid_bytes = 0;        // bytes up to and including the last '\n'
  std::size_t torn_tail_bytes = 0;    // bytes after the last '\n' (a torn last write)
  std::vector<std::string> problems;  // first kMaxProblems, then a count only
  std::size_t problem_count = 0;
  static constexpr std::size_t kMaxProblems = 20;
};

// Applies every complete, valid record with seq > after_seq to `table`, in order.
// A torn last line (no '\n') is ignored; a corrupt line anywhere is skipped and
// counted. Never fails as a whole.
JournalReplayReport replay_journal(std::string_view text, std::uint64_t after_seq,
                                   EntityTable& table, std::string_view source = "journal");

struct DecodedSnapshot {
  std::uint64_t last_seq = 0;
  std::vector<EntityRecord> entities;
  std::vector<std::string> problems;  // entities skipped as malformed, "<source>: entity #n: ..."
};

// Serialises every entity of `table` (one per line, sorted by id) and `last_seq`.
std::string encode_snapshot(std::uint64_t last_seq, const EntityTable& table);
// Error when the document as a whole is unreadable (not JSON, wrong format or
// version). A malformed entity is skipped and reported in `problems`.
Result<DecodedSnapshot> decode_snapshot(std::string_view json,
                                        std::string_view source = "snapshot");

}  // namespace aw
