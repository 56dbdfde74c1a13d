// The daemon's HTTP side through the real binary (docs/http.md): /metrics
// judged by promtool, the JSON API, and server-sent events that a client which
// drops and reconnects with Last-Event-ID gets exactly what it missed from,
// across a daemon restart and a log rotation too.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <set>
#include <sstream>
#include <thread>

#include "src/metrics/promtool_check.h"
#include "tests/integration/harness.h"

namespace aw::testing {
namespace {

using namespace std::chrono_literals;

// A blocking loopback client with a deadline: enough HTTP for a test.
class Client {
 public:
  explicit Client(int port) : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~Client() { ::close(fd_); }
  bool connected() const { return connected_; }
  void send(const std::string& text) {
    for (std::size_t off = 0; off < text.size();) {
      ssize_t n = ::write(fd_, text.data() + off, text.size() - off);
      if (n <= 0) return;
      off += static_cast<std::size_t>(n);
    }
  }
  // Reads until `done(received)` or the deadline; returns everything read.
  std::string read_until(const std::function<bool(const std::string&)>& done,
                         std::chrono::milliseconds timeout = 10s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done(buf_)) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
      char chunk[65536];
      ssize_t n = ::read(fd_, chunk, sizeof chunk);
      if (n <= 0) break;
      buf_.append(chunk, static_cast<std::size_t>(n));
    }
    return buf_;
  }

 private:
  int fd_;
  bool connected_ = false;
  std::string buf_;
};

struct Response {
  int status = 0;
  std::string head;
  std::string body;
};

Response get(int port, const std::string& target) {
  Client c(port);
  EXPECT_TRUE(c.connected());
  c.send("GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  std::string all = c.read_until([](const std::string&) { return false; });
  Response r;
  std::size_t end = all.find("\r\n\r\n");
  if (end == std::string::npos) return r;
  r.head = all.substr(0, end);
  r.body = all.substr(end + 4);
  r.status = std::atoi(r.head.c_str() + 9);
  return r;
}

// The `id:` lines of a server-sent-event stream, in order.
std::vector<std::uint64_t> sse_ids(const std::string& stream) {
  std::vector<std::uint64_t> ids;
  std::istringstream in(stream);
  for (std::string line; std::getline(in, line);)
    if (line.rfind("id: ", 0) == 0) ids.push_back(std::stoull(line.substr(4)));
  return ids;
}

// The port of the daemon started last (start() waited for its daemon.started).
int http_port(const DaemonUnderTest& d) {
  std::optional<Event> started;
  for (const Event& e : d.events())
    if (e.kind == "daemon.started") started = e;
  if (!started) return 0;
  auto addr = started->fields.get_string("http");
  if (!addr) return 0;
  return std::atoi(addr->c_str() + addr->rfind(':') + 1);
}

std::uint64_t last_seq(const DaemonUnderTest& d) {
  auto all = d.events();
  return all.empty() ? 0 : all.back().seq;
}

// The daemon's newest seq, as /api/events says.
std::uint64_t newest_seq(int port) {
  Response r = get(port, "/api/events?limit=1");
  std::size_t at = r.body.find("\"last_seq\":");
  return at == std::string::npos ? 0 : std::stoull(r.body.substr(at + 11));
}

class HttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    results = d.home() + "/results";
    make_dirs(results);
  }
  void config(const std::string& extra = "") {
    d.write_config("[http]\nlisten = \"127.0.0.1:0\"\n[[watch]]\nname = \"results\"\npath = \"" +
                   results + "\"\n" + extra);
  }
  // A valid result: the shipped rules move it to completed/ (one execution).
  void land(const std::string& name) {
    write_file_atomically(results + "/" + name, "{\"ok\": true}");
  }
  std::size_t executions() const {
    return d.count([](const Event& e) { return e.kind == "action.succeeded"; });
  }

  // Lands results [from, to) and waits until all of them were moved: the live
  // log alone no longer holds their events once it rotated.
  void land_and_wait(int from, int to) {
    for (int i = from; i < to; ++i) land("r" + std::to_string(i) + ".json");
    auto deadline = std::chrono::steady_clock::now() + 30s;
    std::size_t moved = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      std::error_code ec;
      moved = 0;
      for (std::filesystem::directory_iterator it(results + "/completed", ec), end;
           !ec && it != end; it.increment(ec))
        ++moved;
      if (moved >= static_cast<std::size_t>(to)) break;
      std::this_thread::sleep_for(50ms);
    }
    ASSERT_EQ(moved, static_cast<std::size_t>(to));
  }

  DaemonUnderTest d;
  std::string results;
};

TEST_F(HttpTest, MetricsPassPromtoolAndCountWhatTheLogSays) {
  config();
  d.start();
  int port = http_port(d);
  ASSERT_GT(port, 0) << d.stderr_text();
  land("a.json");
  land("b.json");
  ASSERT_EQ(d.wait_for_count([](const Event& e) { return e.kind == "action.succeeded"; }, 2), 2u);
  Response r = get(port, "/metrics");
  ASSERT_EQ(r.status, 200) << r.head;
  EXPECT_NE(r.head.find("text/plain; version=0.0.4"), std::string::npos) << r.head;
  metrics::PromtoolVerdict v = metrics::promtool_check_metrics(r.body);
  ASSERT_TRUE(v.ran) << v.output;
  EXPECT_EQ(v.exit_code, 0) << v.output << "\n" << r.body;
  // No series twice (promtool checks families; this, every sample line).
  std::set<std::string> series;
  std::istringstream in(r.body);
  double succeeded = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::string name = line.substr(0, line.rfind(' '));
    EXPECT_TRUE(series.insert(name).second) << "duplicate series: " << name;
    if (name.rfind("agentwatch_executions_total{", 0) == 0 &&
        name.find("outcome=\"succeeded\"") != std::string::npos)
      succeeded += std::stod(line.substr(line.rfind(' ') + 1));
  }
  EXPECT_EQ(succeeded, static_cast<double>(executions()));
  for (const char* family :
       {"agentwatch_entities{state=\"failed\"}", "process_resident_memory_bytes",
        "agentwatch_loop_lag_seconds_count", "agentwatch_execution_duration_seconds_bucket"})
    EXPECT_NE(r.body.find(family), std::string::npos) << family;
}

TEST_F(HttpTest, ApiAnswersStatusEntitiesAndEventsAfterASeq) {
  config();
  d.start();
  int port = http_port(d);
  ASSERT_GT(port, 0) << d.stderr_text();
  land("a.json");
  ASSERT_TRUE(d.wait_for_kind("action.succeeded"));
  Response status = get(port, "/api/status");
  ASSERT_EQ(status.status, 200);
  EXPECT_NE(status.head.find("application/json"), std::string::npos);
  for (const char* key : {"\"entities\":{", "\"workers\":{", "\"executions\":{\"total\":1,",
                          "\"last_errors\":[", "\"rules\":"})
    EXPECT_NE(status.body.find(key), std::string::npos) << key << " in " << status.body;
  std::uint64_t seq = last_seq(d);
  land("b.json");
  ASSERT_TRUE(
      d.wait_for([&](const Event& e) { return e.seq > seq && e.kind == "action.succeeded"; }));
  Response ev = get(port, "/api/events?since=" + std::to_string(seq));
  ASSERT_EQ(ev.status, 200);
  EXPECT_EQ(ev.body.find("\"seq\":" + std::to_string(seq) + ","), std::string::npos)
      << "since is exclusive";
  EXPECT_NE(ev.body.find("\"seq\":" + std::to_string(seq + 1) + ","), std::string::npos) << ev.body;
  EXPECT_NE(ev.body.find("\"complete\":true"), std::string::npos);
  EXPECT_EQ(get(port, "/api/events?since=x").status, 400);
  // `agentwatch status` asks the daemon: the same live numbers, exit 0 (healthy).
  CommandResult st = d.cli({"status"});
  EXPECT_EQ(st.exit_code, 0) << st.out << st.err;
  EXPECT_NE(st.out.find("executions: {\"total\":2,"), std::string::npos) << st.out;
  CommandResult sj = d.cli({"status", "--json"});
  EXPECT_EQ(sj.exit_code, 0);
  EXPECT_NE(sj.out.find("\"http\":\"127.0.0.1:" + std::to_string(port) + "\""), std::string::npos)
      << sj.out;
  Response ents = get(port, "/api/entities");
  EXPECT_EQ(ents.status, 200);
  EXPECT_EQ(ents.body.front(), '[');
  Response page = get(port, "/");
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("new EventSource"), std::string::npos);
  EXPECT_EQ(get(port, "/nope").status, 404);
}

TEST_F(HttpTest, AStreamThatReconnectsWithLastEventIdGetsExactlyWhatItMissed) {
  config();
  d.start();
  int port = http_port(d);
  ASSERT_GT(port, 0) << d.stderr_text();
  std::uint64_t seen = 0;
  {
    Client c(port);
    c.send("GET /events HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n");
    std::string got =
        c.read_until([](const std::string& s) { return s.find("retry:") != std::string::npos; });
    ASSERT_NE(got.find("text/event-stream"), std::string::npos) << got;
    std::uint64_t before = last_seq(d);
    land("a.json");
    got = c.read_until([&](const std::string& s) {
      auto ids = sse_ids(s);
      return !ids.empty() && ids.back() > before + 2;
    });
    auto ids = sse_ids(got);
    ASSERT_FALSE(ids.empty()) << got;
    for (std::size_t i = 1; i < ids.size(); ++i) EXPECT_EQ(ids[i], ids[i - 1] + 1) << got;
    seen = ids.back();
  }  // the client drops
  land("b.json");
  land("c.json");
  ASSERT_EQ(d.wait_for_count([](const Event& e) { return e.kind == "action.succeeded"; }, 3), 3u);
  const std::uint64_t newest = last_seq(d);
  Client again(port);
  again.send("GET /events HTTP/1.1\r\nHost: localhost\r\nLast-Event-ID: " + std::to_string(seen) +
             "\r\n\r\n");
  std::string got = again.read_until([&](const std::string& s) {
    auto ids = sse_ids(s);
    return !ids.empty() && ids.back() >= newest;
  });
  auto ids = sse_ids(got);
  ASSERT_FALSE(ids.empty()) << got;
  EXPECT_EQ(ids.front(), seen + 1) << got;
  for (std::size_t i = 1; i < ids.size(); ++i) EXPECT_EQ(ids[i], ids[i - 1] + 1);
  EXPECT_EQ(got.find("event: reset"), std::string::npos);
}

TEST_F(HttpTest, AfterARestartAndARotationTheMissedEventsComeFromDiskOrAResetSaysWhereItStarts) {
  // A small log: the events of a few results rotate it several times.
  config("[event_log]\nmax_size = \"8KiB\"\nkeep = 50\n");
  d.start();
  int port = http_port(d);
  ASSERT_GT(port, 0) << d.stderr_text();
  const std::uint64_t seen = last_seq(d);
  ASSERT_EQ(d.stop(), 0);
  // A new daemon: its memory holds none of what it logged before.
  d.start();
  port = http_port(d);
  ASSERT_GT(port, 0) << d.stderr_text();
  land_and_wait(0, 30);
  const std::uint64_t newest = newest_seq(port);
  ASSERT_GT(newest, seen + 30);
  {
    Client c(port);
    c.send("GET /events HTTP/1.1\r\nHost: localhost\r\nLast-Event-ID: " + std::to_string(seen) +
           "\r\n\r\n");
    std::string got = c.read_until([&](const std::string& s) {
      auto ids = sse_ids(s);
      return !ids.empty() && ids.back() >= newest;
    });
    auto ids = sse_ids(got);
    ASSERT_FALSE(ids.empty()) << got;
    EXPECT_EQ(ids.front(), seen + 1) << "what it missed comes from the rotated segments";
    for (std::size_t i = 1; i < ids.size(); ++i) EXPECT_EQ(ids[i], ids[i - 1] + 1);
    EXPECT_EQ(got.find("event: reset"), std::string::npos);
  }
  // Now the oldest segments are pruned (keep = 1): the stream says where it starts.
  ASSERT_EQ(d.stop(), 0);
  config("[event_log]\nmax_size = \"8KiB\"\nkeep = 1\n");
  d.start();
  port = http_port(d);
  land_and_wait(30, 60);
  const std::uint64_t now_newest = newest_seq(port);
  Client old(port);
  old.send("GET /events HTTP/1.1\r\nHost: localhost\r\nLast-Event-ID: 0\r\n\r\n");
  std::string got = old.read_until([&](const std::string& s) {
    auto ids = sse_ids(s);
    return !ids.empty() && ids.back() >= now_newest;
  });
  std::size_t reset = got.find("event: reset\ndata: ");
  ASSERT_NE(reset, std::string::npos) << got.substr(0, 400);
  auto ids = sse_ids(got);
  ASSERT_FALSE(ids.empty());
  EXPECT_GT(ids.front(), 1u);
  EXPECT_EQ(std::stoull(got.substr(reset + 19)), ids.front()) << "reset names the first seq sent";
  for (std::size_t i = 1; i < ids.size(); ++i) EXPECT_EQ(ids[i], ids[i - 1] + 1);
}

// One sample's value on /metrics, or -1 when it is not there.
double metric(int port, const std::string& series) {
  const std::string body = get(port, "/metrics").body;
  const std::size_t at = body.find("\n" + series + " ");
  return at == std::string::npos ? -1 : std::stod(body.substr(at + series.size() + 2));
}

TEST_F(HttpTest, AReconnectAfterARestartReadsFromTheIndexNotTheWholeLog) {
  // A long history the new daemon has never seen in memory: 8 MiB in a
  // rotated segment and the live file (the daemon samples both at start).
  constexpr std::uint64_t kLines = 40'000;
  make_dirs(d.state_dir());
  std::string segment;
  std::string live;
  for (std::uint64_t n = 1; n <= kLines; ++n) {
    Event e;
    e.seq = n;
    e.kind = "test.history";
    e.source = "test";
    e.time = WallTime(std::chrono::seconds(1'795'305'600));
    e.fields.set("padding", std::string(160, 'x'));
    (n <= kLines / 2 ? segment : live) += to_json_line(e);
  }
  write_file(d.state_dir() + "/events.000001.jsonl", segment);
  write_file(d.event_log(), live);
  const std::uint64_t log_bytes = segment.size() + live.size();
  config("[event_log]\nmax_size = \"64MiB\"\n");
  d.start();
  const int port = http_port(d);
  ASSERT_GT(port, 0) << d.stderr_text();
  // The sampling of what was on disk runs on the thread pool at start.
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (metric(port, "agentwatch_event_log_index_entries") < 20 &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(20ms);
  ASSERT_GE(metric(port, "agentwatch_event_log_index_entries"), 20);

  for (const std::uint64_t seen : {kLines - 10, kLines / 2 - 3, std::uint64_t{5}}) {
    const double read_before = metric(port, "agentwatch_http_stream_replay_read_bytes_total");
    const std::uint64_t newest = newest_seq(port);
    Client c(port);
    c.send("GET /events HTTP/1.1\r\nHost: localhost\r\nLast-Event-ID: " + std::to_string(seen) +
           "\r\n\r\n");
    std::string got = c.read_until([&](const std::string& s) {
      auto ids = sse_ids(s);
      return !ids.empty() && ids.back() >= std::min<std::uint64_t>(newest, seen + 20'000);
    });
    auto ids = sse_ids(got);
    ASSERT_FALSE(ids.empty()) << got.substr(0, 300);
    EXPECT_EQ(ids.front(), seen + 1) << "after " << seen;
    for (std::size_t i = 1; i < ids.size(); ++i) ASSERT_EQ(ids[i], ids[i - 1] + 1);
    EXPECT_EQ(got.find("event: reset"), std::string::npos);
    // Read from the index entry before `seen`: the rest of the log after it,
    // never the part before (which is most of it for the first two). Slack:
    // one index stride, and one read buffer (1 MiB) per round of kMaxReplay
    // events, which the reader may have filled past where the round stopped.
    const double read =
        metric(port, "agentwatch_http_stream_replay_read_bytes_total") - read_before;
    const double after_seen = static_cast<double>(log_bytes) * static_cast<double>(kLines - seen) /
                              static_cast<double>(kLines);
    const double rounds = std::ceil(static_cast<double>(kLines - seen) / 20'000.0);
    EXPECT_LT(read, after_seen + 256 * 1024 + rounds * 1024 * 1024)
        << "after " << seen << " of a " << log_bytes << "-byte log";
  }
  // At least one disk read each (the absence since seq 5 is read in two
  // rounds of kMaxReplay, the second maybe still under way).
  EXPECT_GE(metric(port, "agentwatch_http_stream_replays_total{from=\"disk\"}"), 3);
}

TEST_F(HttpTest, StatsdGetsEachExecutionAndTheGauges) {
  int udp = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(udp, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  ASSERT_EQ(::getsockname(udp, reinterpret_cast<sockaddr*>(&a), &len), 0);
  config("[statsd]\naddress = \"127.0.0.1:" + std::to_string(ntohs(a.sin_port)) +
         "\"\ninterval = \"100ms\"\n");
  d.start();
  land("a.json");
  auto ok = d.wait_for_kind("action.succeeded");
  ASSERT_TRUE(ok);
  const std::string rule = *ok->fields.get_string("action");
  std::string got;
  auto deadline = std::chrono::steady_clock::now() + 10s;
  auto has = [&](const std::string& s) { return got.find(s) != std::string::npos; };
  while (std::chrono::steady_clock::now() < deadline &&
         !(has("agentwatch.executions." + ok->rule + "." + rule + ".succeeded:1|c") &&
           has("agentwatch.entities.failed:0|g"))) {
    pollfd p{udp, POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    char buf[2048];
    ssize_t n = ::recv(udp, buf, sizeof buf, 0);
    if (n > 0) got.append(buf, static_cast<std::size_t>(n)).push_back('\n');
  }
  ::close(udp);
  EXPECT_TRUE(has("agentwatch.executions." + ok->rule + "." + rule + ".succeeded:1|c")) << got;
  EXPECT_TRUE(has("agentwatch.executions." + ok->rule + "." + rule + ".duration:")) << got;
  EXPECT_TRUE(has("agentwatch.entities.failed:0|g")) << got;
}

}  // namespace
}  // namespace aw::testing
