// Helpers shared by the eventlog tests: a temp dir that cleans up, file helpers,
// numbered events, and a loop fixture that checks every handle and request is gone.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>
#include <zlib.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "src/core/event.h"
#include "src/uvx/run_until.h"

namespace aw::testing {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/aw-eventlog-XXXXXX";
    const char* p = ::mkdtemp(tmpl);
    EXPECT_NE(p, nullptr);
    path_ = p ? p : "/tmp";
  }
  ~TempDir() { remove_tree(path_); }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

  static void remove_tree(const std::string& path) {
    if (DIR* d = ::opendir(path.c_str())) {
      while (const dirent* e = ::readdir(d)) {
        const std::string name = e->d_name;
        if (name == "." || name == "..") continue;
        const std::string child = path + "/" + name;
        struct stat st;
        if (::lstat(child.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
          remove_tree(child);
        else
          ::unlink(child.c_str());
      }
      ::closedir(d);
    }
    ::rmdir(path.c_str());
  }

 private:
  std::string path_;
};

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void write_file(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

inline void append_file(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::app);
  out << data;
}

inline bool file_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

inline std::string gunzip_file(const std::string& path) {
  std::string out;
  gzFile gz = ::gzopen(path.c_str(), "rb");
  if (!gz) return out;
  char buf[8192];
  int n;
  while ((n = ::gzread(gz, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  ::gzclose(gz);
  return out;
}

inline void write_gzip_file(const std::string& path, const std::string& data) {
  gzFile gz = ::gzopen(path.c_str(), "wb");
  ASSERT_NE(gz, nullptr);
  ASSERT_EQ(::gzwrite(gz, data.data(), static_cast<unsigned>(data.size())),
            static_cast<int>(data.size()));
  ASSERT_EQ(::gzclose(gz), Z_OK);
}

inline std::set<std::string> list_dir(const std::string& path) {
  std::set<std::string> names;
  if (DIR* d = ::opendir(path.c_str())) {
    while (const dirent* e = ::readdir(d)) {
      const std::string name = e->d_name;
      if (name != "." && name != "..") names.insert(name);
    }
    ::closedir(d);
  }
  return names;
}

inline std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  for (std::size_t nl; (nl = s.find('\n', start)) != std::string::npos; start = nl + 1)
    lines.push_back(s.substr(start, nl - start));
  return lines;
}

// A recognisable event: kind "test.tick", seq n, time 2026-11-22T00:00:00Z + n ms.
inline Event numbered_event(std::uint64_t n, std::string kind = "test.tick") {
  Event e;
  e.kind = std::move(kind);
  e.source = "test";
  e.seq = n;
  e.time = WallTime(std::chrono::seconds(1'795'305'600)) + std::chrono::milliseconds(n);
  e.path = "/w/results/" + std::to_string(n) + ".json";
  e.entity = "worker-" + std::to_string(n % 3);
  e.fields.set("n", static_cast<std::int64_t>(n));
  return e;
}

inline std::string numbered_line(std::uint64_t n, std::string kind = "test.tick") {
  return to_json_line(numbered_event(n, std::move(kind)));
}

// A fresh libuv loop per test, a guard timer against hangs, and at teardown a check
// that everything was closed (uv_loop_close()==0).
class LoopTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(uv_loop_init(&loop_), 0); }
  void TearDown() override {
    uv_run(&loop_, UV_RUN_DEFAULT);  // let queued work and close callbacks finish
    EXPECT_EQ(uv_loop_close(&loop_), 0) << "a handle or request outlived the test";
  }

  // Runs the loop until `done()` holds; a guard timer fails the test after `timeout`
  // instead of letting it hang.
  void run_until(const std::function<bool()>& done,
                 std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    bool fired = false;
    auto* guard = new uv_timer_t;
    uv_timer_init(&loop_, guard);
    guard->data = &fired;
    uv_timer_start(
        guard, [](uv_timer_t* t) { *static_cast<bool*>(t->data) = true; },
        static_cast<std::uint64_t>(timeout.count()), 0);
    uvx::run_until(&loop_, [&] { return done() || fired; });
    uv_close(reinterpret_cast<uv_handle_t*>(guard),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    uv_run(&loop_, UV_RUN_NOWAIT);
    EXPECT_FALSE(fired) << "timed out after " << timeout.count() << " ms";
  }

  uv_loop_t loop_;
};

}  // namespace aw::testing
