#include "src/tmux/tmux_test_support.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>

namespace aw::tmux_testing {

TempDir::TempDir(const std::string& prefix) {
  std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
  if (!::mkdtemp(tmpl.data())) ADD_FAILURE() << "mkdtemp failed";
  path_ = tmpl;
}

TempDir::~TempDir() {
  ::nftw(
      path_.c_str(),
      [](const char* p, const struct stat*, int, struct FTW*) { return ::remove(p); }, 16,
      FTW_DEPTH | FTW_PHYS);
}

void write_file(const std::string& path, const std::string& content, int mode) {
  std::ofstream(path, std::ios::binary) << content;
  ::chmod(path.c_str(), static_cast<mode_t>(mode));
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") out.push_back(n);
    }
    ::closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string private_server_name() {
  std::random_device rd;
  std::ostringstream ss;
  ss << "aw-test-" << ::getpid() << "-" << std::hex << rd() << rd();
  return ss.str();
}

void TmuxLoopTest::SetUp() {
  ASSERT_EQ(uv_loop_init(&loop_), 0);
  server_name_ = private_server_name();
  // A generous ceiling: under ASan on a loaded CI machine a tmux client can
  // take seconds; the tests wait on events, never on this timeout.
  client_ = std::make_unique<TmuxClient>(&loop_, clock_, server(), client_options());
}

void TmuxLoopTest::TearDown() {
  if (client_) {
    // Commands the test left in flight (a new-session, say) finish first, so
    // that no server is started after the kill.
    run_until([&] { return client_->in_flight() == 0; });
    // Whatever the test left: the private server goes (its absence is fine).
    auto killed = tmux({"kill-server"});
    EXPECT_TRUE(killed.ok() && (killed->ok() || killed->unreachable()))
        << "kill-server: " << (killed.ok() ? killed->err : killed.error().message);
    client_.reset();
    // tmux leaves its socket file behind when the server exits.
    const char* dir = ::getenv("TMUX_TMPDIR");
    std::string socket = std::string(dir && *dir ? dir : "/tmp") + "/tmux-" +
                         std::to_string(::getuid()) + "/" + server_name_;
    ::unlink(socket.c_str());
  }
  uv_run(&loop_, UV_RUN_DEFAULT);  // let closing handles finish
  EXPECT_EQ(uv_loop_close(&loop_), 0) << "a handle was left open";
}

bool TmuxLoopTest::run_until(const std::function<bool()>& done, Duration limit) {
  bool fired = false;
  uvx::Timer guard(&loop_, [&] { fired = true; });
  guard.start(static_cast<std::uint64_t>(to_ms(limit)));
  // A callback that makes done() true may run from a timer at the top of a
  // loop iteration, which would then block in poll: checking before every
  // poll (a prepare handle) and stopping the loop avoids that wait.
  struct Check {
    const std::function<bool()>* done;
    bool* fired;
  } check{&done, &fired};
  uvx::Handle<uv_prepare_t> prepare;
  if (uv_prepare_init(&loop_, prepare.get()) == 0) prepare.initialized(&check);
  uv_prepare_start(prepare.get(), [](uv_prepare_t* p) {
    auto* c = static_cast<Check*>(p->data);
    if (c && ((*c->done)() || *c->fired)) uv_stop(p->loop);
  });
  uv_unref(prepare.base());
  while (!done() && !fired) uv_run(&loop_, UV_RUN_DEFAULT);
  EXPECT_FALSE(fired) << "guard timer fired after " << to_ms(limit) << " ms";
  return !fired;
}

Result<TmuxReply> TmuxLoopTest::tmux(std::vector<std::string> args) {
  std::optional<Result<TmuxReply>> reply;
  client_->run(std::move(args), [&](Result<TmuxReply> r) { reply.emplace(std::move(r)); });
  if (!run_until([&] { return reply.has_value(); })) {
    // The callback holds a reference to `reply`, which dies with this frame:
    // a new client kills the command and drops the callback before it can run.
    client_ = std::make_unique<TmuxClient>(&loop_, clock_, server(), client_options());
    reply.emplace(make_error("no reply before the guard fired"));
  }
  if (!reply->ok()) {
    // Always a reply, so a caller's `tmux(...)->ok()` fails its assertion with
    // this message instead of aborting on an empty Result.
    ADD_FAILURE() << reply->error().message;
    TmuxReply failed;
    failed.exit_code = -1;
    failed.err = reply->error().message;
    return failed;
  }
  return std::move(*reply);
}

TmuxClientOptions TmuxLoopTest::client_options() {
  TmuxClientOptions options;
  options.timeout = std::chrono::seconds(15);
  return options;
}

TmuxServer TmuxLoopTest::server() const {
  return TmuxServer{{"tmux", "-L", server_name_, "-f", "/dev/null"}};
}

}  // namespace aw::tmux_testing
