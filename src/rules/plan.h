// Moved to src/plan/plan.h (the plan types live below src/rules, src/actions and
// src/supervise). Kept only for src/supervise/restart_policy.h until it includes
// src/plan/retry_policy.h; new code includes src/plan/ directly.
#pragma once

#include "src/plan/plan.h"
