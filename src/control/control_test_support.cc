#include "src/control/control_test_support.h"

#include <csignal>

namespace aw::control_test {

void LoopTest::SetUp() {
  // A client that leaves makes the server's next write fail with EPIPE; the
  // daemon ignores SIGPIPE, and so must the test process.
  std::signal(SIGPIPE, SIG_IGN);
  uvx_test::LoopTest::SetUp();
}

}  // namespace aw::control_test
