#include "src/logpipe/test_producer.h"

#include <gtest/gtest.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <sstream>

namespace aw::testing {

pid_t spawn_line_producer(int fd, int lines) {
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  // Child: async-signal-safe calls only.
  char buf[256];
  struct timespec next {};
  ::clock_gettime(CLOCK_MONOTONIC, &next);
  for (int i = 0; i < lines;) {
    int len = 0;
    for (int j = 0; j < 10 && i < lines; ++j, ++i)
      len += std::snprintf(buf + len, sizeof buf - static_cast<std::size_t>(len), "line %d\n", i);
    for (int off = 0; off < len;) {
      const ssize_t n = ::write(fd, buf + off, static_cast<std::size_t>(len - off));
      if (n <= 0) ::_exit(3);
      off += static_cast<int>(n);
    }
    // Pacing like a real producer (absolute deadlines: no drift), not synchronisation.
    next.tv_nsec += 1'000'000;
    if (next.tv_nsec >= 1'000'000'000) {
      next.tv_nsec -= 1'000'000'000;
      ++next.tv_sec;
    }
    ::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, nullptr);
  }
  ::_exit(0);
}

void expect_every_line_once_in_order(const std::vector<std::pair<std::string, std::string>>& files,
                                     int lines) {
  int next = 0;
  int out_of_order = 0;
  std::vector<int> seen(static_cast<std::size_t>(lines), 0);
  for (const auto& [name, text] : files) {
    if (!text.empty()) {
      EXPECT_EQ(text.back(), '\n') << name << " ends mid-line";
    }
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
      ASSERT_EQ(line.rfind("line ", 0), 0u) << name << ": " << line;
      const int n = std::stoi(line.substr(5));
      ASSERT_TRUE(n >= 0 && n < lines) << line;
      ++seen[static_cast<std::size_t>(n)];
      if (n != next) ++out_of_order;
      next = n + 1;
    }
  }
  int missing = 0, doubled = 0;
  for (int s : seen) {
    missing += s == 0;
    doubled += s > 1;
  }
  EXPECT_EQ(missing, 0);
  EXPECT_EQ(doubled, 0);
  EXPECT_EQ(out_of_order, 0);
}

}  // namespace aw::testing
