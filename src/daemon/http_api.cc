#include "src/daemon/http_api.h"

#include <charconv>

#include "src/core/json_writer.h"
#include "src/os/files.h"

namespace aw {

namespace {

using http::HttpRequest;
using http::HttpResponder;
using http::HttpResponse;

constexpr std::size_t kMaxConnections = 256;
constexpr std::size_t kDefaultLimit = 1000;
constexpr std::size_t kMaxLimit = 10'000;

HttpResponse json_response(std::string body) {
  HttpResponse r;
  r.content_type = "application/json";
  r.body = std::move(body);
  r.headers.push_back({"Cache-Control", "no-store"});
  return r;
}

std::optional<std::uint64_t> parse_seq(std::string_view s) {
  std::uint64_t v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || r.ec != std::errc() || r.ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

// ?since=SEQ&limit=N, each optional; an answer of 400 when one is not a number.
struct Window {
  std::uint64_t since = 0;
  std::size_t limit = kDefaultLimit;
};
std::optional<Window> window_of(const HttpRequest& q, HttpResponder& out) {
  Window w;
  if (auto s = q.query_param("since")) {
    auto v = parse_seq(*s);
    if (!v) {
      out.respond(http::text_response(400, "since: expected an event seq (a whole number)"));
      return std::nullopt;
    }
    w.since = *v;
  }
  if (auto s = q.query_param("limit")) {
    auto v = parse_seq(*s);
    if (!v || *v == 0) {
      out.respond(http::text_response(400, "limit: expected a whole number above 0"));
      return std::nullopt;
    }
    w.limit = static_cast<std::size_t>(std::min<std::uint64_t>(*v, kMaxLimit));
  }
  return w;
}

// {"events":[...],"last_seq":N,"complete":bool}: complete is false when the
// daemon's memory no longer holds every event after `since` (the event log
// does: `agentwatch events`).
std::string events_json(const std::vector<const metrics::RecentEvents::Entry*>& entries,
                        std::uint64_t last_seq, bool complete) {
  std::string out = "{\"events\":[";
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (i) out += ',';
    out += entries[i]->line;
  }
  out += "],\"last_seq\":" + std::to_string(last_seq) +
         ",\"complete\":" + (complete ? "true" : "false") + "}";
  return out;
}

}  // namespace

HttpApi::HttpApi(uv_loop_t* loop, const Clock& clock, const HttpConfig& config,
                 HttpApiContext context)
    : loop_(loop), clock_(clock), config_(config), context_(std::move(context)) {}

Status HttpApi::start() {
  http::HttpServer::Options o;
  o.allow_non_loopback = config_.allow_non_loopback;
  // Dashboards and `curl /events` hold a connection each: room for a
  // control room of them beside Prometheus and scripts.
  o.max_connections = kMaxConnections;
  if (!config_.token_file.empty()) {
    auto token = read_file_if_exists(config_.token_file);
    if (!token) return make_error("[http] token_file: " + token.error().message);
    if (!*token) return make_error("[http] token_file " + config_.token_file + " does not exist");
    std::string t = **token;
    while (!t.empty() && (t.back() == '\n' || t.back() == '\r' || t.back() == ' ')) t.pop_back();
    if (t.empty()) return make_error("[http] token_file " + config_.token_file + " is empty");
    // It travels in a header and, for browsers, in a cookie: printable ASCII
    // without the characters a cookie value cannot hold.
    for (const char ch : t)
      if (ch <= ' ' || ch > '~' || ch == '"' || ch == ',' || ch == ';' || ch == '\\')
        return make_error("[http] token_file " + config_.token_file +
                          ": the token may hold printable ASCII except space, '\"', ',', ';' and "
                          "'\\' (e.g. the output of `openssl rand -hex 32`)");
    o.bearer_token = std::move(t);
  }
  server_ = std::make_unique<http::HttpServer>(loop_, clock_, o);
  streams_ = std::make_unique<EventStreams>(loop_, context_.metrics->recent(),
                                            context_.event_log_dir, context_.event_log_index);
  DaemonMetrics& m = *context_.metrics;

  server_->handle("/metrics", [&m](const HttpRequest&, HttpResponder& out) {
    HttpResponse r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = m.registry().render();
    out.respond(r);
  });
  server_->handle("/api/status", [this](const HttpRequest&, HttpResponder& out) {
    out.respond(json_response(context_.status_json()));
  });
  server_->handle("/api/entities", [this](const HttpRequest&, HttpResponder& out) {
    out.respond(json_response(context_.entities_json()));
  });
  server_->handle("/api/events", [&m](const HttpRequest& q, HttpResponder& out) {
    auto w = window_of(q, out);
    if (!w) return;
    const auto& recent = m.recent();
    out.respond(json_response(events_json(recent.after(w->since, w->limit), recent.last_seq(),
                                          recent.covers_after(w->since))));
  });
  server_->handle("/api/executions", [&m](const HttpRequest& q, HttpResponder& out) {
    auto w = window_of(q, out);
    if (!w) return;
    const auto& recent = m.recent();
    // Executions are kept on a shorter ring: "complete" is not claimed.
    out.respond(json_response(
        events_json(recent.executions_after(w->since, w->limit), recent.last_seq(), false)));
  });
  server_->handle("/events", [this](const HttpRequest& q, HttpResponder& out) {
    std::optional<std::uint64_t> after;
    // EventSource sends Last-Event-ID when it reconnects; ?since= is for the first connect.
    if (auto id = q.header("Last-Event-ID")) after = parse_seq(*id);
    if (!after)
      if (auto s = q.query_param("since")) after = parse_seq(*s);
    streams_->add(out.start_stream(), after);
  });
  server_->handle("/", [](const HttpRequest&, HttpResponder& out) {
    HttpResponse r;
    r.content_type = "text/html; charset=utf-8";
    r.body = kDashboardHtml;
    r.headers.push_back({"Cache-Control", "no-cache"});
    // Everything is inline: nothing may load from elsewhere.
    r.headers.push_back({"Content-Security-Policy",
                         "default-src 'none'; script-src 'unsafe-inline'; style-src "
                         "'unsafe-inline'; connect-src 'self'; img-src data:"});
    out.respond(r);
  });
  register_metrics();
  if (config_.port < 0 || config_.port > 65535) return make_error("[http] bad port");
  return server_->listen(config_.host, static_cast<std::uint16_t>(config_.port));
}

void HttpApi::register_metrics() {
  metrics::Registry& r = context_.metrics->registry();
  auto& connections = r.gauge("agentwatch_http_connections", "HTTP connections open now.");
  auto& streams = r.gauge("agentwatch_http_event_streams", "Server-sent event clients now.");
  auto& requests =
      r.counter("agentwatch_http_responses_total", "HTTP answers by status class.", {"code"});
  auto& dropped = r.counter("agentwatch_http_streams_dropped_total",
                            "Event-stream clients dropped because they read too slowly.");
  auto& replays = r.counter("agentwatch_http_stream_replays_total",
                            "Event-stream reconnects given what they missed, by where it came "
                            "from (memory, or a read of the on-disk log).",
                            {"from"});
  auto& replay_bytes =
      r.counter("agentwatch_http_stream_replay_read_bytes_total",
                "Bytes of the on-disk event log read to replay missed events (uncompressed).");
  auto& index_entries = r.gauge("agentwatch_event_log_index_entries",
                                "Entries of the sparse seq index that replays start from.");
  r.add_collector(
      [this, &connections, &streams, &requests, &dropped, &replays, &replay_bytes, &index_entries] {
        if (context_.event_log_index)
          index_entries.set({}, static_cast<double>(context_.event_log_index->size()));
        if (streams_) {
          const EventStreams::ReplayStats& rs = streams_->replay_stats();
          replays.set({"memory"}, static_cast<double>(rs.from_memory));
          replays.set({"disk"}, static_cast<double>(rs.from_disk));
          replay_bytes.set({}, static_cast<double>(rs.bytes_read));
        }
        if (!server_) return;
        const http::HttpServerStats s = server_->stats();
        connections.set({}, static_cast<double>(s.connections_open));
        streams.set({}, static_cast<double>(s.streams_open));
        for (std::size_t c = 1; c < s.responses_by_class.size(); ++c)
          requests.set({std::to_string(c) + "xx"}, static_cast<double>(s.responses_by_class[c]));
        dropped.set({}, static_cast<double>(s.streams_dropped_slow));
      });
}

std::string HttpApi::address() const {
  const std::string host =
      config_.host.find(':') != std::string::npos ? "[" + config_.host + "]" : config_.host;
  return host + ":" + std::to_string(server_ ? server_->port() : 0);
}

void HttpApi::publish(std::uint64_t seq, std::string_view line) {
  if (streams_) streams_->publish(seq, line);
}

void HttpApi::stop() {
  if (streams_) streams_->stop();
  if (server_) server_->stop();
}

}  // namespace aw
