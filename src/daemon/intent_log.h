// The intent log's records and their replay: what lets a restarted daemon
// finish the plans a killed one began (docs/intents.md; DESIGN §2 "nothing
// lost, nothing done twice").
//
// When rules match an event, the pipeline writes the whole intent (the cause
// event and every plan with its rendered arguments) before the first action
// acts, then a record when each action starts and when it ends, and one when
// the intent is complete. A daemon that starts reads the log and resumes every
// intent left open, knowing for each plan which action comes next and whether
// it was in flight.
//
// The file is a state file (src/core/state_file.h, docs/state-files.md) of kind
// "intents", appended to. Its records, one per line, fields percent-escaped:
//   open  ID EVENT-JSON PLAN-JSON...   the cause (an event-log line) and each plan
//                                      (src/plan/plan_codec.h), in rule order
//   start ID PLAN ACTION               action ACTION of plan PLAN is about to act
//   end   ID PLAN ACTION OUTCOME       it ended: ok, failed or interrupted
//   close ID                           every plan ran to its end
// IDs count up from 1 across the life of the file (a compaction keeps them).
//
// This header is pure: formatting and parsing only (intent_journal_file.h owns
// the file). Thread safety: functions share nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "src/core/event.h"
#include "src/core/result.h"
#include "src/plan/plan.h"

namespace aw {

inline constexpr std::string_view kIntentLogKind = "intents";

enum class ActionEnd : std::uint8_t { kOk, kFailed, kInterrupted };

// "ok", "failed", "interrupted"
constexpr const char* action_end_name(ActionEnd end) {
  switch (end) {
    case ActionEnd::kOk:
      return "ok";
    case ActionEnd::kFailed:
      return "failed";
    case ActionEnd::kInterrupted:
      return "interrupted";
  }
  return "unknown";
}

// Appends one record line each.
void append_intent_open(std::string& out, std::uint64_t id, const Event& cause,
                        const std::vector<const Plan*>& plans);
void append_intent_start(std::string& out, std::uint64_t id, std::size_t plan, std::size_t action);
void append_intent_end(std::string& out, std::uint64_t id, std::size_t plan, std::size_t action,
                       ActionEnd end);
void append_intent_close(std::string& out, std::uint64_t id);

// Where one plan of an open intent stands.
struct PlanProgress {
  std::size_t next = 0;      // the first action that has not ended
  bool in_flight = false;    // `next` started and never ended: its outcome is unknown
  bool interrupted = false;  // `next` ended interrupted (a shutdown cut it short)
  bool stopped = false;      // an action failed: the rest of the plan does not run
};

// An intent a daemon opened and did not close.
struct OpenIntent {
  std::uint64_t id = 0;
  Event cause;
  std::vector<Plan> plans;
  std::vector<PlanProgress> progress;  // one per plan
};

// The records that replay to `intent` as it stands: its open line, then one
// line per plan that has moved. What a compaction writes for an open intent.
void append_intent_state(std::string& out, const OpenIntent& intent);

struct IntentReplay {
  std::vector<OpenIntent> open;  // in ID order
  std::uint64_t last_id = 0;     // the highest ID in the file (0: none)
  // One per record skipped: "PATH:LINE: what" (a damaged line, a plan that no
  // longer parses, a record for an intent whose open line was lost).
  std::vector<std::string> problems;
  std::size_t whole_bytes = 0;  // the length of the file's whole lines (see state_file.h)
  std::size_t records = 0;      // lines read, the header excluded
};

// Replays the whole file `text`, naming `path` in messages. An error only for
// a missing or foreign header.
Result<IntentReplay> replay_intents(std::string_view text, const std::string& path);

}  // namespace aw
