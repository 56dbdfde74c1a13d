// Shared by the control tests: a temp dir, a blocking raw socket client (run
// on a thread while the loop runs on the test's thread), and a loop fixture.
// The pieces every unix-socket server's tests share are in
// src/uvx/unix_listener_test_support.h; this adds what is control's own.
#pragma once

#include "src/uvx/unix_listener_test_support.h"

namespace aw::control_test {

// mkdtemp under /tmp (0700, like a runtime dir); removed with its content.
struct TempDir : uvx_test::TempDir {
  TempDir() : uvx_test::TempDir("aw-control") {}
};

using uvx_test::ClientThread;
using uvx_test::RawClient;

// A fresh loop per test, and an async handle client threads use to wake it.
class LoopTest : public uvx_test::LoopTest {
 protected:
  // Also ignores SIGPIPE, as the daemon does.
  void SetUp() override;
};

}  // namespace aw::control_test
