// The daemon's HTTP endpoints (docs/http.md): the server (src/http) on the
// address of agentwatch.toml's [http], and what each path answers.
//
//   GET /metrics           Prometheus text format 0.0.4
//   GET /api/status        what `agentwatch status --json` prints
//   GET /api/entities      every entity, as entity_json (diagnosis.h) renders one
//   GET /api/executions    the newest executions (action outcomes), ?since=SEQ&limit=N
//   GET /api/events        the newest events, ?since=SEQ&limit=N
//   GET /events            server-sent events (event_streams.h)
//   GET /                  the dashboard: one self-contained page
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>

#include "src/core/clock.h"
#include "src/core/result.h"
#include "src/daemon/config.h"
#include "src/daemon/daemon_metrics.h"
#include "src/daemon/event_streams.h"
#include "src/http/http_server.h"

namespace aw {

struct HttpApiContext {
  std::function<std::string()> status_json;
  std::function<std::string()> entities_json;
  DaemonMetrics* metrics = nullptr;  // outlives the api
  std::string event_log_dir;
  const SeqIndex* event_log_index = nullptr;  // the writer's; outlives the api
};

class HttpApi {
 public:
  HttpApi(uv_loop_t* loop, const Clock& clock, const HttpConfig& config, HttpApiContext context);
  HttpApi(const HttpApi&) = delete;
  HttpApi& operator=(const HttpApi&) = delete;

  // Reads the token file (when configured) and listens. The error says why
  // (the address in use, a token file that cannot be read).
  Status start();
  // "127.0.0.1:9464", the port the system chose for a 0.
  std::string address() const;

  // Every logged event, as its JSON line (no newline).
  void publish(std::uint64_t seq, std::string_view line);
  void stop();

 private:
  void register_metrics();

  uv_loop_t* loop_;
  const Clock& clock_;
  HttpConfig config_;
  HttpApiContext context_;
  std::unique_ptr<http::HttpServer> server_;
  std::unique_ptr<EventStreams> streams_;
};

// The dashboard page (dashboard_page.cc).
extern const char* const kDashboardHtml;

}  // namespace aw
