// Loop tests of LineConnection on real unix sockets: a fresh loop per test,
// clients on a thread (blocking, with timeouts) while the loop runs here;
// waits on the client thread's end or on counters, never sleeps.
#include "src/uvx/line_connection.h"

#include <sys/socket.h>

#include <csignal>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "src/uvx/handle.h"
#include "src/uvx/unix_listener_test_support.h"

namespace aw::uvx {
namespace {

using uvx_test::RawClient;

class LineConnectionTest : public uvx_test::LoopTest {
 protected:
  void SetUp() override {
    std::signal(SIGPIPE, SIG_IGN);  // as the daemon does
    uvx_test::LoopTest::SetUp();
  }
  void release_handles() override {
    held_.clear();
    timers_.clear();
    conn_.reset();
    listener_.reset();
  }

  // Listens on sock(); the one connection accepted gets `options` and the
  // fixture's handlers: by default each line is echoed back as "<line>!".
  void listen(LineConnection::Options options = {}) {
    options_ = options;
    listener_ = std::make_unique<UnixListener>(&loop_, "test", [this](int status) {
      if (status < 0) return;
      auto c = std::make_unique<LineConnection>(options_);
      ASSERT_EQ(c->accept(*listener_), 0);
      ASSERT_TRUE(c->peer().has_value());
      conn_ = std::move(c);
      ASSERT_EQ(conn_->start(handlers()), 0);
    });
    ASSERT_TRUE(listener_->listen(sock(), 8).ok());
  }

  LineConnection::Handlers handlers() {
    LineConnection::Handlers h;
    h.on_line = [this](std::string_view line) {
      lines_.emplace_back(line);
      if (on_line_) return on_line_(line);
      conn_->reply(std::string(line) + "!\n");
    };
    h.on_refusal = [this](LineRefusal reason, std::size_t bytes) {
      refusals_.push_back({reason, bytes});
      if (on_refusal_) on_refusal_(reason);
    };
    h.on_input_end = [this] { ++input_ends_; };
    h.on_closed = [this] {
      ++closed_;
      high_water_ = conn_->buffered_high_water();
      conn_.reset();  // from inside its own callback
    };
    return h;
  }

  // A timer that runs `fn` on the loop after `ms` (an async answer).
  void after(std::uint64_t ms, std::function<void()> fn) {
    timers_.push_back(std::make_unique<Timer>(&loop_, std::move(fn)));
    timers_.back()->start(ms);
  }

  std::string sock() const { return dir_.path + "/line.sock"; }

  struct Refused {
    LineRefusal reason;
    std::size_t bytes;
  };

  uvx_test::TempDir dir_{"aw-line"};
  LineConnection::Options options_;
  std::unique_ptr<UnixListener> listener_;
  std::unique_ptr<LineConnection> conn_;
  std::function<void(std::string_view)> on_line_;
  std::function<void(LineRefusal)> on_refusal_;
  std::vector<std::string> lines_;
  std::vector<Refused> refusals_;
  std::vector<LineConnection::ReplySlot> held_;
  std::vector<std::unique_ptr<Timer>> timers_;
  int input_ends_ = 0;
  int closed_ = 0;
  std::size_t high_water_ = 0;
};

TEST_F(LineConnectionTest, LinesAreFramedAcrossWritesAndBlankLinesSkipped) {
  listen();
  std::vector<std::string> replies;
  run_client([&] {
    RawClient c(sock());
    c.send_all("one\ntw");
    c.send_all("o\n\n\r\nthree\r\n");
    for (int i = 0; i < 3; ++i)
      if (auto l = c.read_line()) replies.push_back(*l);
    c.shutdown_write();
    EXPECT_TRUE(c.at_eof());
  });
  EXPECT_EQ(lines_, (std::vector<std::string>{"one", "two", "three\r"}));
  EXPECT_EQ(replies, (std::vector<std::string>{"one!", "two!", "three\r!"}));
  EXPECT_TRUE(run_until([&] { return closed_ == 1; }));
  EXPECT_EQ(input_ends_, 1);
  EXPECT_TRUE(refusals_.empty());
}

TEST_F(LineConnectionTest, RepliesKeepRequestOrderWhateverOrderTheyAreAnsweredIn) {
  listen();
  on_line_ = [this](std::string_view line) {
    auto slot = std::make_shared<LineConnection::ReplySlot>(conn_->reserve());
    // "a" answers last, "c" first: the client must still read a, b, c.
    const std::uint64_t ms = line == "a" ? 30 : line == "b" ? 15 : 1;
    after(ms, [slot, l = std::string(line)] { slot->send(l + "\n"); });
  };
  std::vector<std::string> replies;
  run_client([&] {
    RawClient c(sock());
    c.send_all("a\nb\nc\n");
    for (int i = 0; i < 3; ++i)
      if (auto l = c.read_line()) replies.push_back(*l);
  });
  EXPECT_EQ(replies, (std::vector<std::string>{"a", "b", "c"}));
}

TEST_F(LineConnectionTest, ADroppedSlotGivesUpItsPlace) {
  listen();
  on_line_ = [this](std::string_view line) {
    if (line == "drop") {
      (void)conn_->reserve();  // dropped at once, unanswered
      return;
    }
    conn_->reply(std::string(line) + "\n");
  };
  std::vector<std::string> replies;
  run_client([&] {
    RawClient c(sock());
    c.send_all("drop\nafter\n");
    if (auto l = c.read_line()) replies.push_back(*l);
  });
  EXPECT_EQ(replies, (std::vector<std::string>{"after"}));
}

TEST_F(LineConnectionTest, ALineOverTheBoundIsRefusedWithoutBufferingItThenClosed) {
  LineConnection::Options o;
  o.max_line_bytes = 1024;
  listen(o);
  std::vector<std::string> replies;
  on_refusal_ = [this](LineRefusal) { conn_->reply("too long\n"); };
  bool sent_everything = true;
  run_client([&] {
    RawClient c(sock());
    c.send_all("first\n");
    const std::string chunk(1024 * 1024, 'x');
    for (int i = 0; i < 10 && sent_everything; ++i) sent_everything = c.send_all(chunk);
    while (auto l = c.read_line()) replies.push_back(*l);
  });
  EXPECT_FALSE(sent_everything) << "10 MB of one line were read";
  EXPECT_EQ(replies, (std::vector<std::string>{"first!", "too long"}));
  ASSERT_EQ(refusals_.size(), 1u);
  EXPECT_EQ(refusals_[0].reason, LineRefusal::kLineTooLong);
  EXPECT_GT(refusals_[0].bytes, 1024u);
  EXPECT_TRUE(run_until([&] { return closed_ == 1; }));
  EXPECT_LE(high_water_, 1024u);
}

TEST_F(LineConnectionTest, ACompleteLineOverTheBoundIsRefusedToo) {
  LineConnection::Options o;
  o.max_line_bytes = 10;
  listen(o);
  run_client([&] {
    RawClient c(sock());
    c.send_all(std::string(20, 'y') + "\n");
    EXPECT_TRUE(c.at_eof());
  });
  ASSERT_EQ(refusals_.size(), 1u);
  EXPECT_EQ(refusals_[0].bytes, 20u);
  EXPECT_TRUE(lines_.empty());
}

TEST_F(LineConnectionTest, AnUnterminatedLastLineIsRefusedAsTruncated) {
  listen();
  on_refusal_ = [this](LineRefusal) { conn_->reply("truncated\n"); };
  std::optional<std::string> reply;
  run_client([&] {
    RawClient c(sock());
    c.send_all("half a li");
    c.shutdown_write();
    reply = c.read_line();
    EXPECT_TRUE(c.at_eof());
  });
  ASSERT_EQ(refusals_.size(), 1u);
  EXPECT_EQ(refusals_[0].reason, LineRefusal::kTruncated);
  EXPECT_EQ(refusals_[0].bytes, 9u);
  EXPECT_EQ(reply, "truncated");
  EXPECT_TRUE(lines_.empty());
}

TEST_F(LineConnectionTest, AnUnterminatedLastLineMayBeDelivered) {
  LineConnection::Options o;
  o.partial_line_at_eof = LineConnection::Options::PartialLineAtEof::kDeliver;
  listen(o);
  std::optional<std::string> reply;
  run_client([&] {
    RawClient c(sock());
    c.send_all("last");
    c.shutdown_write();
    reply = c.read_line();
    EXPECT_TRUE(c.at_eof());
  });
  EXPECT_EQ(reply, "last!");
  EXPECT_TRUE(refusals_.empty());
}

TEST_F(LineConnectionTest, UnansweredRequestsStopReadingUntilAnswered) {
  LineConnection::Options o;
  o.max_pending_replies = 2;
  listen(o);
  on_line_ = [this](std::string_view) { held_.push_back(conn_->reserve()); };
  auto client = spawn([&] {
    RawClient c(sock());
    c.send_all("1\n2\n3\n4\n");
    for (int i = 0; i < 4; ++i) EXPECT_TRUE(c.read_line().has_value());
  });
  ASSERT_TRUE(run_until([&] { return held_.size() == 2; }));
  // Two more lines are in, but held back: no third request reaches us.
  EXPECT_FALSE(run_until([&] { return lines_.size() > 2; }, 50));
  EXPECT_EQ(conn_->pending_replies(), 2u);
  held_[0].send("r1\n");
  ASSERT_TRUE(run_until([&] { return lines_.size() == 3; }));
  EXPECT_EQ(lines_.size(), 3u) << "one answer admits one more request";
  for (std::size_t i = 1; i < held_.size(); ++i) held_[i].send("r\n");
  ASSERT_TRUE(run_until([&] { return lines_.size() == 4; }));
  held_.back().send("r\n");
  EXPECT_TRUE(run_until([&] { return client->finished(); }));
}

TEST_F(LineConnectionTest, APeerThatDoesNotReadIsRefusedWhenAskedToClose) {
  LineConnection::Options o;
  o.max_write_queue_bytes = 64 * 1024;
  o.on_write_backlog = LineConnection::Options::WriteBacklog::kClose;
  listen(o);
  on_line_ = [this](std::string_view) { conn_->reply(std::string(16 * 1024, 'r') + "\n"); };
  run_client([&] {
    RawClient c(sock());
    // Never reads: the replies pile up in the socket, then in libuv's queue.
    for (int i = 0; i < 200 && c.send_all("x\n"); ++i) {
    }
  });
  EXPECT_TRUE(run_until([&] { return closed_ == 1; }));
  ASSERT_FALSE(refusals_.empty());
  EXPECT_EQ(refusals_.back().reason, LineRefusal::kWriteBacklog);
  EXPECT_GT(refusals_.back().bytes, 64u * 1024);
}

TEST_F(LineConnectionTest, TheOwnerMayDestroyItInsideOnLineAndSlotsThenSendNowhere) {
  listen();
  on_line_ = [this](std::string_view) {
    held_.push_back(conn_->reserve());
    conn_.reset();
  };
  run_client([&] {
    RawClient c(sock());
    c.send_all("a\nb\n");
    EXPECT_TRUE(c.at_eof());
  });
  EXPECT_EQ(lines_, std::vector<std::string>{"a"}) << "no handler after destruction";
  ASSERT_EQ(held_.size(), 1u);
  EXPECT_FALSE(held_[0].connected());
  held_[0].send("nowhere\n");
  EXPECT_EQ(closed_, 0) << "on_closed is for closes the owner did not ask for";
}

TEST_F(LineConnectionTest, APeerThatLeavesClosesTheConnection) {
  listen();
  on_line_ = [this](std::string_view) { held_.push_back(conn_->reserve()); };
  run_client([&] {
    RawClient c(sock());
    c.send_all("a\n");
    c.close_now();
  });
  // EOF arrives; the owed reply keeps it open until it is answered.
  ASSERT_TRUE(run_until([&] { return input_ends_ == 1; }));
  EXPECT_EQ(closed_, 0);
  held_[0].send("late\n");
  EXPECT_TRUE(run_until([&] { return closed_ == 1; }));
}

}  // namespace
}  // namespace aw::uvx
