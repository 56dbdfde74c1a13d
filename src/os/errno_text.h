// errno in words, once: strerror() is not thread-safe, and the thread pool
// reports errors too.
#pragma once

#include <string>

#include "src/core/result.h"

namespace aw {

// "No such file or directory" for ENOENT. Thread-safe.
std::string errno_text(int err);

// make_error("WHAT: <errno_text(err)>", -err): the shape of every OS error a
// user sees ("cannot open '/x': Permission denied"), with the negative errno
// kept as the code so a caller can tell ENOENT from the rest.
Error errno_error(const std::string& what, int err);

}  // namespace aw
