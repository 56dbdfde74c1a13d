// Loop tests of NotifyServer on a real unix socket: a fresh loop per test,
// clients on a thread (blocking, with timeouts) while the loop runs here, and
// waits on events or on the client thread's end, never sleeps.
#include "watchers/notify/notify_server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <thread>

#include "watchers/notify/notify_test_support.h"

namespace aw {
namespace {

using notify_test::field;
using notify_test::RawClient;

constexpr const char* kValid =
    R"({"kind":"tmux.session-closed","entity":"w1","fields":{"session":"w1","pane_pid":"123"}})"
    "\n";

class NotifyServerTest : public notify_test::LoopTest {
 protected:
  void release_handles() override { server_.reset(); }

  void start(NotifyServer::Options options = {}) {
    server_ = std::make_unique<NotifyServer>(
        &loop_, manual_time_ ? static_cast<const Clock&>(manual_) : clock_, collector(),
        std::move(options));
    Status s = server_->start(dir_.path);
    ASSERT_TRUE(s.ok()) << s.error().message;
  }
  std::string sock() const { return notify_socket_path(dir_.path); }

  // One connection: sends `data`, then reads `replies` lines.
  std::vector<std::string> exchange(const std::string& data, std::size_t replies) {
    return exchange_on(sock(), data, replies);
  }

  notify_test::TempDir dir_;
  SystemClock clock_;
  // Eviction tests move time by hand: idle ages without sleeping.
  bool manual_time_ = false;
  ManualClock manual_;
  std::unique_ptr<NotifyServer> server_;
};

TEST_F(NotifyServerTest, ValidMessageBecomesEventAndOkReply) {
  start();
  auto replies = exchange(kValid, 1);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0], R"({"ok":true})");
  ASSERT_EQ(events_.size(), 1u);
  const Event& e = events_[0];
  EXPECT_EQ(e.kind, "tmux.session-closed");
  EXPECT_EQ(e.source, "notify");
  EXPECT_EQ(e.entity, "w1");
  EXPECT_EQ(field(e, "session"), "w1");
  EXPECT_EQ(field(e, "pane_pid"), "123");
  EXPECT_EQ(e.fields.get_int("peer_pid"), getpid());  // the client thread is in this process
  EXPECT_NE(e.time, WallTime{});
  EXPECT_EQ(server_->stats().messages, 1u);
}

TEST_F(NotifyServerTest, PipelinedAndSplitLinesAreFramedInOrder) {
  start();
  std::vector<std::string> replies;
  run_client([&] {
    RawClient c(sock());
    // Two lines in one write, then one line in three writes.
    c.send_all("{\"kind\":\"user.a\"}\n{\"kind\":\"user.b\"}\n");
    c.send_all("{\"kind\":");
    c.send_all("\"user.c\"");
    c.send_all("}\r\n");
    for (int i = 0; i < 3; ++i)
      if (auto l = c.read_line()) replies.push_back(*l);
  });
  EXPECT_EQ(replies.size(), 3u);
  ASSERT_EQ(events_.size(), 3u);
  EXPECT_EQ(events_[0].kind, "user.a");
  EXPECT_EQ(events_[1].kind, "user.b");
  EXPECT_EQ(events_[2].kind, "user.c");
}

TEST_F(NotifyServerTest, SocketIsPrivateAndRemovedAtStop) {
  const mode_t old = umask(022);  // a typical umask must not widen the socket
  start();
  umask(old);
  struct stat st {};
  ASSERT_EQ(lstat(sock().c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  server_->stop();
  EXPECT_NE(lstat(sock().c_str(), &st), 0) << "stop() leaves the socket file behind";
}

TEST_F(NotifyServerTest, StaleSocketFileIsReplaced) {
  // A socket file whose listener is gone, as after a crash.
  ASSERT_TRUE(uvx_test::make_stale_socket(sock())) << std::strerror(errno);
  start();
  EXPECT_EQ(exchange(kValid, 1).size(), 1u);
  EXPECT_EQ(count("tmux.session-closed"), 1u);
}

TEST_F(NotifyServerTest, LiveSocketIsNotStolen) {
  start();
  NotifyServer second(&loop_, clock_, collector());
  Status s = second.start(dir_.path);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("another process is listening on " + sock()), std::string::npos)
      << s.error().message;
  EXPECT_EQ(exchange(kValid, 1).size(), 1u) << "the first server stopped serving";
}

TEST_F(NotifyServerTest, NonSocketAtThePathIsLeftAlone) {
  std::ofstream(sock()) << "precious";
  server_ = std::make_unique<NotifyServer>(&loop_, clock_, collector());
  Status s = server_->start(dir_.path);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("is not a socket"), std::string::npos) << s.error().message;
  EXPECT_EQ(notify_test::read_lines(sock()), std::vector<std::string>{"precious"});
}

TEST_F(NotifyServerTest, ForeignUidIsRefusedAndClosedBeforeReading) {
  NotifyServer::Options o;
  o.allowed_uid = getuid() + 1;  // we are the foreigner now
  start(o);
  std::optional<std::string> reply;
  bool eof = false;
  run_client([&] {
    RawClient c(sock());
    c.send_all(kValid);
    reply = c.read_line();
    eof = c.at_eof();
  });
  ASSERT_TRUE(reply.has_value());
  EXPECT_NE(reply->find(R"("ok":false,"reason":"foreign_uid")"), std::string::npos) << *reply;
  EXPECT_TRUE(eof);
  EXPECT_EQ(count("tmux.session-closed"), 0u);
  const Event* r = find("notify.refused");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(field(*r, "reason"), "foreign_uid");
  EXPECT_EQ(r->fields.get_int("peer_uid"), getuid());
  EXPECT_EQ(r->fields.get_int("peer_pid"), getpid());
  EXPECT_EQ(r->fields.get_int("bytes"), 0);
  EXPECT_EQ(server_->stats().connections, 0u);
}

TEST_F(NotifyServerTest, HugeLineIsRefusedWithoutBufferingAndOthersAreServed) {
  start();
  RawClient hostile(sock());
  ASSERT_TRUE(hostile.connected());
  // Half a line, left hanging: the server holds it and keeps serving others.
  ASSERT_TRUE(hostile.send_all(std::string(32 * 1024, 'x')));
  EXPECT_EQ(exchange(kValid, 1), std::vector<std::string>{R"({"ok":true})"});

  // Then 10 MB more without a newline.
  bool sent_everything = true;
  std::optional<std::string> reply;
  run_client([&] {
    const std::string chunk(1024 * 1024, 'x');
    for (int i = 0; i < 10 && sent_everything; ++i) sent_everything = hostile.send_all(chunk);
    reply = hostile.read_line();
  });
  EXPECT_FALSE(sent_everything) << "the server read 10 MB of one line";
  ASSERT_TRUE(reply.has_value());
  EXPECT_NE(reply->find("line_too_long"), std::string::npos) << *reply;
  EXPECT_EQ(count_refused("line_too_long"), 1u);
  const Event* r = find("notify.refused");
  ASSERT_NE(r, nullptr);
  EXPECT_GT(*r->fields.get_int("bytes"), static_cast<std::int64_t>(kNotifyMaxLineBytes));
  EXPECT_LE(server_->stats().line_buffer_high_water, kNotifyMaxLineBytes);
  EXPECT_EQ(server_->stats().connections, 0u);

  EXPECT_EQ(exchange(kValid, 1), std::vector<std::string>{R"({"ok":true})"});
  EXPECT_EQ(count("tmux.session-closed"), 2u);
}

TEST_F(NotifyServerTest, InvalidJsonGetsAnErrorReplyAndTheConnectionStays) {
  start();
  auto replies = exchange("not json\n{\"kind\":\"tmux.x\"}\n", 2);
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_NE(replies[0].find(R"("ok":false,"reason":"invalid_json")"), std::string::npos)
      << replies[0];
  EXPECT_EQ(replies[1], R"({"ok":true})");
  ASSERT_EQ(count_refused("invalid_json"), 1u);
  EXPECT_EQ(find("notify.refused")->fields.get_int("bytes"), 8);
  EXPECT_EQ(count("tmux.x"), 1u);
}

TEST_F(NotifyServerTest, UnknownKindNestedFieldsReservedKeysAndValidatorAreRefused) {
  NotifyServer::Options o;
  o.kinds.validate = [](const NotifyMessage& m) -> Status {
    if (m.kind == "tmux.forbidden") return make_error("no rule handles tmux.forbidden");
    return Status::Ok();
  };
  start(o);
  auto replies = exchange(
      "{\"kind\":\"evil.thing\"}\n"
      "{\"kind\":\"tmux.x\",\"fields\":{\"a\":{\"b\":1}}}\n"
      "{\"kind\":\"tmux.x\",\"fields\":{\"peer_pid\":1}}\n"
      "{\"kind\":\"tmux.forbidden\"}\n"
      "{\"kind\":\"tmux.x\",\"seq\":5}\n",
      5);
  ASSERT_EQ(replies.size(), 5u);
  EXPECT_NE(replies[0].find("unknown_kind"), std::string::npos) << replies[0];
  EXPECT_NE(replies[1].find("invalid_message"), std::string::npos) << replies[1];
  EXPECT_NE(replies[1].find("fields are flat"), std::string::npos) << replies[1];
  EXPECT_NE(replies[2].find("reserved"), std::string::npos) << replies[2];
  EXPECT_NE(replies[3].find("rejected"), std::string::npos) << replies[3];
  EXPECT_NE(replies[3].find("no rule handles"), std::string::npos) << replies[3];
  EXPECT_NE(replies[4].find("unknown key"), std::string::npos) << replies[4];
  EXPECT_EQ(count("notify.refused"), 5u);
  EXPECT_EQ(events_.size(), 5u) << "a refused line became an event";
}

TEST_F(NotifyServerTest, StreamEndingInsideALineIsRefusedAsTruncated) {
  start();
  std::optional<std::string> reply;
  bool eof = false;
  run_client([&] {
    RawClient c(sock());
    c.send_all(R"({"kind":"tmux.x"})");  // no '\n': a writer that gave up mid-line
    c.shutdown_write();
    reply = c.read_line();
    eof = c.at_eof();
  });
  ASSERT_TRUE(reply.has_value());
  EXPECT_NE(reply->find("truncated"), std::string::npos) << *reply;
  EXPECT_TRUE(eof);
  EXPECT_EQ(count("tmux.x"), 0u);
  EXPECT_EQ(count_refused("truncated"), 1u);
}

TEST_F(NotifyServerTest, IdleConnectionsHitTheCapAndTimeOut) {
  NotifyServer::Options o;
  o.max_connections = 3;
  o.idle_timeout = std::chrono::milliseconds(150);
  start(o);
  std::vector<std::unique_ptr<RawClient>> idle;
  for (int i = 0; i < 5; ++i) {
    idle.push_back(std::make_unique<RawClient>(sock()));
    ASSERT_TRUE(idle.back()->connected());
  }
  ASSERT_TRUE(run_until([&] { return count("notify.refused") >= 5; }));
  EXPECT_EQ(count_refused("too_many_connections"), 2u);
  EXPECT_EQ(count_refused("idle_timeout"), 3u);
  EXPECT_EQ(server_->stats().connections, 0u);
  EXPECT_FALSE(server_->alarm_armed()) << "no connection left, yet the alarm is armed";
  // Each client was told why, then closed.
  std::map<std::string, int> reasons;
  for (auto& c : idle) {
    auto line = c->read_line();
    ASSERT_TRUE(line.has_value());
    if (line->find("too_many_connections") != std::string::npos) ++reasons["cap"];
    if (line->find("idle_timeout") != std::string::npos) ++reasons["idle"];
    EXPECT_TRUE(c->at_eof());
  }
  EXPECT_EQ(reasons["cap"], 2);
  EXPECT_EQ(reasons["idle"], 3);
  // Slots are free again.
  EXPECT_EQ(exchange(kValid, 1), std::vector<std::string>{R"({"ok":true})"});
}

// Issue #8: idle clients holding every slot must not lock hooks out. At the
// cap the connection idle longest goes, and the newcomer's line is accepted.
TEST_F(NotifyServerTest, AtTheCapTheLongestIdleConnectionIsEvictedForANewOne) {
  manual_time_ = true;
  NotifyServer::Options o;
  o.max_connections = 3;
  o.idle_timeout = std::chrono::hours(1);  // only eviction may close them here
  start(o);
  // Three idle clients, 10 ms apart; the first is the oldest.
  std::vector<std::unique_ptr<RawClient>> idle;
  for (std::size_t i = 0; i < 3; ++i) {
    idle.push_back(std::make_unique<RawClient>(sock()));
    ASSERT_TRUE(run_until([&] { return server_->stats().connections == i + 1; }));
    manual_.advance(std::chrono::milliseconds(10));
  }
  manual_.advance(o.evict_idle_after);

  EXPECT_EQ(exchange(kValid, 1), std::vector<std::string>{R"({"ok":true})"});
  EXPECT_EQ(count("tmux.session-closed"), 1u);
  EXPECT_EQ(server_->stats().evicted, 1u);
  EXPECT_EQ(count_refused("too_many_connections"), 0u);
  ASSERT_EQ(count_refused("evicted"), 1u);
  const Event* r = find("notify.refused");
  EXPECT_NE(field(*r, "detail").find("to admit a new connection"), std::string::npos)
      << field(*r, "detail");
  // The oldest was told why and closed; the others are still open.
  std::optional<std::string> why;
  bool eof = false;
  run_client([&] {
    why = idle[0]->read_line();
    eof = idle[0]->at_eof();
  });
  ASSERT_TRUE(why.has_value());
  EXPECT_NE(why->find(R"("reason":"evicted")"), std::string::npos) << *why;
  EXPECT_TRUE(eof);
  // Once the newcomer has left, the two younger idle ones are still there.
  EXPECT_TRUE(run_until([&] { return server_->stats().connections == 2; }));
}

TEST_F(NotifyServerTest, AtTheCapConnectionsYoungerThanTheEvictionAgeStay) {
  manual_time_ = true;
  NotifyServer::Options o;
  o.max_connections = 2;
  o.idle_timeout = std::chrono::hours(1);
  start(o);
  RawClient a(sock()), b(sock());
  ASSERT_TRUE(run_until([&] { return server_->stats().connections == 2; }));
  // A burst: they connected a moment ago and are presumably about to send.
  manual_.advance(o.evict_idle_after - std::chrono::milliseconds(1));
  // The newcomer only reads: a send could race the server's close (EPIPE).
  std::optional<std::string> refusal;
  run_client([&] {
    RawClient c(sock());
    refusal = c.read_line();
  });
  ASSERT_TRUE(refusal.has_value());
  EXPECT_NE(refusal->find("too_many_connections"), std::string::npos) << *refusal;
  EXPECT_EQ(count_refused("too_many_connections"), 1u);
  EXPECT_EQ(server_->stats().evicted, 0u);
  EXPECT_EQ(server_->stats().connections, 2u);
}

TEST_F(NotifyServerTest, AtTheCapAClientThatDeliveredAndLingersIsClosedQuietly) {
  manual_time_ = true;
  NotifyServer::Options o;
  o.max_connections = 1;
  o.idle_timeout = std::chrono::hours(1);
  start(o);
  RawClient lingering(sock());
  ASSERT_TRUE(lingering.send_all(kValid));  // its line, and it stays
  ASSERT_TRUE(run_until([&] { return count("tmux.session-closed") == 1; }));
  manual_.advance(o.evict_idle_after);
  EXPECT_EQ(exchange(kValid, 1), std::vector<std::string>{R"({"ok":true})"});
  EXPECT_EQ(count("tmux.session-closed"), 2u);
  EXPECT_EQ(server_->stats().evicted, 1u);
  EXPECT_EQ(count("notify.refused"), 0u) << "it did nothing wrong";
  EXPECT_EQ(lingering.read_line(), std::optional<std::string>(R"({"ok":true})"));
  EXPECT_TRUE(lingering.at_eof());
}

// A stall of the loop longer than the idle timeout: the timer runs before the
// reads of the same loop turn, and must not close a connection whose line is
// waiting in the socket (the hook returned 0 and will not spool it).
TEST_F(NotifyServerTest, ALineWaitingInTheSocketIsNotLostToTheIdleTimeout) {
  NotifyServer::Options o;
  o.idle_timeout = std::chrono::milliseconds(50);
  start(o);
  RawClient c(sock());
  ASSERT_TRUE(run_until([&] { return server_->stats().connections == 1; }));
  ASSERT_TRUE(c.send_all(kValid));
  // The stall under test, not a synchronisation: the loop does not run while
  // the idle deadline passes.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_TRUE(run_until([&] { return count("tmux.session-closed") == 1; }));
  EXPECT_EQ(count_refused("idle_timeout"), 0u);
  EXPECT_EQ(c.read_line(), std::optional<std::string>(R"({"ok":true})"));
}

TEST_F(NotifyServerTest, ByDefaultAConnectionWithoutALineIsClosedAfterOneSecond) {
  start();
  RawClient c(sock());
  ASSERT_TRUE(c.connected());
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(run_until([&] { return count_refused("idle_timeout") == 1; }, 5000));
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(took, std::chrono::milliseconds(900));
  EXPECT_LT(took, std::chrono::milliseconds(2500));
  EXPECT_EQ(field(*find("notify.refused"), "detail"), "no complete line within 1000 ms");
  auto why = c.read_line();
  ASSERT_TRUE(why.has_value());
  EXPECT_NE(why->find(R"("reason":"idle_timeout")"), std::string::npos) << *why;
  EXPECT_TRUE(c.at_eof());
}

TEST_F(NotifyServerTest, SlowDripCannotHoldAConnectionOpen) {
  NotifyServer::Options o;
  o.idle_timeout = std::chrono::milliseconds(150);
  start(o);
  RawClient c(sock());
  ASSERT_TRUE(c.connected());
  // A byte now and then resets nothing: the deadline counts from the last
  // complete line. The drip runs until the server gives up on it.
  bool dropped = false;
  run_client([&] {
    // Bounded at 10 s; the server drops the drip after 150 ms.
    for (int i = 0; i < 500 && !dropped; ++i) {
      dropped = !c.send_all("{");
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the drip's pace, not a sync
    }
  });
  EXPECT_TRUE(dropped);
  EXPECT_EQ(count_refused("idle_timeout"), 1u);
  EXPECT_EQ(server_->stats().connections, 0u);
}

TEST_F(NotifyServerTest, IdleAfterDeliveringIsClosedQuietly) {
  NotifyServer::Options o;
  o.idle_timeout = std::chrono::milliseconds(100);
  start(o);
  RawClient c(sock());
  ASSERT_TRUE(c.send_all(kValid));
  ASSERT_TRUE(run_until([&] { return count("tmux.session-closed") == 1; }));
  ASSERT_TRUE(run_until([&] { return server_->stats().connections == 0; }));
  EXPECT_EQ(c.read_line(), std::optional<std::string>(R"({"ok":true})"));
  EXPECT_TRUE(c.at_eof());
  EXPECT_EQ(count("notify.refused"), 0u);
}

TEST_F(NotifyServerTest, ClientThatNeverReadsRepliesIsDropped) {
  NotifyServer::Options o;
  o.max_pending_reply_bytes = 4096;
  start(o);
  bool send_failed = false;
  run_client([&] {
    RawClient c(sock());
    std::string batch;
    for (int i = 0; i < 100; ++i) batch += "{\"kind\":\"user.flood\"}\n";
    // Bounded: 200k messages at most; the server must drop us long before.
    for (int i = 0; i < 2000 && !send_failed; ++i) send_failed = !c.send_all(batch);
  });
  EXPECT_TRUE(send_failed) << "the server kept queueing replies nobody reads";
  EXPECT_EQ(count_refused("reply_backlog"), 1u);
  EXPECT_GT(count("user.flood"), 0u);
  EXPECT_EQ(server_->stats().connections, 0u);
}

TEST_F(NotifyServerTest, DestroyingTheServerWithOpenConnectionsClosesEverything) {
  start();
  RawClient a(sock()), b(sock());
  ASSERT_TRUE(a.send_all(kValid));
  ASSERT_TRUE(b.send_all("{\"kind\":"));
  ASSERT_TRUE(run_until(
      [&] { return server_->stats().connections == 2 && count("tmux.session-closed") == 1; }));
  server_.reset();
  uv_run(&loop_, UV_RUN_NOWAIT);
  EXPECT_EQ(a.read_line(), std::optional<std::string>(R"({"ok":true})"));
  EXPECT_TRUE(a.at_eof());
  EXPECT_TRUE(b.at_eof());
  // TearDown checks uv_loop_close()==0: every handle was closed.
}

}  // namespace
}  // namespace aw
