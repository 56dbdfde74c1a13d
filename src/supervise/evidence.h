// What a verdict about a process rests on: which signal said what, when.
// Evidence itself is the lifecycle layer's type (src/state/lifecycle.h:
// {signal, detail, time}), so a verdict's evidence goes into a transition as is.
#pragma once

#include <string>
#include <vector>

#include "src/state/lifecycle.h"

namespace aw {

using EvidenceList = std::vector<Evidence>;

// "pidfd: exited @ 2026-…Z; wait4: status 1" — for event fields.
std::string format_evidence(const EvidenceList& evidence);

}  // namespace aw
