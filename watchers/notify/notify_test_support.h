// Shared by the notify tests: a temp dir, a blocking raw socket client (run on
// a thread while the loop runs on the test's thread), and a loop fixture that
// collects the events the component under test emitted. The pieces every
// unix-socket server's tests share are in src/uvx/unix_listener_test_support.h;
// this adds what is notify's own.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "src/core/event.h"
#include "src/uvx/unix_listener_test_support.h"

namespace aw::notify_test {

// mkdtemp under /tmp (0700, like a runtime dir); removed with its content.
struct TempDir : uvx_test::TempDir {
  TempDir() : uvx_test::TempDir("aw-notify") {}
};

using uvx_test::RawClient;

std::string field(const Event& e, const char* key);
std::vector<std::string> read_lines(const std::string& path);
// Forks a process that appends `count` worker.tick messages to the spool in
// `dir` (entity "PROC:I", id (PROC+1)<<32 | I+1) and exits 0 when every append
// succeeded: one of several appenders racing an ingestion. Returns its pid.
pid_t fork_spool_appender(const std::string& dir, int proc, int count);
// What `procs` such appenders of `count` each must have delivered: every
// message exactly once, each appender's in its order.
void expect_each_appended_once_in_order(const std::vector<Event>& events, int procs, int count);

// A fresh loop per test, an async handle client threads use to wake it, and
// the events the component under test emitted.
class LoopTest : public uvx_test::LoopTest {
 protected:
  std::function<void(Event)> collector() {
    return [this](Event e) { events_.push_back(std::move(e)); };
  }
  std::size_t count(std::string_view kind) const;
  const Event* find(std::string_view kind, std::size_t nth = 0) const;
  std::size_t count_refused(std::string_view reason) const;

  std::vector<Event> events_;
};

}  // namespace aw::notify_test
