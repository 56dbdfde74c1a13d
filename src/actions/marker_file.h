// The file half of the `mark` action: write a marker file that says an entity
// reached a state. (The daemon records the state itself from the outcome.)
//
// Blocking: call on the thread pool.
#pragma once

#include <cstdint>
#include <string>

#include "src/actions/action_outcome.h"
#include "src/core/clock.h"

namespace aw {

struct MarkerSpec {
  std::string marker;  // path of the marker file; relative = relative to root (or cwd)
  std::string root;    // "" = no confinement
  std::string entity;
  std::string state;
  std::string rule;
  std::uint64_t cause_seq = 0;
  WallTime time{};
};

// Writes {entity, state, time, rule, cause_seq} as one JSON line to `marker`,
// atomically (temporary file, fsync, rename over, fsync of the directory), the
// missing parent directories created (mode 0700). Under a root, the marker must
// lie below it. No directory on its path (from the root, or from "/") may be a
// symlink; a symlink at the marker's own name is replaced, never followed. Outcome fields: entity,
// state, marker (absolute).
ActionOutcome write_marker(const MarkerSpec& spec);

}  // namespace aw
