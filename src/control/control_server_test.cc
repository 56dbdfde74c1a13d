// Loop tests of ControlServer on a real unix socket: a fresh loop per test,
// clients on a thread (blocking, with timeouts) while the loop runs here, and
// waits on replies, counters or the client thread's end, never sleeps.
#include "src/control/control_server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <future>
#include <memory>
#include <vector>

#include "src/control/control_test_support.h"
#include "src/uvx/handle.h"

namespace aw {
namespace {

using control_test::RawClient;

class ControlServerTest : public control_test::LoopTest {
 protected:
  void release_handles() override {
    timers_.clear();
    server_.reset();
  }

  void start(ControlServer::Options options = {}) {
    server_ = std::make_unique<ControlServer>(
        &loop_, manual_time_ ? static_cast<const Clock&>(manual_) : clock_, options);
    server_->handle("echo", [](const ControlRequest& r, const ControlResponder& out) {
      std::string json = "{";
      bool first = true;
      for (const auto& [k, v] : r.params) {
        if (!first) json += ",";
        first = false;
        json += "\"" + k + "\":\"" + field_to_string(v) + "\"";
      }
      json += "}";
      out.ok(json);
    });
    // Answers later: the test holds the responders.
    server_->handle("slow", [this](const ControlRequest& r, ControlResponder out) {
      held_.push_back({r, std::move(out)});
    });
    Status s = server_->start(sock());
    ASSERT_TRUE(s.ok()) << s.error().message;
  }
  std::string sock() const { return control_socket_path(dir_.path); }

  // One connection: sends `data`, then reads `replies` lines.
  std::vector<std::string> exchange(const std::string& data, std::size_t replies) {
    return exchange_on(sock(), data, replies);
  }

  // A timer that runs `fn` on the loop after `ms` (an async answer).
  void after(std::uint64_t ms, std::function<void()> fn) {
    timers_.push_back(std::make_unique<uvx::Timer>(&loop_, std::move(fn)));
    timers_.back()->start(ms);
  }

  struct Held {
    ControlRequest request;
    ControlResponder responder;
  };

  control_test::TempDir dir_;
  SystemClock clock_;
  // Eviction tests move time by hand: idle ages without sleeping.
  bool manual_time_ = false;
  ManualClock manual_;
  std::unique_ptr<ControlServer> server_;
  std::vector<Held> held_;
  std::vector<std::unique_ptr<uvx::Timer>> timers_;
};

TEST_F(ControlServerTest, PingRoundTrip) {
  start();
  auto replies = exchange(R"({"id":7,"method":"ping"})"
                          "\n",
                          1);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0], "{\"id\":7,\"ok\":true,\"result\":{\"pid\":" + std::to_string(getpid()) +
                            ",\"methods\":[\"echo\",\"ping\",\"slow\"]}}");
  EXPECT_EQ(server_->stats().requests, 1u);
  EXPECT_EQ(server_->stats().error_replies, 0u);
}

TEST_F(ControlServerTest, SocketIsPrivate) {
  start();
  struct stat st {};
  ASSERT_EQ(lstat(sock().c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(ControlServerTest, HandlerSeesParamsAndPeer) {
  start();
  ControlRequest seen;
  server_->handle("workers.stop", [&](const ControlRequest& r, const ControlResponder& out) {
    seen = r;
    out.ok(R"({"stopped":["w1"]})");
  });
  auto replies =
      exchange(R"({"id":3,"method":"workers.stop","params":{"id":"w1","force":true,"grace":5}})"
               "\n",
               1);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0], R"({"id":3,"ok":true,"result":{"stopped":["w1"]}})");
  EXPECT_EQ(seen.method, "workers.stop");
  EXPECT_EQ(seen.id, 3u);
  EXPECT_EQ(seen.params.get_string("id"), "w1");
  EXPECT_EQ(seen.params.get_int("grace"), 5);
  EXPECT_EQ(seen.peer.uid, geteuid());
  EXPECT_EQ(seen.peer.pid, getpid());  // the client thread is in this process
}

TEST_F(ControlServerTest, AsyncReplyArrivesWhenTheHandlerAnswers) {
  start();
  std::optional<std::string> reply;
  auto client = spawn([&] {
    RawClient c(sock());
    if (c.connected() && c.send_all(R"({"id":1,"method":"slow"})"
                                    "\n"))
      reply = c.read_line();
  });
  ASSERT_TRUE(run_until([&] { return held_.size() == 1; }));
  EXPECT_FALSE(held_[0].responder.answered());
  EXPECT_TRUE(held_[0].responder.connected());
  // Answered from another callback, as a restart answers once the worker is up.
  ControlResponder r = held_[0].responder;
  after(1, [r] { r.ok(R"({"restarted":"w1"})"); });
  ASSERT_TRUE(run_until([&] { return client->finished(); }));
  client.reset();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(*reply, R"({"id":1,"ok":true,"result":{"restarted":"w1"}})");
  EXPECT_TRUE(held_[0].responder.answered()) << "copies share one answer";
  held_[0].responder.fail(ControlErrorCode::kFailed, "a second answer is a no-op");
}

TEST_F(ControlServerTest, RepliesKeepRequestOrderWhateverOrderHandlersAnswerIn) {
  start();
  std::vector<std::string> replies;
  auto client = spawn([&] {
    RawClient c(sock());
    if (!c.connected()) return;
    c.send_all(R"({"id":1,"method":"slow"})"
               "\n"
               R"({"id":2,"method":"echo","params":{"a":"x"}})"
               "\n"
               R"({"id":3,"method":"slow"})"
               "\n");
    for (int i = 0; i < 3; ++i) {
      auto line = c.read_line();
      if (!line) return;
      replies.push_back(*line);
    }
  });
  ASSERT_TRUE(run_until([&] { return held_.size() == 2; }));
  held_[1].responder.ok("3");  // the last one first: it must wait for id 1
  held_[0].responder.fail(ControlErrorCode::kNotFound, "no worker w1");
  ASSERT_TRUE(run_until([&] { return client->finished(); }));
  client.reset();
  ASSERT_EQ(replies.size(), 3u);
  EXPECT_EQ(replies[0], R"({"id":1,"ok":false,"error":"no worker w1","code":"not_found"})");
  EXPECT_EQ(replies[1], R"({"id":2,"ok":true,"result":{"a":"x"}})");
  EXPECT_EQ(replies[2], R"({"id":3,"ok":true,"result":3})");
}

TEST_F(ControlServerTest, SeveralConnectionsInFlightAtOnce) {
  start();
  std::optional<std::string> a, b;
  auto ca = spawn([&] {
    RawClient c(sock());
    if (c.connected() && c.send_all(R"({"id":10,"method":"slow","params":{"who":"a"}})"
                                    "\n"))
      a = c.read_line();
  });
  auto cb = spawn([&] {
    RawClient c(sock());
    if (c.connected() && c.send_all(R"({"id":20,"method":"slow","params":{"who":"b"}})"
                                    "\n"))
      b = c.read_line();
  });
  ASSERT_TRUE(run_until([&] { return held_.size() == 2; }));
  EXPECT_EQ(server_->stats().connections, 2u);
  for (auto& h : held_) h.responder.ok("\"" + *h.request.params.get_string("who") + "\"");
  ASSERT_TRUE(run_until([&] { return ca->finished() && cb->finished(); }));
  ca.reset();
  cb.reset();
  EXPECT_EQ(a, R"({"id":10,"ok":true,"result":"a"})");
  EXPECT_EQ(b, R"({"id":20,"ok":true,"result":"b"})");
}

TEST_F(ControlServerTest, GarbageGetsErrorRepliesAndTheConnectionStaysUsable) {
  start();
  std::string data =
      "not json\n"
      "[1,2]\n"
      "\n"  // blank lines are ignored
      R"({"id":3})"
      "\n"
      R"({"id":4,"method":"echo","params":{"list":[1]}})"
      "\n";
  data += std::string("\xff\xfe\x00garbage\n", 11);  // NUL and invalid UTF-8
  data += R"({"id":5,"method":"ping"})"
          "\n";
  auto replies = exchange(data, 6);
  ASSERT_EQ(replies.size(), 6u);
  EXPECT_NE(replies[0].find(R"({"id":null,"ok":false,"error":"not JSON)"), std::string::npos)
      << replies[0];
  EXPECT_NE(replies[0].find(R"("code":"bad_request")"), std::string::npos);
  EXPECT_NE(replies[1].find("expected a JSON object"), std::string::npos) << replies[1];
  EXPECT_NE(replies[2].find(R"({"id":3,"ok":false,"error":"missing \"method\"")"),
            std::string::npos)
      << replies[2];
  EXPECT_NE(replies[3].find(R"({"id":4,"ok":false)"), std::string::npos) << replies[3];
  EXPECT_NE(replies[3].find("params are flat"), std::string::npos) << replies[3];
  EXPECT_NE(replies[4].find(R"("code":"bad_request")"), std::string::npos) << replies[4];
  EXPECT_NE(replies[5].find(R"({"id":5,"ok":true)"), std::string::npos) << replies[5];
  EXPECT_EQ(server_->stats().error_replies, 5u);
}

TEST_F(ControlServerTest, UnknownMethodSuggestsTheClosestOne) {
  start();
  server_->handle("workers.list",
                  [](const ControlRequest&, const ControlResponder& r) { r.ok("[]"); });
  auto replies = exchange(R"({"id":2,"method":"workers.lst"})"
                          "\n",
                          1);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_NE(replies[0].find(R"({"id":2,"ok":false,"error":"unknown method \"workers.lst\")"),
            std::string::npos)
      << replies[0];
  EXPECT_NE(replies[0].find("did you mean 'workers.list'?"), std::string::npos) << replies[0];
  EXPECT_NE(replies[0].find(R"("code":"unknown_method")"), std::string::npos);
}

TEST_F(ControlServerTest, OversizedLineIsRefusedAfterEarlierRepliesThenClosed) {
  ControlServer::Options o;
  o.max_line_bytes = 1024;
  start(o);
  std::vector<std::string> replies;
  bool eof = false;
  run_client([&] {
    RawClient c(sock());
    if (!c.connected()) return;
    c.send_all(R"({"id":1,"method":"ping"})"
               "\n");
    // 1 MiB without '\n': the server must refuse it without buffering it.
    c.send_all(std::string(1 << 20, 'x'));
    while (auto line = c.read_line()) replies.push_back(*line);
    eof = true;
  });
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_NE(replies[0].find(R"({"id":1,"ok":true)"), std::string::npos);
  EXPECT_NE(replies[1].find(R"({"id":null,"ok":false,"error":"a line is longer than 1024 bytes)"),
            std::string::npos)
      << replies[1];
  EXPECT_NE(replies[1].find("longer than 1024"), std::string::npos) << replies[1];
  EXPECT_NE(replies[1].find(R"("code":"bad_request")"), std::string::npos);
  EXPECT_TRUE(eof);
  EXPECT_LE(server_->stats().input_high_water, 1024u + 64 * 1024);
  EXPECT_TRUE(run_until([&] { return server_->stats().connections == 0; }));
}

TEST_F(ControlServerTest, OversizedCompleteLineIsRefusedToo) {
  ControlServer::Options o;
  o.max_line_bytes = 100;
  start(o);
  auto replies = exchange(std::string(200, ' ') + R"({"id":1,"method":"ping"})"
                                                  "\n",
                          1);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_NE(replies[0].find("longer than 100"), std::string::npos) << replies[0];
}

TEST_F(ControlServerTest, LastLineWithoutNewlineIsStillARequest) {
  start();
  std::optional<std::string> reply;
  bool eof = false;
  run_client([&] {
    RawClient c(sock());
    if (!c.connected() || !c.send_all(R"({"id":9,"method":"ping"})")) return;
    c.shutdown_write();
    reply = c.read_line();
    eof = c.at_eof();
  });
  ASSERT_TRUE(reply.has_value());
  EXPECT_NE(reply->find(R"({"id":9,"ok":true)"), std::string::npos) << *reply;
  EXPECT_TRUE(eof) << "the server closes once the half-closed client is answered";
}

TEST_F(ControlServerTest, DroppedResponderAnswersFailed) {
  start();
  server_->handle("forgetful", [](const ControlRequest&, const ControlResponder&) {});
  server_->handle("thrower", [](const ControlRequest&, const ControlResponder&) -> void {
    throw std::runtime_error("boom");
  });
  server_->handle("bad.json",
                  [](const ControlRequest&, const ControlResponder& r) { r.ok("{nope"); });
  auto replies = exchange(R"({"id":1,"method":"forgetful"})"
                          "\n"
                          R"({"id":2,"method":"thrower"})"
                          "\n"
                          R"({"id":3,"method":"bad.json"})"
                          "\n",
                          3);
  ASSERT_EQ(replies.size(), 3u);
  EXPECT_NE(replies[0].find(R"({"id":1,"ok":false,"error":"the daemon dropped the request)"),
            std::string::npos)
      << replies[0];
  EXPECT_NE(replies[0].find(R"("code":"failed")"), std::string::npos);
  EXPECT_NE(replies[1].find(R"({"id":2,"ok":false)"), std::string::npos) << replies[1];
  EXPECT_NE(replies[1].find("failed: boom"), std::string::npos) << replies[1];
  EXPECT_NE(replies[2].find(R"({"id":3,"ok":false)"), std::string::npos) << replies[2];
  EXPECT_NE(replies[2].find("not valid JSON"), std::string::npos) << replies[2];
}

TEST_F(ControlServerTest, ResponderAfterTheClientLeftIsANoOp) {
  start();
  run_client([&] {
    RawClient c(sock());
    if (c.connected())
      c.send_all(R"({"id":1,"method":"slow"})"
                 "\n");
    // Closed at once: nobody will read the answer.
  });
  ASSERT_TRUE(run_until([&] { return held_.size() == 1; }));
  held_[0].responder.ok(R"({"late":true})");  // the write fails: the connection goes
  ASSERT_TRUE(run_until([&] { return server_->stats().connections == 0; }));
  EXPECT_FALSE(held_[0].responder.connected());
  held_[0].responder.ok("1");
  // The server still serves others.
  auto replies = exchange(R"({"id":2,"method":"ping"})"
                          "\n",
                          1);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_NE(replies[0].find(R"({"id":2,"ok":true)"), std::string::npos);
}

TEST_F(ControlServerTest, ResponderAfterStopOrDestructionIsANoOp) {
  start();
  std::optional<std::string> reply;
  auto client = spawn([&] {
    RawClient c(sock());
    if (c.connected() && c.send_all(R"({"id":1,"method":"slow"})"
                                    "\n"
                                    R"({"id":2,"method":"slow"})"
                                    "\n"))
      reply = c.read_line();
  });
  ASSERT_TRUE(run_until([&] { return held_.size() == 2; }));
  server_->stop();
  EXPECT_FALSE(held_[0].responder.connected());
  held_[0].responder.ok("1");
  ASSERT_TRUE(run_until([&] { return client->finished(); }));
  client.reset();
  EXPECT_FALSE(reply.has_value()) << "stop() closes connections; nothing is sent after";
  EXPECT_NE(access(sock().c_str(), F_OK), 0) << "stop() removes the socket file";
  server_.reset();
  held_[1].responder.fail(ControlErrorCode::kFailed, "the server is gone");
  held_.clear();  // the last copies die unanswered: also a no-op
}

TEST_F(ControlServerTest, HandlerMayStopTheServer) {
  start();
  server_->handle("daemon.stop", [this](const ControlRequest&, const ControlResponder& r) {
    server_->stop();
    r.ok();
  });
  bool eof = false;
  run_client([&] {
    RawClient c(sock());
    if (c.connected() && c.send_all(R"({"id":1,"method":"daemon.stop"})"
                                    "\n"
                                    R"({"id":2,"method":"ping"})"
                                    "\n"))
      eof = c.at_eof();
  });
  EXPECT_TRUE(eof);
  EXPECT_EQ(server_->stats().connections, 0u);
}

TEST_F(ControlServerTest, BackPressureCapsRequestsInFlight) {
  ControlServer::Options o;
  o.max_in_flight = 2;
  start(o);
  std::size_t most_outstanding = 0;
  std::vector<ControlResponder> outstanding;
  server_->handle("queued", [&](const ControlRequest&, ControlResponder r) {
    outstanding.push_back(std::move(r));
    most_outstanding = std::max(most_outstanding, outstanding.size());
  });
  std::vector<std::string> replies;
  auto client = spawn([&] {
    RawClient c(sock());
    std::string all;
    for (int i = 1; i <= 6; ++i)
      all += R"({"id":)" + std::to_string(i) +
             R"(,"method":"queued"})"
             "\n";
    if (!c.connected() || !c.send_all(all)) return;
    for (int i = 0; i < 6; ++i) {
      auto line = c.read_line();
      if (!line) return;
      replies.push_back(*line);
    }
  });
  std::size_t answered = 0;
  while (answered < 6) {
    ASSERT_TRUE(run_until([&] { return !outstanding.empty(); }));
    // Answer one at a time from the loop; the next request must not be read
    // until there is room.
    auto r = outstanding.front();
    outstanding.erase(outstanding.begin());
    r.ok(std::to_string(++answered));
  }
  ASSERT_TRUE(run_until([&] { return client->finished(); }));
  client.reset();
  EXPECT_EQ(most_outstanding, 2u);
  ASSERT_EQ(replies.size(), 6u);
  for (int i = 0; i < 6; ++i)
    EXPECT_EQ(replies[i], R"({"id":)" + std::to_string(i + 1) + R"(,"ok":true,"result":)" +
                              std::to_string(i + 1) + "}");
}

TEST_F(ControlServerTest, AClientThatDoesNotReadIsNotReadFromEither) {
  ControlServer::Options o;
  o.max_queued_reply_bytes = 1024;
  start(o);
  const std::string big = "\"" + std::string(100 * 1024, 'x') + "\"";
  int calls = 0;
  server_->handle("big", [&](const ControlRequest&, const ControlResponder& r) {
    ++calls;
    r.ok(big);
  });
  constexpr int kRequests = 50;
  std::atomic<bool> sent{false};
  std::promise<void> go;
  std::shared_future<void> go_future = go.get_future().share();
  int replies = 0;
  auto client = spawn([&] {
    RawClient c(sock());
    std::string all;
    for (int i = 1; i <= kRequests; ++i)
      all += R"({"id":)" + std::to_string(i) +
             R"(,"method":"big"})"
             "\n";
    if (!c.connected() || !c.send_all(all)) return;  // one small chunk: all in the server's queue
    sent = true;
    uv_async_send(&wake_);
    go_future.wait();
    while (replies < kRequests && c.read_line()) ++replies;
  });
  ASSERT_TRUE(run_until([&] { return sent.load() && calls > 0; }));
  for (int i = 0; i < 20; ++i) uv_run(&loop_, UV_RUN_NOWAIT);
  // Every request is readable, but the replies are not being read: the
  // server stopped handling requests instead of queueing 5 MB of replies.
  EXPECT_LT(calls, 10);
  go.set_value();
  ASSERT_TRUE(run_until([&] { return client->finished(); }));
  client.reset();
  EXPECT_EQ(calls, kRequests);
  EXPECT_EQ(replies, kRequests);
}

TEST_F(ControlServerTest, ConnectionsAreCapped) {
  ControlServer::Options o;
  o.max_connections = 2;
  start(o);
  std::vector<std::unique_ptr<RawClient>> open;
  std::optional<std::string> third;
  bool third_eof = false;
  run_client([&] {
    for (int i = 0; i < 2; ++i) {
      open.push_back(std::make_unique<RawClient>(sock()));
      // A reply proves the server accepted and counts this connection.
      open.back()->send_all(R"({"id":1,"method":"ping"})"
                            "\n");
      open.back()->read_line();
    }
    RawClient c(sock());
    third = c.read_line();
    third_eof = c.at_eof();
  });
  ASSERT_TRUE(third.has_value());
  EXPECT_NE(third->find(R"({"id":null,"ok":false,"error":"the daemon already serves 2)"),
            std::string::npos)
      << *third;
  EXPECT_NE(third->find(R"("code":"refused")"), std::string::npos);
  EXPECT_TRUE(third_eof);
  EXPECT_EQ(server_->stats().connections_refused, 1u);
  EXPECT_EQ(server_->stats().connections, 2u);
  // The two served ones still work.
  std::optional<std::string> again;
  run_client([&] {
    open[0]->send_all(R"({"id":2,"method":"ping"})"
                      "\n");
    again = open[0]->read_line();
    open.clear();
  });
  ASSERT_TRUE(again.has_value());
  EXPECT_NE(again->find(R"({"id":2,"ok":true)"), std::string::npos);
  EXPECT_TRUE(run_until([&] { return server_->stats().connections == 0; }));
}

// Idle clients holding every slot must not lock the CLI out (issue #8): at the
// cap, the one idle longest goes, and the newcomer is served at once.
TEST_F(ControlServerTest, AtTheCapTheLongestIdleConnectionIsEvictedForANewOne) {
  manual_time_ = true;
  ControlServer::Options o;
  o.max_connections = 2;
  o.idle_timeout = std::chrono::hours(1);  // only eviction may close them here
  start(o);
  // Two clients that connect and send nothing, 10 ms apart.
  RawClient oldest(sock());
  ASSERT_TRUE(run_until([&] { return server_->stats().connections == 1; }));
  manual_.advance(std::chrono::milliseconds(10));
  RawClient younger(sock());
  ASSERT_TRUE(run_until([&] { return server_->stats().connections == 2; }));
  manual_.advance(o.evict_idle_after);

  auto replies = exchange(R"({"id":1,"method":"ping"})"
                          "\n",
                          1);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_NE(replies[0].find(R"({"id":1,"ok":true)"), std::string::npos) << replies[0];
  EXPECT_EQ(server_->stats().connections_evicted, 1u);
  EXPECT_EQ(server_->stats().connections_refused, 0u);
  // The oldest was told why and closed; the younger one still works.
  std::optional<std::string> why;
  bool oldest_eof = false;
  std::optional<std::string> pong;
  run_client([&] {
    why = oldest.read_line();
    oldest_eof = oldest.at_eof();
    younger.send_all(R"({"id":2,"method":"ping"})"
                     "\n");
    pong = younger.read_line();
  });
  ASSERT_TRUE(why.has_value());
  EXPECT_NE(why->find(R"("code":"refused")"), std::string::npos) << *why;
  EXPECT_NE(why->find("to admit a new connection"), std::string::npos) << *why;
  EXPECT_TRUE(oldest_eof);
  ASSERT_TRUE(pong.has_value());
  EXPECT_NE(pong->find(R"({"id":2,"ok":true)"), std::string::npos) << *pong;
}

TEST_F(ControlServerTest, AtTheCapConnectionsAwaitingAnAnswerOrJustConnectedStay) {
  manual_time_ = true;
  ControlServer::Options o;
  o.max_connections = 2;
  o.idle_timeout = std::chrono::hours(1);
  start(o);
  // One waits for a slow answer (busy, however long it takes) ...
  RawClient waiting(sock());
  ASSERT_TRUE(waiting.send_all(R"({"id":1,"method":"slow"})"
                               "\n"));
  ASSERT_TRUE(run_until([&] { return held_.size() == 1; }));
  manual_.advance(std::chrono::hours(2) - o.evict_idle_after / 2);
  // ... and one has just connected: younger than the eviction age.
  RawClient fresh(sock());
  ASSERT_TRUE(run_until([&] { return server_->stats().connections == 2; }));
  manual_.advance(o.evict_idle_after / 2 - std::chrono::milliseconds(1));

  // The newcomer only reads: a send could race the server's close (EPIPE).
  std::optional<std::string> refusal;
  run_client([&] {
    RawClient c(sock());
    refusal = c.read_line();
  });
  ASSERT_TRUE(refusal.has_value());
  EXPECT_NE(refusal->find("the daemon already serves 2"), std::string::npos) << *refusal;
  EXPECT_EQ(server_->stats().connections_refused, 1u);
  EXPECT_EQ(server_->stats().connections_evicted, 0u);
  EXPECT_EQ(server_->stats().connections, 2u);
  held_[0].responder.ok("\"late\"");
  std::optional<std::string> answer;
  run_client([&] { answer = waiting.read_line(); });
  EXPECT_EQ(answer, std::optional<std::string>(R"({"id":1,"ok":true,"result":"late"})"));
}

TEST_F(ControlServerTest, ForeignUidIsRefusedBeforeReading) {
  ControlServer::Options o;
  o.allowed_uid = geteuid() + 1;  // we are the foreigner
  start(o);
  bool called = false;
  server_->handle("workers.list", [&](const ControlRequest&, const ControlResponder& r) {
    called = true;
    r.ok("[]");
  });
  std::vector<std::string> replies;
  run_client([&] {
    RawClient c(sock());
    // The send may fail (the server may have closed already); the refusal
    // is waiting to be read either way.
    c.send_all(R"({"id":1,"method":"workers.list"})"
               "\n");
    while (auto line = c.read_line()) replies.push_back(*line);
  });
  ASSERT_EQ(replies.size(), 1u) << "one refusal, then the connection is closed";
  EXPECT_NE(replies[0].find("peer uid " + std::to_string(geteuid())), std::string::npos)
      << replies[0];
  EXPECT_NE(replies[0].find(R"("code":"refused")"), std::string::npos);
  EXPECT_FALSE(called);
  EXPECT_EQ(server_->stats().requests, 0u);
}

TEST_F(ControlServerTest, IdleConnectionsAreClosedAndTheAlarmStops) {
  ControlServer::Options o;
  o.idle_timeout = std::chrono::milliseconds(50);
  start(o);
  EXPECT_FALSE(server_->alarm_armed()) << "no connection, no wake-ups";
  bool eof = false;
  run_client([&] {
    RawClient c(sock());
    eof = c.connected() && c.at_eof();  // blocks until the server closes
  });
  EXPECT_TRUE(eof);
  EXPECT_TRUE(run_until([&] { return server_->stats().connections == 0; }));
  EXPECT_FALSE(server_->alarm_armed());
}

TEST_F(ControlServerTest, AConnectionAwaitingAnAnswerIsNotIdle) {
  ControlServer::Options o;
  o.idle_timeout = std::chrono::milliseconds(30);
  start(o);
  std::optional<std::string> reply;
  auto client = spawn([&] {
    RawClient c(sock());
    if (c.connected() && c.send_all(R"({"id":1,"method":"slow"})"
                                    "\n"))
      reply = c.read_line();
  });
  ASSERT_TRUE(run_until([&] { return held_.size() == 1; }));
  // Answered well after the idle timeout.
  after(200, [this] { held_[0].responder.ok("\"done\""); });
  ASSERT_TRUE(run_until([&] { return client->finished(); }));
  client.reset();
  EXPECT_EQ(reply, R"({"id":1,"ok":true,"result":"done"})");
}

TEST_F(ControlServerTest, StaleSocketFileIsReplaced) {
  // A socket file nobody listens on: what a daemon killed with SIGKILL leaves.
  ASSERT_TRUE(uvx_test::make_stale_socket(sock())) << std::strerror(errno);
  start();
  auto replies = exchange(R"({"id":1,"method":"ping"})"
                          "\n",
                          1);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_NE(replies[0].find(R"("ok":true)"), std::string::npos);
}

TEST_F(ControlServerTest, SecondServerIsRefusedAndTheFirstKeepsServing) {
  start();
  ControlServer second(&loop_, clock_);
  Status s = second.start(sock());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("another process is listening on " + sock()), std::string::npos)
      << s.error().message;
  second.stop();  // must not remove the first server's socket
  auto replies = exchange(R"({"id":1,"method":"ping"})"
                          "\n",
                          1);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_NE(replies[0].find(R"("ok":true)"), std::string::npos);
}

TEST_F(ControlServerTest, AFileThatIsNotASocketIsLeftAlone) {
  { std::ofstream(sock()) << "mine"; }
  ControlServer server(&loop_, clock_);
  Status s = server.start(sock());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find(sock() + " exists and is not a socket"), std::string::npos)
      << s.error().message;
  std::string content;
  std::ifstream(sock()) >> content;
  EXPECT_EQ(content, "mine");
}

TEST_F(ControlServerTest, ADirectoryOpenToOthersIsRefused) {
  ASSERT_EQ(chmod(dir_.path.c_str(), 0755), 0);
  ControlServer server(&loop_, clock_);
  Status s = server.start(sock());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("is open to others (mode 0755; expected 0700)"),
            std::string::npos)
      << s.error().message;
}

TEST_F(ControlServerTest, StopRemovesTheSocketFile) {
  start();
  ASSERT_EQ(access(sock().c_str(), F_OK), 0);
  server_->stop();
  EXPECT_NE(access(sock().c_str(), F_OK), 0);
}

}  // namespace
}  // namespace aw
