// The client against a live NotifyServer (on this thread's loop, the client on
// another thread), against no server, a stale socket, a server that never
// reads, and from several processes at once.
#include "watchers/notify/notify_client.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <memory>

#include "watchers/notify/notify_protocol.h"
#include "watchers/notify/notify_server.h"
#include "watchers/notify/notify_spool.h"
#include "watchers/notify/notify_test_support.h"

namespace aw {
namespace {

using notify_test::field;
using notify_test::read_lines;

Event sample_event() {
  auto e = parse_notify_args("tmux.session-closed", {"session=w1", "pane_pid=123", "entity=w1"});
  EXPECT_TRUE(e.ok());
  return *e;
}

// Binds a socket file at `path`; listens when asked, else closes it (stale).
int bind_socket(const std::string& path, bool listening) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0) << std::strerror(errno);
  if (listening) {
    EXPECT_EQ(listen(fd, 16), 0);
    return fd;
  }
  close(fd);
  return -1;
}

class NotifyClientTest : public notify_test::LoopTest {
 protected:
  void release_handles() override { server_.reset(); }
  void start(NotifyServer::Options options = {}) {
    server_ = std::make_unique<NotifyServer>(&loop_, clock_, collector(), std::move(options));
    Status s = server_->start(dir_.path);
    ASSERT_TRUE(s.ok()) << s.error().message;
  }
  // send_notification on a thread while the loop serves.
  Result<NotifyDelivery> send_live(const Event& e, Duration timeout = std::chrono::seconds(2)) {
    Result<NotifyDelivery> out = make_error("not run");
    run_client([&] { out = send_notification(dir_.path, e, timeout); });
    return out;
  }
  std::string spool() const { return notify_spool_path(dir_.path); }

  notify_test::TempDir dir_;
  SystemClock clock_;
  std::unique_ptr<NotifyServer> server_;
};

TEST(NotifyArgs, KeyValuesBecomeFieldsAndClearIntegersBecomeInts) {
  auto e = parse_notify_args(
      "tmux.session-closed",
      {"session=w1", "pane_pid=123", "entity=w1", "neg=-5", "zero=0", "padded=007", "ratio=1.5",
       "flag=true", "empty=", "mixed=12abc", "eq=a=b", "huge=99999999999999999999"});
  ASSERT_TRUE(e.ok()) << e.error().message;
  EXPECT_EQ(e->kind, "tmux.session-closed");
  EXPECT_EQ(e->entity, "w1");
  EXPECT_EQ(e->fields.find("entity"), nullptr);
  EXPECT_EQ(*e->fields.find("session"), FieldValue(std::string("w1")));
  EXPECT_EQ(*e->fields.find("pane_pid"), FieldValue(std::int64_t{123}));
  EXPECT_EQ(*e->fields.find("neg"), FieldValue(std::int64_t{-5}));
  EXPECT_EQ(*e->fields.find("zero"), FieldValue(std::int64_t{0}));
  EXPECT_EQ(*e->fields.find("padded"), FieldValue(std::string("007")));
  EXPECT_EQ(*e->fields.find("ratio"), FieldValue(std::string("1.5")));
  EXPECT_EQ(*e->fields.find("flag"), FieldValue(std::string("true")));
  EXPECT_EQ(*e->fields.find("empty"), FieldValue(std::string("")));
  EXPECT_EQ(*e->fields.find("mixed"), FieldValue(std::string("12abc")));
  EXPECT_EQ(*e->fields.find("eq"), FieldValue(std::string("a=b")));
  EXPECT_EQ(*e->fields.find("huge"), FieldValue(std::string("99999999999999999999")));
}

TEST(NotifyArgs, ErrorsNameTheArgument) {
  struct Case {
    std::string kind;
    std::vector<std::string> args;
    std::string says;
  } cases[] = {
      {"tmux.x", {"a=1", "novalue"}, "argument 2 (\"novalue\"): expected key=value"},
      {"tmux.x", {"=1"}, "argument 1 (\"=1\"): field key is empty"},
      {"tmux.x", {"a=1", "a=2"}, "argument 2 (\"a=2\"): key \"a\" given twice"},
      {"tmux.x", {"entity=a", "entity=b"}, "argument 2 (\"entity=b\"): entity given twice"},
      {"tmux.x", {"peer_pid=1"}, "argument 1 (\"peer_pid=1\"): field \"peer_pid\" is reserved"},
      {"tmux.x", {"bad key=1"}, "expected letters"},
      {"Tmux.x", {}, "expected lowercase letters"},
  };
  for (const auto& c : cases) {
    auto e = parse_notify_args(c.kind, c.args);
    ASSERT_FALSE(e.ok()) << c.says;
    EXPECT_NE(e.error().message.find(c.says), std::string::npos) << e.error().message;
  }
}

TEST_F(NotifyClientTest, RoundTripAgainstALiveServer) {
  start();
  auto d = send_live(sample_event());
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_FALSE(d->spooled);
  EXPECT_TRUE(d->confirmed);
  ASSERT_EQ(events_.size(), 1u);
  const Event& e = events_[0];
  EXPECT_EQ(e.kind, "tmux.session-closed");
  EXPECT_EQ(e.entity, "w1");
  EXPECT_EQ(field(e, "session"), "w1");
  EXPECT_EQ(e.fields.get_int("pane_pid"), 123);
  EXPECT_EQ(e.fields.get_int("peer_pid"), getpid());
  EXPECT_EQ(e.fields.find("spooled"), nullptr);
  struct stat st {};
  EXPECT_NE(stat(spool().c_str(), &st), 0) << "a delivered message was spooled too";
}

TEST_F(NotifyClientTest, RefusedKindIsAnErrorAndNotSpooled) {
  start();
  auto d = send_live(*parse_notify_args("evil.kind", {}));
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.error().message.find("unknown_kind"), std::string::npos) << d.error().message;
  EXPECT_EQ(count("notify.refused"), 1u);
  struct stat st {};
  EXPECT_NE(stat(spool().c_str(), &st), 0);
}

TEST_F(NotifyClientTest, AtTheConnectionLimitTheMessageIsSpooled) {
  NotifyServer::Options o;
  o.max_connections = 0;  // every connection is over the limit
  start(o);
  auto d = send_live(sample_event());
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_TRUE(d->spooled);
  EXPECT_NE(d->spool_reason.find("connection limit"), std::string::npos) << d->spool_reason;
  EXPECT_EQ(count("tmux.session-closed"), 0u);
  EXPECT_EQ(read_lines(spool()).size(), 1u);
}

TEST_F(NotifyClientTest, NoServerMeansSpooledWithIdAndTime) {
  const WallTime before = SystemClock().wall();
  auto d = send_notification(dir_.path, sample_event());
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_TRUE(d->spooled);
  EXPECT_FALSE(d->confirmed);
  EXPECT_NE(d->spool_reason.find("no daemon listening"), std::string::npos) << d->spool_reason;
  struct stat st {};
  ASSERT_EQ(stat(spool().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto lines = read_lines(spool());
  ASSERT_EQ(lines.size(), 1u);
  auto m = decode_notify_line(lines[0], {});
  ASSERT_TRUE(m.ok) << m.detail;
  EXPECT_NE(m.message.id, 0u);
  ASSERT_TRUE(m.message.time.has_value());
  EXPECT_GE(*m.message.time, before - std::chrono::milliseconds(1));
  EXPECT_EQ(m.message.kind, "tmux.session-closed");
  EXPECT_EQ(m.message.entity, "w1");
  EXPECT_EQ(m.message.fields.get_int("pane_pid"), 123);
}

TEST_F(NotifyClientTest, StaleSocketMeansSpooled) {
  bind_socket(notify_socket_path(dir_.path), /*listening=*/false);
  auto d = send_notification(dir_.path, sample_event());
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_TRUE(d->spooled);
  EXPECT_NE(d->spool_reason.find("Connection refused"), std::string::npos) << d->spool_reason;
}

TEST_F(NotifyClientTest, MissingRuntimeDirIsCreatedPrivate) {
  const std::string rt = dir_.path + "/agentwatch";
  auto d = send_notification(rt, sample_event());
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_TRUE(d->spooled);
  struct stat st {};
  ASSERT_EQ(stat(rt.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_EQ(read_lines(notify_spool_path(rt)).size(), 1u);
}

TEST_F(NotifyClientTest, RuntimeDirOpenToOthersIsRefused) {
  ASSERT_EQ(chmod(dir_.path.c_str(), 0755), 0);
  auto d = send_notification(dir_.path, sample_event());
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.error().message.find("expected mode 0700"), std::string::npos) << d.error().message;
}

// Listening, never accepting: the line sits in the socket buffer, and the
// client cannot tell a daemon that will read it from one that died first. So
// it returns within its budget with the same line, same id, spooled as well;
// the daemon delivers that id once (NotifyIds; DaemonTest covers the rest).
TEST_F(NotifyClientTest, ALineWithNoReplyInTimeIsSpooledAsWellWithTheSameId) {
  int fd = bind_socket(notify_socket_path(dir_.path), /*listening=*/true);
  const auto t0 = std::chrono::steady_clock::now();
  auto d = send_notification(dir_.path, sample_event(), std::chrono::milliseconds(50));
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_TRUE(d->spooled);
  EXPECT_FALSE(d->confirmed);
  EXPECT_NE(d->spool_reason.find("no reply"), std::string::npos) << d->spool_reason;
  // Generous bound: the point is that it does not wait for a reply forever.
  EXPECT_LT(took, std::chrono::seconds(2));
  // What sits in the socket is the spooled line itself.
  const int conn = accept(fd, nullptr, nullptr);
  ASSERT_GE(conn, 0);
  char buf[4096];
  const ssize_t n = read(conn, buf, sizeof buf);
  close(conn);
  close(fd);
  ASSERT_GT(n, 0);
  auto lines = read_lines(spool());
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(std::string(buf, static_cast<std::size_t>(n)), lines[0] + "\n");
}

TEST_F(NotifyClientTest, InvalidMessagesAreRefusedLocally) {
  Event reserved = sample_event();
  reserved.fields.set("spooled", FieldValue(true));
  EXPECT_FALSE(send_notification(dir_.path, reserved).ok());
  Event bad_kind = sample_event();
  bad_kind.kind = "no spaces allowed";
  EXPECT_FALSE(send_notification(dir_.path, bad_kind).ok());
  Event huge = sample_event();
  huge.fields.set("blob", FieldValue(std::string(kNotifyMaxLineBytes, 'x')));
  auto d = send_notification(dir_.path, huge);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.error().message.find("the limit is 65536"), std::string::npos) << d.error().message;
  struct stat st {};
  EXPECT_NE(stat(spool().c_str(), &st), 0) << "an invalid message was spooled";
}

TEST_F(NotifyClientTest, ConcurrentSpoolingFromSeveralProcessesNeverInterleaves) {
  constexpr int kProcs = 6;
  constexpr int kEach = 80;
  const std::string pad(6000, 'p');  // well over PIPE_BUF: one write per line must hold
  std::vector<pid_t> kids;
  for (int p = 0; p < kProcs; ++p) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int failures = 0;
      for (int i = 0; i < kEach; ++i) {
        Event e = *parse_notify_args(
            "worker.tick", {"proc=" + std::to_string(p), "i=" + std::to_string(i), "pad=" + pad});
        auto d = send_notification(dir_.path, e);
        failures += !(d.ok() && d->spooled);
      }
      _exit(failures == 0 ? 0 : 1);
    }
    kids.push_back(pid);
  }
  for (pid_t k : kids) {
    int status = 0;
    ASSERT_EQ(waitpid(k, &status, 0), k);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  auto lines = read_lines(spool());
  ASSERT_EQ(lines.size(), static_cast<std::size_t>(kProcs * kEach));
  std::map<std::int64_t, std::int64_t> next;  // proc → next i expected
  for (const auto& line : lines) {
    auto m = decode_notify_line(line, {});
    ASSERT_TRUE(m.ok) << m.detail << " in a line of " << line.size() << " bytes";
    const std::int64_t p = *m.message.fields.get_int("proc");
    EXPECT_EQ(*m.message.fields.get_int("i"), next[p]++) << "proc " << p << " out of order";
  }
  for (int p = 0; p < kProcs; ++p) EXPECT_EQ(next[p], kEach);
}

}  // namespace
}  // namespace aw
