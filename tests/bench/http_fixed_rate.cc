// http_fixed_rate --port P [--path /metrics] [--rate 1000] [--seconds S]
//                 [--connections N] [--warmup-s W]
//
// An open-loop HTTP/1.1 load at a fixed rate, what Debian's wrk (no -R) cannot
// do: request i is due at t0 + i/rate, whatever happened to the ones before it.
// Due requests wait in one queue; each of N keep-alive connections takes the
// oldest as soon as it is idle (one request in flight per connection). The
// latency of a request is measured from its *scheduled* time to the end of its
// response, so a slow answer that holds up the requests behind it counts
// against every one of them (no coordinated omission, as in wrk2). The service
// time (send to end of response) is reported beside it.
//
// The first W seconds (0.5 by default) are a warm-up, not counted. Prints one
// line of key=value (times in µs):
//   scheduled= answered= non2xx= unanswered= reconnects= rps= p50_us= p90_us=
//   p99_us= p999_us= max_us= mean_us= svc_p50_us= svc_p99_us= svc_max_us=
//   max_queue= late_1ms=
// (late_1ms: requests sent more than 1 ms after their scheduled time, i.e.
// every connection was busy or the client itself woke late.)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <string>
#include <vector>

#include "tests/bench/driver_support.h"

namespace {

struct Conn {
  int fd = -1;
  bool busy = false;
  std::int64_t scheduled = 0, sent = 0;
  bool counted = false;
  std::string in;
};

int connect_to(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) bench::die_errno("socket");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) bench::die_errno("connect");
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

// The length of the first complete response in `in` (head + Content-Length
// body), 0 while it is incomplete; its status code in `status`.
std::size_t complete_response(const std::string& in, int& status) {
  const std::size_t head_end = in.find("\r\n\r\n");
  if (head_end == std::string::npos) return 0;
  status = 0;
  if (in.size() > 12) status = std::atoi(in.c_str() + 9);
  std::size_t len = 0;
  // Header names in any case: look for "content-length:" case-insensitively.
  for (std::size_t at = in.find("\r\n"); at < head_end; at = in.find("\r\n", at + 2)) {
    const char* h = in.c_str() + at + 2;
    if (strncasecmp(h, "content-length:", 15) == 0) {
      len = std::strtoull(h + 15, nullptr, 10);
      break;
    }
  }
  const std::size_t total = head_end + 4 + len;
  return in.size() >= total ? total : 0;
}

}  // namespace

int main(int argc, char** argv) {
  int port = 0, connections = 8;
  std::string path = "/metrics";
  double rate = 1000, seconds = 5, warmup = 0.5;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const char* v = argv[i + 1];
    if (k == "--port")
      port = std::atoi(v);
    else if (k == "--path")
      path = v;
    else if (k == "--rate")
      rate = std::atof(v);
    else if (k == "--seconds")
      seconds = std::atof(v);
    else if (k == "--connections")
      connections = std::atoi(v);
    else if (k == "--warmup-s")
      warmup = std::atof(v);
  }
  if (port <= 0 || rate <= 0 || seconds <= 0 || connections <= 0) {
    std::fprintf(stderr,
                 "usage: http_fixed_rate --port P [--path /metrics] [--rate R] [--seconds S] "
                 "[--connections N] [--warmup-s W]\n");
    return 2;
  }
  const std::string request =
      "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: http_fixed_rate\r\n\r\n";
  const int ep = ::epoll_create1(EPOLL_CLOEXEC);
  const int tfd = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (ep < 0 || tfd < 0) bench::die_errno("epoll/timerfd");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = ~0ULL;
  ::epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev);
  std::vector<Conn> conns(static_cast<std::size_t>(connections));
  auto open_conn = [&](std::size_t i) {
    conns[i].fd = connect_to(port);
    conns[i].busy = false;
    conns[i].in.clear();
    epoll_event e{};
    e.events = EPOLLIN | EPOLLRDHUP;
    e.data.u64 = i;
    ::epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &e);
  };
  for (std::size_t i = 0; i < conns.size(); ++i) open_conn(i);

  const double interval_ns = 1e9 / rate;
  const std::int64_t total = static_cast<std::int64_t>((seconds + warmup) * rate);
  const std::int64_t warm = static_cast<std::int64_t>(warmup * rate);
  const std::int64_t t0 = bench::mono_ns() + 20'000'000;
  auto due = [&](std::int64_t i) { return t0 + static_cast<std::int64_t>(i * interval_ns); };

  std::deque<std::pair<std::int64_t, bool>> queue;  // scheduled time, counted
  std::vector<std::int64_t> lat, svc;
  lat.reserve(static_cast<std::size_t>(total));
  svc.reserve(static_cast<std::size_t>(total));
  std::int64_t next = 0, answered = 0, non2xx = 0, reconnects = 0, late = 0;
  std::size_t max_queue = 0;
  std::int64_t first_counted = 0, last_done = 0;

  auto arm = [&]() {
    itimerspec its{};
    if (next < total) {
      const std::int64_t at = due(next);
      its.it_value.tv_sec = at / 1'000'000'000;
      its.it_value.tv_nsec = at % 1'000'000'000;
    }
    ::timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, nullptr);
  };
  auto dispatch = [&]() {
    for (Conn& c : conns) {
      if (queue.empty()) return;
      if (c.busy) continue;
      const auto [sched, counted] = queue.front();
      queue.pop_front();
      c.busy = true;
      c.scheduled = sched;
      c.counted = counted;
      c.sent = bench::mono_ns();
      if (counted && c.sent - sched > 1'000'000) ++late;
      if (::send(c.fd, request.data(), request.size(), MSG_NOSIGNAL) !=
          static_cast<ssize_t>(request.size()))
        bench::die_errno("send");
    }
  };
  arm();
  const std::int64_t hard_end = due(total) + 10'000'000'000LL;
  std::int64_t in_flight = 0;
  char buf[1 << 16];
  epoll_event events[64];
  while (next < total || !queue.empty() || in_flight > 0) {
    if (bench::mono_ns() > hard_end) break;
    const int n = ::epoll_wait(ep, events, 64, 100);
    if (n < 0 && errno != EINTR) bench::die_errno("epoll_wait");
    for (int k = 0; k < n; ++k) {
      if (events[k].data.u64 == ~0ULL) {
        std::uint64_t ticks;
        while (::read(tfd, &ticks, sizeof ticks) > 0) {
        }
        const std::int64_t now = bench::mono_ns();
        while (next < total && due(next) <= now) {
          queue.emplace_back(due(next), next >= warm);
          if (next == warm) first_counted = due(next);
          ++next;
          ++in_flight;
        }
        if (queue.size() > max_queue) max_queue = queue.size();
        arm();
        continue;
      }
      Conn& c = conns[events[k].data.u64];
      for (;;) {
        const ssize_t r = ::recv(c.fd, buf, sizeof buf, MSG_DONTWAIT);
        if (r > 0) {
          c.in.append(buf, static_cast<std::size_t>(r));
          continue;
        }
        if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
          // Closed by the server: the request in flight (if any) goes back to
          // the front of the queue with its scheduled time, and a new
          // connection takes this one's place.
          ::epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
          ::close(c.fd);
          if (c.busy) queue.emplace_front(c.scheduled, c.counted);
          ++reconnects;
          open_conn(static_cast<std::size_t>(&c - conns.data()));
        }
        break;
      }
      int status = 0;
      while (c.busy) {
        const std::size_t len = complete_response(c.in, status);
        if (len == 0) break;
        const std::int64_t now = bench::mono_ns();
        c.in.erase(0, len);
        c.busy = false;
        --in_flight;
        if (c.counted) {
          lat.push_back(now - c.scheduled);
          svc.push_back(now - c.sent);
          ++answered;
          if (status < 200 || status > 299) ++non2xx;
          last_done = now;
        }
      }
    }
    dispatch();
  }
  std::sort(lat.begin(), lat.end());
  std::sort(svc.begin(), svc.end());
  auto p = [](const std::vector<std::int64_t>& v, double q) {
    return v.empty() ? 0 : bench::percentile(v, q) / 1000;
  };
  double mean = 0;
  for (std::int64_t v : lat) mean += static_cast<double>(v);
  mean = lat.empty() ? 0 : mean / static_cast<double>(lat.size()) / 1000;
  const double span_s = last_done > first_counted ? (last_done - first_counted) / 1e9 : 0;
  std::printf("scheduled=%" PRId64 " answered=%" PRId64 " non2xx=%" PRId64 " unanswered=%" PRId64
              " reconnects=%" PRId64 " rps=%.1f p50_us=%" PRId64 " p90_us=%" PRId64
              " p99_us=%" PRId64 " p999_us=%" PRId64 " max_us=%" PRId64
              " mean_us=%.1f svc_p50_us=%" PRId64 " svc_p99_us=%" PRId64 " svc_max_us=%" PRId64
              " max_queue=%zu late_1ms=%" PRId64 "\n",
              total - warm, answered, non2xx, (total - warm) - answered, reconnects,
              span_s > 0 ? static_cast<double>(answered) / span_s : 0.0, p(lat, 0.5), p(lat, 0.9),
              p(lat, 0.99), p(lat, 0.999), lat.empty() ? 0 : lat.back() / 1000, mean, p(svc, 0.5),
              p(svc, 0.99), svc.empty() ? 0 : svc.back() / 1000, max_queue, late);
  return 0;
}
