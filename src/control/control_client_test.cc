// control_call against a real ControlServer on a real socket (the call blocks,
// so it runs on a thread while the loop runs here), and against no daemon.
#include "src/control/control_client.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "src/control/control_server.h"
#include "src/control/control_test_support.h"

namespace aw {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class ControlClientTest : public control_test::LoopTest {
 protected:
  void release_handles() override { server_.reset(); }

  void start(ControlServer::Options options = {}) {
    server_ = std::make_unique<ControlServer>(&loop_, clock_, options);
    server_->handle("health", [](const ControlRequest& r, const ControlResponder& out) {
      auto id = r.params.get_string("id");
      if (!id) return out.fail(ControlErrorCode::kBadRequest, "health: expected params.id");
      if (*id != "w1") return out.fail(ControlErrorCode::kNotFound, "no worker " + *id);
      out.ok(R"({"id":"w1","state":"processing"})");
    });
    server_->handle("never", [this](const ControlRequest&, ControlResponder out) {
      never_.push_back(std::move(out));
    });
    Status s = server_->start(sock());
    ASSERT_TRUE(s.ok()) << s.error().message;
  }
  std::string sock() const { return control_socket_path(dir_.path); }

  // control_call on a thread while the loop serves it.
  Result<ControlReply> call(std::string_view method, std::string_view params,
                            Duration timeout = seconds(5)) {
    std::optional<Result<ControlReply>> out;
    run_client([&] { out.emplace(control_call(sock(), method, params, timeout)); });
    if (!out) return make_error("the client thread did not run");
    return std::move(*out);
  }

  control_test::TempDir dir_;
  SystemClock clock_;
  std::unique_ptr<ControlServer> server_;
  std::vector<ControlResponder> never_;
};

TEST_F(ControlClientTest, PingRoundTrip) {
  start();
  auto r = call("ping", "");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->ok);
  EXPECT_EQ(r->result_json, "{\"pid\":" + std::to_string(getpid()) +
                                ",\"methods\":[\"health\",\"never\",\"ping\"]}");
  EXPECT_TRUE(r->error.empty());
}

TEST_F(ControlClientTest, ParamsAreSentAndPrettyParamsCompacted) {
  start();
  auto r = call("health", "{\n  \"id\": \"w1\"\n}\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_TRUE(r->ok) << r->error;
  EXPECT_EQ(r->result_json, R"({"id":"w1","state":"processing"})");
}

TEST_F(ControlClientTest, ErrorRepliesAreRepliesNotErrors) {
  start();
  auto missing = call("health", R"({"id":"w9"})");
  ASSERT_TRUE(missing.ok()) << missing.error().message;
  EXPECT_FALSE(missing->ok);
  EXPECT_EQ(missing->code, "not_found");
  EXPECT_EQ(missing->error, "no worker w9");

  auto unknown = call("helth", R"({"id":"w1"})");
  ASSERT_TRUE(unknown.ok()) << unknown.error().message;
  EXPECT_FALSE(unknown->ok);
  EXPECT_EQ(unknown->code, "unknown_method");
  EXPECT_NE(unknown->error.find("did you mean 'health'?"), std::string::npos) << unknown->error;
}

TEST_F(ControlClientTest, RefusedAtTheConnectionLimitIsAReply) {
  ControlServer::Options o;
  o.max_connections = 0;
  start(o);
  auto r = call("ping", "");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_FALSE(r->ok);
  EXPECT_EQ(r->code, "refused");
  EXPECT_NE(r->error.find("control connections (the limit)"), std::string::npos) << r->error;
}

TEST_F(ControlClientTest, NoReplyInTimeIsATimeoutNotUnavailable) {
  start();
  auto r = call("never", "", milliseconds(100));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, -ETIMEDOUT);
  EXPECT_FALSE(is_control_unavailable(r.error()));
  EXPECT_NE(r.error().message.find("did not reply within 100 ms"), std::string::npos)
      << r.error().message;
  ASSERT_EQ(never_.size(), 1u);
  // The client left; a late answer goes nowhere and hurts nothing.
  never_[0].ok("1");
  EXPECT_TRUE(run_until([&] { return server_->stats().connections == 0; }));
}

TEST_F(ControlClientTest, BadParamsAreRefusedBeforeSending) {
  start();
  for (const char* params : {"[1]", "{", "\"x\"", "{} {}"}) {
    auto r = call("ping", params);
    ASSERT_FALSE(r.ok()) << params;
    EXPECT_NE(r.error().message.find("control request params"), std::string::npos)
        << r.error().message;
    EXPECT_FALSE(is_control_unavailable(r.error()));
  }
  auto empty = call("", "");
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(server_->stats().requests, 0u) << "nothing was sent";
}

TEST(ControlClientNoDaemonTest, MissingSocketIsUnavailable) {
  control_test::TempDir dir;
  auto r = control_call(control_socket_path(dir.path), "ping", "", seconds(1));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(is_control_unavailable(r.error())) << r.error().message;
  EXPECT_NE(r.error().message.find("agentwatch is not running"), std::string::npos);
  auto no_dir = control_call(dir.path + "/gone/control.sock", "ping", "", seconds(1));
  ASSERT_FALSE(no_dir.ok());
  EXPECT_TRUE(is_control_unavailable(no_dir.error())) << no_dir.error().message;
}

TEST(ControlClientNoDaemonTest, StaleSocketIsUnavailable) {
  control_test::TempDir dir;
  const std::string path = control_socket_path(dir.path);
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  close(fd);  // bound, never listened: connect is refused
  auto r = control_call(path, "ping", "", seconds(1));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, -ECONNREFUSED);
  EXPECT_TRUE(is_control_unavailable(r.error()));
}

TEST(ControlClientNoDaemonTest, TooLongPathIsAnErrorNotUnavailable) {
  auto r = control_call("/tmp/" + std::string(200, 'x'), "ping", "", seconds(1));
  ASSERT_FALSE(r.ok());
  EXPECT_FALSE(is_control_unavailable(r.error()));
  EXPECT_NE(r.error().message.find("use a shorter runtime dir"), std::string::npos);
}

}  // namespace
}  // namespace aw
