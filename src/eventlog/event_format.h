// The readable one-line rendering of an Event that `agentwatch events` prints by
// default (`--json` prints the logged line unchanged instead):
//
//   2026-11-22T11:20:39.123Z  #42  file.landed  /w/results/a.json  @w3  via=close_write size=12
//   (rule=r ← #3) 2026-11-22T11:20:41.500Z  #43  !action.failed  @w3  action=restart exit=1 (rule=r
//   ← #42, depth 1)
//
// time, #seq, kind, then what is present of: path, @entity, fields as k=v in logged
// order, and (rule=… ← #cause, depth N) for derived events. A failure (is_failure)
// has its kind prefixed with '!' so it stands out, greppable without colour.
//
// Text comes from untrusted sources (file names, agents' messages): control
// characters are shown escaped (\n, \x1b, \u009b) so a line can never move the
// cursor or recolour the terminal; a value with spaces, quotes, '=' or escapes is
// shown as a JSON string. ANSI colour only when asked (the CLI asks on a TTY).
#pragma once

#include <string>

#include "src/core/event.h"

namespace aw {

struct EventFormatOptions {
  bool color = false;
};

// One line, without the trailing '\n'.
std::string format_event_line(const Event& e, const EventFormatOptions& options = {});

}  // namespace aw
