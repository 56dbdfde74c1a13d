// Turns a filesystem error (negative errno + a message naming the path) into an
// ActionOutcome with the right category and a one-line suggestion. Pure.
#pragma once

#include "src/actions/action_outcome.h"
#include "src/core/result.h"

namespace aw {

// ENOENT → not_found; EACCES, EPERM, EROFS, ELOOP (a symlink), EXDEV (outside
// the root) → permission; ENOSPC, EDQUOT, EMFILE, ENFILE, ENOMEM, EAGAIN,
// EMLINK, EEXIST (no free name), EFBIG (over a size limit) → resource; EINVAL → validation;
// anything else → execution.
const char* category_for_errno(int negative_errno);

ActionOutcome fs_failure(const Error& error, Fields fields = {});

}  // namespace aw
