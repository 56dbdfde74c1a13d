#include "tests/integration/harness.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace aw::testing {
namespace fs = std::filesystem;

std::string agentwatch_bin() {
  const char* bin = std::getenv("AGENTWATCH_BIN");
  if (!bin) throw std::runtime_error("AGENTWATCH_BIN is not set (run through meson test)");
  return bin;
}

TempDir::TempDir(const std::string& base) {
  std::string tmpl = base + "/aw-itest-XXXXXX";
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed under " + base);
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

void write_file(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error("cannot write " + path);
  out << content;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool exists(const std::string& path) {
  struct stat st {};
  return lstat(path.c_str(), &st) == 0;
}

void make_dirs(const std::string& path) {
  fs::create_directories(path);
}

void write_file_atomically(const std::string& path, const std::string& content) {
  auto slash = path.find_last_of('/');
  std::string tmp = path.substr(0, slash + 1) + "." + path.substr(slash + 1) + ".tmp";
  write_file(tmp, content);
  if (rename(tmp.c_str(), path.c_str()) != 0) throw std::runtime_error("rename failed");
}

namespace {

// Waits until the inotify fd `ifd` reports something, at most 200 ms (so a
// caller re-checks even if an event was coalesced away) and never past
// `deadline`. False when the deadline has passed: the caller gives up.
bool wait_for_change(int ifd, std::chrono::steady_clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  if (left.count() <= 0) return false;
  pollfd p{ifd, POLLIN, 0};
  if (poll(&p, 1, static_cast<int>(std::min<long>(left.count(), 200))) > 0) {
    char buf[4096];
    while (read(ifd, buf, sizeof buf) > 0) {
    }
  }
  return true;
}

pid_t spawn(const std::vector<std::string>& argv, int out_fd, int err_fd) {
  std::vector<char*> args;
  args.reserve(argv.size());
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  if (out_fd >= 0) posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
  if (err_fd >= 0) posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) throw std::runtime_error("posix_spawnp " + argv[0] + ": " + std::strerror(rc));
  return pid;
}

// waitpid with a deadline; returns the status or -1 on timeout.
int wait_with_timeout(pid_t pid, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  for (;;) {
    int status = 0;
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      if (pidfd >= 0) close(pidfd);
      return status;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    if (pidfd >= 0) {
      pollfd p{pidfd, POLLIN, 0};
      poll(&p, 1, static_cast<int>(left.count()));
    } else {
      std::this_thread::sleep_for(5ms);
    }
  }
  if (pidfd >= 0) close(pidfd);
  return -1;
}

int exit_code_of(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

CommandResult run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  TempDir io;
  std::string out_path = io / "out", err_path = io / "err";
  int out_fd = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  int err_fd = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  pid_t pid = spawn(argv, out_fd, err_fd);
  close(out_fd);
  close(err_fd);
  CommandResult r;
  int status = wait_with_timeout(pid, timeout);
  if (status < 0) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    r.exit_code = -1;
  } else {
    r.exit_code = exit_code_of(status);
  }
  r.out = read_file(out_path);
  r.err = read_file(err_path);
  return r;
}

CommandResult run_agentwatch(const std::vector<std::string>& args,
                             std::chrono::milliseconds timeout) {
  std::vector<std::string> argv{agentwatch_bin()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv, timeout);
}

std::string wait_for_file(const std::string& path,
                          const std::function<bool(const std::string&)>& pred,
                          std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const std::string dir = path.substr(0, path.find_last_of('/'));
  const int ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  inotify_add_watch(ifd, dir.c_str(), IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE);
  std::string text;
  for (;;) {
    text = exists(path) ? read_file(path) : "";
    if (pred(text) || !wait_for_change(ifd, deadline)) break;
  }
  close(ifd);
  return text;
}

namespace {

std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> kids;
  std::error_code ec;
  for (std::filesystem::directory_iterator it("/proc", ec), end; !ec && it != end;
       it.increment(ec)) {
    const std::string name = it->path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::string stat = proc_stat_text(static_cast<pid_t>(std::stol(name)));
    const auto paren = stat.rfind(')');
    if (paren == std::string::npos) continue;
    std::istringstream rest(stat.substr(paren + 2));  // "S PPID ..."
    char state = 0;
    pid_t ppid = 0;
    if (rest >> state >> ppid && ppid == parent) kids.push_back(std::stoi(name));
  }
  return kids;
}

}  // namespace

DaemonUnderTest::DaemonUnderTest(const std::string& base) : dir_(base) {
  // A daemon's stop leaves its workers running (released to us, not to init).
  become_subreaper();
  make_dirs(rules_dir());
  make_dirs(state_dir());
  stderr_path_ = dir_ / "daemon.stderr";
}

DaemonUnderTest::~DaemonUnderTest() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    int status;
    waitpid(pid_, &status, 0);
  }
  kill_released_workers();
  reap_orphans();
}

void DaemonUnderTest::kill_released_workers() const {
  // Each worker a stop left running is now our child (we are a subreaper):
  // one of ours with its PID is that worker, not a reused PID.
  const std::vector<pid_t> ours = children_of(getpid());
  for (const Event& e : events()) {
    if (e.kind != "worker.released") continue;
    const auto pid = static_cast<pid_t>(e.fields.get_int("pid").value_or(0));
    if (pid <= 0 || std::find(ours.begin(), ours.end(), pid) == ours.end()) continue;
    kill(-pid, SIGKILL);  // its group: it leads one of its own
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
}

std::vector<std::string> DaemonUnderTest::path_flags() const {
  return {"--config",      config_dir() + "/agentwatch.toml",
          "--state-dir",   state_dir(),
          "--runtime-dir", runtime_dir()};
}

void DaemonUnderTest::write_config(const std::string& toml) {
  write_file(config_dir() + "/agentwatch.toml", toml);
}

void DaemonUnderTest::write_rule(const std::string& file_name, const std::string& toml) {
  write_file(rules_dir() + "/" + file_name, toml);
}

void DaemonUnderTest::start(const std::vector<std::string>& extra_args,
                            const std::vector<std::string>& launcher) {
  if (pid_ > 0) throw std::runtime_error("daemon already started");
  const std::size_t started_before =
      count([](const Event& e) { return e.kind == "daemon.started"; });
  std::vector<std::string> argv = launcher;
  argv.push_back(agentwatch_bin());
  auto flags = path_flags();
  argv.insert(argv.end(), flags.begin(), flags.end());
  argv.emplace_back("run");
  // Tests run beside each other and beside a developer's daemon: any free
  // port, never the default 9464 (daemon.started says which one).
  if (std::find(extra_args.begin(), extra_args.end(), "--http") == extra_args.end())
    argv.insert(argv.end(), {"--http", "127.0.0.1:0"});
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  int err_fd = open(stderr_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  pid_ = spawn(argv, err_fd, err_fd);
  close(err_fd);
  if (wait_for_count([](const Event& e) { return e.kind == "daemon.started"; }, started_before + 1,
                     15s) <= started_before) {
    throw std::runtime_error("daemon did not start; stderr:\n" + stderr_text());
  }
}

int DaemonUnderTest::stop(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  int status = wait_with_timeout(pid_, timeout);
  if (status < 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return -1;
  }
  pid_ = -1;
  return exit_code_of(status);
}

void DaemonUnderTest::kill9() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int status;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

void DaemonUnderTest::signal(int sig) {
  if (pid_ > 0) kill(pid_, sig);
}

std::string DaemonUnderTest::stderr_text() const {
  return read_file(stderr_path_);
}

std::vector<Event> DaemonUnderTest::events() const {
  std::vector<Event> out;
  std::ifstream in(event_log());
  std::string line;
  while (std::getline(in, line)) {
    if (in.eof()) break;  // a torn last line is not a record yet
    auto e = parse_event_json(line);
    if (e) out.push_back(std::move(*e));
  }
  return out;
}

std::size_t DaemonUnderTest::count(const std::function<bool(const Event&)>& pred) const {
  std::size_t n = 0;
  for (const auto& e : events()) n += pred(e) ? 1 : 0;
  return n;
}

std::size_t DaemonUnderTest::wait_for_count(const std::function<bool(const Event&)>& pred,
                                            std::size_t want,
                                            std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  make_dirs(state_dir());
  inotify_add_watch(ifd, state_dir().c_str(), IN_MODIFY | IN_CREATE | IN_MOVED_TO);
  std::size_t n = 0;
  std::size_t offset = 0;
  std::string pending;
  for (;;) {
    // Read what was appended since last time; the writer only appends whole lines.
    std::ifstream in(event_log(), std::ios::binary);
    if (in) {
      in.seekg(0, std::ios::end);
      std::size_t size = static_cast<std::size_t>(in.tellg());
      if (size < offset) offset = 0, pending.clear(), n = 0;  // rotated under us: recount
      in.seekg(static_cast<std::streamoff>(offset));
      std::string chunk(size - offset, '\0');
      in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
      offset = size;
      pending += chunk;
      std::size_t start = 0, nl;
      while ((nl = pending.find('\n', start)) != std::string::npos) {
        auto e = parse_event_json(std::string_view(pending).substr(start, nl - start));
        if (e && pred(*e)) ++n;
        start = nl + 1;
      }
      pending.erase(0, start);
    }
    if (n >= want || !wait_for_change(ifd, deadline)) break;
  }
  close(ifd);
  return n;
}

std::optional<Event> DaemonUnderTest::wait_for(const std::function<bool(const Event&)>& pred,
                                               std::chrono::milliseconds timeout) const {
  if (wait_for_count(pred, 1, timeout) == 0) return std::nullopt;
  for (auto& e : events())
    if (pred(e)) return e;
  return std::nullopt;
}

std::optional<Event> DaemonUnderTest::wait_for_kind(const std::string& kind,
                                                    std::chrono::milliseconds timeout) const {
  return wait_for([&](const Event& e) { return e.kind == kind; }, timeout);
}

CommandResult DaemonUnderTest::cli(const std::vector<std::string>& args) const {
  std::vector<std::string> full = path_flags();
  full.insert(full.end(), args.begin(), args.end());
  return run_agentwatch(full);
}

namespace {

void kill_leftover_children() {
  // Killing a child can orphan its own children to us: go round until none.
  for (int round = 0; round < 10; ++round) {
    const std::vector<pid_t> kids = children_of(getpid());
    if (kids.empty()) return;
    for (pid_t k : kids) kill(k, SIGKILL);
    for (pid_t k : kids) waitpid(k, nullptr, 0);
  }
}

}  // namespace

void become_subreaper() {
  static const bool once = [] {
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    std::atexit(kill_leftover_children);
    return true;
  }();
  (void)once;
}

bool DaemonUnderTest::wait_for_process_journaled(pid_t pid,
                                                 std::chrono::milliseconds timeout) const {
  const std::string record =
      R"("key":"supervise.process","value":"pid=)" + std::to_string(pid) + " ";
  auto has = [&](const std::string& text) { return text.find(record) != std::string::npos; };
  return has(wait_for_file(state_dir() + "/lifecycle.journal", has, timeout));
}

void reap_orphans() {
  int status;
  while (waitpid(-1, &status, WNOHANG) > 0) {
  }
}

// Read with read(2): an ifstream throws from its underflow when the process
// exits between the open and the read (ESRCH), and children_of runs at exit,
// where a throw aborts a test binary whose cases all passed.
std::string proc_stat_text(pid_t pid) {
  const int fd = ::open(("/proc/" + std::to_string(pid) + "/stat").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  char buf[1024];
  const ssize_t n = ::read(fd, buf, sizeof buf);
  ::close(fd);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "";
}

}  // namespace aw::testing
