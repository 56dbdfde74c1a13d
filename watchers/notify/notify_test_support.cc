#include "watchers/notify/notify_test_support.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <map>
#include <set>

#include "watchers/notify/notify_protocol.h"
#include "watchers/notify/notify_spool.h"

namespace aw::notify_test {

std::string field(const Event& e, const char* key) {
  return e.fields.get_string(key).value_or("<absent>");
}

std::vector<std::string> read_lines(const std::string& path) {
  std::vector<std::string> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

pid_t fork_spool_appender(const std::string& dir, int proc, int count) {
  const pid_t pid = fork();
  if (pid != 0) return pid;
  int failures = 0;
  for (int i = 0; i < count; ++i) {
    NotifyMessage m;
    m.kind = "worker.tick";
    m.entity = std::to_string(proc) + ":" + std::to_string(i);
    m.id = static_cast<std::uint64_t>(proc + 1) << 32 | static_cast<std::uint64_t>(i + 1);
    failures += !append_to_notify_spool(dir, encode_notify_line(m)).ok();
  }
  _exit(failures == 0 ? 0 : 1);
}

void expect_each_appended_once_in_order(const std::vector<Event>& events, int procs, int count) {
  std::map<int, int> next;
  std::set<std::string> seen;
  for (const auto& e : events) {
    ASSERT_EQ(e.kind, "worker.tick") << field(e, "detail");
    EXPECT_TRUE(seen.insert(e.entity).second) << e.entity << " delivered twice";
    const int p = std::stoi(e.entity);
    const int i = std::stoi(e.entity.substr(e.entity.find(':') + 1));
    EXPECT_EQ(i, next[p]++) << "proc " << p << " out of order";
  }
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(procs * count));
}

std::size_t LoopTest::count(std::string_view kind) const {
  std::size_t n = 0;
  for (const auto& e : events_) n += e.kind == kind;
  return n;
}

const Event* LoopTest::find(std::string_view kind, std::size_t nth) const {
  for (const auto& e : events_)
    if (e.kind == kind && nth-- == 0) return &e;
  return nullptr;
}

std::size_t LoopTest::count_refused(std::string_view reason) const {
  std::size_t n = 0;
  for (const auto& e : events_) n += e.kind == "notify.refused" && field(e, "reason") == reason;
  return n;
}

}  // namespace aw::notify_test
