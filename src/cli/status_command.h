// `agentwatch status [--json]` (README; docs/http.md "status"): the running
// daemon's own answer over the control socket (live numbers), else the status
// file it left in the runtime dir.
//
// Exit status, as monit and systemctl use them: 0 running and healthy; 1
// running with problems (problems() below); 3 not running (or unreachable).
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "src/daemon/paths.h"

namespace aw {

// What is wrong in a status object, one line each: the daemon is degraded,
// its HTTP endpoint is down, an alert is firing, a worker gave up or has its
// circuit open, an entity is a zombie. Empty when healthy. Past failures (last_errors) are
// history, not problems.
std::vector<std::string> status_problems(const std::string& status_json);

int status_command(const Paths& paths, bool json, std::ostream& out, std::ostream& err);

}  // namespace aw
