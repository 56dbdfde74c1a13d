#include "src/tmux/tmux_client.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <optional>

#include "src/tmux/tmux_test_support.h"

namespace aw {
namespace {

using tmux_testing::TmuxLoopTest;

TEST(UnreachableMessage, RecognisesEveryWayTmuxFailsToReachItsServer) {
  EXPECT_TRUE(is_unreachable_message("no server running on /tmp/tmux-1000/x\n"));
  EXPECT_TRUE(
      is_unreachable_message("error connecting to /tmp/tmux-1000/x (No such file or directory)\n"));
  EXPECT_TRUE(is_unreachable_message("server exited unexpectedly\n"));
  EXPECT_TRUE(is_unreachable_message("error connecting to /tmp/tmux-1000/x (Permission denied)\n"));
  EXPECT_TRUE(is_unreachable_message("directory /tmp/tmux-1000 has unsafe permissions\n"));
  // A server that answered.
  EXPECT_FALSE(is_unreachable_message("can't find session: w1\n"));
  EXPECT_FALSE(is_unreachable_message("directory x\nhas unsafe permissions\n"));
  EXPECT_FALSE(is_unreachable_message(""));
}

TEST(ReplyStatus, ExitZeroIsOkOtherwiseTmuxsOwnWords) {
  TmuxReply ok;
  EXPECT_TRUE(reply_status(ok, "tmux x").ok());
  TmuxReply bad;
  bad.exit_code = 1;
  bad.err = "can't find session: w1\n";
  EXPECT_EQ(reply_status(bad, "tmux kill-session").error().message,
            "tmux kill-session: can't find session: w1");
  bad.err.clear();
  EXPECT_EQ(reply_status(bad, "tmux x").error().message, "tmux x: exited with status 1");
  Result<TmuxReply> failed = make_error("tmux x: timed out", -ETIMEDOUT);
  EXPECT_EQ(reply_status(failed, "listing").error().message, "listing: tmux x: timed out");
  EXPECT_EQ(reply_status(failed, "listing").error().code, -ETIMEDOUT);
}

class TmuxClientTest : public TmuxLoopTest {};

TEST_F(TmuxClientTest, NoServerIsAReplyThatReachedNoServer) {
  auto r = tmux({"list-sessions"});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_NE(r->exit_code, 0);
  EXPECT_TRUE(r->unreachable()) << r->err;
}

TEST_F(TmuxClientTest, RunsCommandsAndReturnsTheirOutput) {
  auto created = tmux({"new-session", "-d", "-s", "w1", "sleep 60"});
  ASSERT_TRUE(created.ok());
  ASSERT_TRUE(created->ok()) << created->err;
  auto r = tmux({"list-sessions", "-F", "#{session_name}"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_EQ(r->out, "w1\n");
  EXPECT_FALSE(r->unreachable());

  auto missing = tmux({"has-session", "-t", "=nope"});
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->exit_code, 1);
  EXPECT_FALSE(missing->unreachable());
  EXPECT_EQ(missing->error_text(), "can't find session: nope");
}

TEST_F(TmuxClientTest, SeveralCommandsInFlightEachGetTheirReply) {
  ASSERT_TRUE(tmux({"new-session", "-d", "-s", "w1", "sleep 60"})->ok());
  std::vector<std::string> outs(5);
  int done = 0;
  for (int i = 0; i < 5; ++i) {
    client_->run({"display-message", "-p", "reply " + std::to_string(i)},
                 [&, i](Result<TmuxReply> r) {
                   ASSERT_TRUE(r.ok());
                   outs[static_cast<std::size_t>(i)] = r->out;
                   ++done;
                 });
  }
  EXPECT_EQ(client_->in_flight(), 5u);
  EXPECT_EQ(done, 0);  // never called back from inside run()
  ASSERT_TRUE(run_until([&] { return done == 5; }));
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(outs[static_cast<std::size_t>(i)], "reply " + std::to_string(i) + "\n");
  EXPECT_EQ(client_->in_flight(), 0u);
}

TEST_F(TmuxClientTest, MissingBinaryIsAnErrorNeverNoServer) {
  TmuxClient client(&loop_, clock_, TmuxServer{{"/nonexistent/tmux"}});
  std::optional<Result<TmuxReply>> reply;
  client.run({"list-panes", "-a"}, [&](Result<TmuxReply> r) { reply.emplace(std::move(r)); });
  EXPECT_FALSE(reply.has_value());
  ASSERT_TRUE(run_until([&] { return reply.has_value(); }));
  ASSERT_FALSE(reply->ok());
  EXPECT_EQ(reply->error().code, -ENOENT);
  EXPECT_TRUE(reply->error().message.starts_with("tmux list-panes: cannot run"))
      << reply->error().message;
}

TEST_F(TmuxClientTest, HangingTmuxTimesOutAsAnError) {
  // A "tmux" that never answers (a stopped server looks like this to a client).
  TmuxClientOptions o;
  o.timeout = std::chrono::milliseconds(100);
  TmuxClient client(&loop_, clock_, TmuxServer{{"sh", "-c", "exec sleep 30", "sh"}}, o);
  std::optional<Result<TmuxReply>> reply;
  MonoTime start = clock_.mono();
  client.run({"list-panes"}, [&](Result<TmuxReply> r) { reply.emplace(std::move(r)); });
  ASSERT_TRUE(run_until([&] { return reply.has_value(); }));
  ASSERT_FALSE(reply->ok());
  EXPECT_EQ(reply->error().code, -ETIMEDOUT);
  EXPECT_EQ(reply->error().message, "tmux list-panes: timed out after 100 ms");
  EXPECT_LT(clock_.mono() - start, std::chrono::seconds(5));
}

TEST_F(TmuxClientTest, FloodingOutputIsCutAndAnError) {
  TmuxClientOptions o;
  o.max_output = 64 * 1024;
  TmuxClient client(&loop_, clock_, TmuxServer{{"cat", "/dev/zero"}}, o);
  std::optional<Result<TmuxReply>> reply;
  client.run({}, [&](Result<TmuxReply> r) { reply.emplace(std::move(r)); });
  ASSERT_TRUE(run_until([&] { return reply.has_value(); }));
  ASSERT_FALSE(reply->ok());
  EXPECT_EQ(reply->error().code, -EMSGSIZE);
}

TEST_F(TmuxClientTest, KilledBySignalIsAnError) {
  TmuxClient client(&loop_, clock_, TmuxServer{{"sh", "-c", "kill -TERM $$"}});
  std::optional<Result<TmuxReply>> reply;
  client.run({}, [&](Result<TmuxReply> r) { reply.emplace(std::move(r)); });
  ASSERT_TRUE(run_until([&] { return reply.has_value(); }));
  ASSERT_FALSE(reply->ok());
  EXPECT_EQ(reply->error().code, -EINTR);
  EXPECT_NE(reply->error().message.find("signal 15"), std::string::npos);
}

TEST_F(TmuxClientTest, DestroyingTheClientKillsCommandsAndDropsCallbacks) {
  int status = 0;
  ASSERT_EQ(::waitpid(-1, &status, WNOHANG), -1) << "the test process has children already";
  auto client = std::make_unique<TmuxClient>(&loop_, clock_, TmuxServer{{"sleep", "30"}});
  int called = 0;
  client->run({}, [&](const Result<TmuxReply>&) { ++called; });
  EXPECT_EQ(::waitpid(-1, &status, WNOHANG), 0);  // running
  client.reset();
  // Killed and reaped by then: the test process has no child left.
  EXPECT_EQ(::waitpid(-1, &status, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
  uv_run(&loop_, UV_RUN_NOWAIT);
  EXPECT_EQ(called, 0);
}

TEST_F(TmuxClientTest, ACallbackMayDestroyTheClient) {
  auto client = std::make_unique<TmuxClient>(&loop_, clock_, server());
  int called = 0;
  for (int i = 0; i < 3; ++i)
    client->run({"list-sessions"}, [&](const Result<TmuxReply>&) {
      ++called;
      client.reset();
    });
  ASSERT_TRUE(run_until([&] { return client == nullptr; }));
  uv_run(&loop_, UV_RUN_NOWAIT);
  EXPECT_EQ(called, 1);  // the others were dropped with the client
}

}  // namespace
}  // namespace aw
