// The `repair_json` action (docs/actions.md): a result file that is not valid
// JSON is repaired (src/json/json_repair.h) into a new copy, or, when no repair
// applies, quarantined with the parser's error and its byte offset.
//
// Guarantees, beside move_file's (file_move.h):
// - Nothing is deleted or overwritten. The repaired copy is a new file,
//   <stem>.repaired<.ext> (or the first free numbered name), written 0600 to a
//   temporary file, fsynced and renamed into place without replacing anything.
//   The original is kept: where it was, or in `quarantine` with a reason file
//   saying what was repaired and where the copy is. With `quarantine`, the
//   original moves first and the copy appears second: in a result session
//   the copy is what completes the session and moves its directory.
// - Idempotent, so a resumed plan may run it again: a copy already holding the
//   same repaired text is reused rather than written twice, and an original
//   the attempt a killed daemon had in flight already quarantined is read from
//   the quarantine to finish the copy.
// - The source is opened beneath `root` without following a symlink, and read
//   only when it is a regular file of at most `max_bytes`.
//
// Blocking (reads, writes, fsync): call on the thread pool, never on the loop.
#pragma once

#include <cstdint>
#include <string>

#include "src/actions/action_outcome.h"
#include "src/core/clock.h"

namespace aw {

struct RepairJsonSpec {
  std::string source;      // the file; relative = relative to root (or cwd)
  std::string to;          // directory for the repaired copy; "" = the source's own
  std::string root;        // "" = no confinement (symlinks are still refused)
  std::string quarantine;  // "" = the original stays where it is
  WallTime time{};         // for the reason file
  std::string rule;
  std::uint64_t cause_seq = 0;
  bool resumed = false;  // run again by a resumed plan (see above)
  std::uint64_t max_bytes = std::uint64_t{256} << 20;
};

// Outcome fields: from; result ("valid": nothing to do, "repaired",
// "quarantined": not repairable and moved aside); for a file that was not
// valid: error, error_offset; repaired: repaired (the copy's path) and changes
// ("removed a trailing comma at 52; closed 2 open objects/arrays at 118");
// quarantined (with `quarantine`): quarantined (where the original went).
// Not repairable without `quarantine`: category execution, with why.
ActionOutcome repair_json_file(const RepairJsonSpec& spec);

namespace detail {
// "a.json" → "a.repaired.json", "a" → "a.repaired", "a.tar.gz" → "a.tar.repaired.gz".
std::string repaired_name(const std::string& name);
}  // namespace detail

}  // namespace aw
