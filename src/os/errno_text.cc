#include "src/os/errno_text.h"

#include <cstring>

namespace aw {

std::string errno_text(int err) {
  char buf[256];
  // GNU strerror_r: returns the text, which may or may not live in buf.
  return ::strerror_r(err, buf, sizeof buf);
}

Error errno_error(const std::string& what, int err) {
  return make_error(what + ": " + errno_text(err), -err);
}

}  // namespace aw
