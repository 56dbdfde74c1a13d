#include "src/cli/top_command.h"

#include <simdjson.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <clocale>
#include <csignal>
#include <cstdio>
#include <deque>
#include <mutex>
#include <ostream>
#include <thread>

#include "src/control/control_client.h"
#include "src/daemon/instance_lock.h"
#include "src/eventlog/event_log_reader.h"

// Functions, not macros: curses' erase() and timeout() macros would clash with
// the standard library's members of the same names.
#define NCURSES_NOMACROS
#include <curses.h>

namespace aw {

namespace {

constexpr int kExitNoScreen = 1;
constexpr int kExitNotRunning = 3;
constexpr std::size_t kSummaryExecutions = 10;
// The executions feed keeps this many; a screen taller than that is rare.
constexpr std::size_t kKeptExecutions = 200;
// A redraw asks the daemon, which answers from its loop at once; a daemon that
// does not answer within this is shown as such rather than freezing the screen.
constexpr auto kAskTimeout = std::chrono::seconds(1);
constexpr auto kRedrawInterval = std::chrono::milliseconds(200);
// getch's timeout: how soon a key, a dirty flag or SIGINT is noticed.
constexpr int kKeyWaitMs = 50;

template <typename Json>
std::string string_at(Json e, std::string_view key) {
  std::string_view v;
  if (e[key].get_string().get(v)) return {};
  return std::string(v);
}

// A number member, or `fallback` when absent or not a number.
template <typename Json>
std::uint64_t uint_at(Json e, std::string_view key, std::uint64_t fallback = 0) {
  std::uint64_t v = 0;
  return e[key].get_uint64().get(v) ? fallback : v;
}
template <typename Json>
double double_at(Json e, std::string_view key, double fallback = 0) {
  double v = 0;
  return e[key].get_double().get(v) ? fallback : v;
}

std::string number_text(double v, const char* format) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

// "2026-12-07T21:12:15.123Z" -> "21:12:15": the date is today's in a live view.
std::string clock_time(const std::string& rfc3339) {
  return rfc3339.size() >= 19 && rfc3339[10] == 'T' ? rfc3339.substr(11, 8) : rfc3339;
}

// Cuts `s` to `width` columns, counting UTF-8 code points (the ✓/✗ marks are
// multi-byte but one column), never splitting one.
std::string fit(std::string s, int width) {
  if (width <= 0) return s;
  int columns = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) continue;  // continuation byte
    if (columns++ == width) {
      s.resize(i);
      break;
    }
  }
  return s;
}

std::string counts_line(simdjson::dom::object status, std::string_view table) {
  simdjson::dom::object o;
  std::string line;
  if (!status[table].get_object().get(o))
    for (auto [key, value] : o) {
      std::uint64_t n = 0;
      if (value.get_uint64().get(n) || n == 0) continue;
      line += (line.empty() ? "" : ", ") + std::string(key) + " " + std::to_string(n);
    }
  return std::string(table) + ": " + (line.empty() ? "none" : line);
}

std::string execution_line(const TopExecution& e) {
  std::string line = clock_time(e.time) + " #" + std::to_string(e.seq) + (e.ok ? " ✓ " : " ✗ ") +
                     e.rule + " " + e.action;
  if (!e.entity.empty()) line += " @" + e.entity;
  if (e.duration_ms) line += " " + std::to_string(*e.duration_ms) + "ms";
  return line;
}

// The header every view starts with: who runs, and the execution totals.
void append_header(std::vector<std::string>& lines, const TopSnapshot& s,
                   simdjson::dom::object status, bool parsed) {
  if (s.pid <= 0) {
    lines.emplace_back("agentwatch is not running");
    return;
  }
  if (!parsed) {
    lines.push_back("agentwatch pid " + std::to_string(s.pid) + " (its status did not answer)");
    return;
  }
  std::string head = "agentwatch pid " + std::to_string(s.pid);
  if (std::string rules = string_at(status, "rules"); !rules.empty()) head += "  rules " + rules;
  bool degraded = false;
  if (!status["degraded"].get_bool().get(degraded) && degraded)
    head += "  DEGRADED: " + string_at(status, "degraded_reason");
  lines.push_back(head);

  simdjson::dom::object ex;
  if (status["executions"].get_object().get(ex)) {
    lines.emplace_back("executions: not measured");
    return;
  }
  const std::uint64_t total = uint_at(ex, "total"), failed = uint_at(ex, "failed");
  const double rate = double_at(ex, "success_rate", 1.0), mean = double_at(ex, "mean_seconds"),
               p95 = double_at(ex, "p95_seconds");
  lines.push_back("executions " + std::to_string(total) + "  failed " + std::to_string(failed) +
                  "  success " + number_text(rate * 100.0, "%.1f") + "%  mean " +
                  number_text(mean, "%.3f") + "s  p95 " + number_text(p95, "%.3f") + "s");
}

void append_executions(std::vector<std::string>& lines, const std::vector<TopExecution>& execs,
                       std::size_t limit) {
  if (execs.empty()) {
    lines.emplace_back("  none yet");
    return;
  }
  // Newest first: the eye lands on what just happened.
  std::size_t shown = 0;
  for (auto it = execs.rbegin(); it != execs.rend() && shown < limit; ++it, ++shown)
    lines.push_back("  " + execution_line(*it));
}

std::optional<TopExecution> execution_from(simdjson::dom::object o) {
  const std::string kind = string_at(o, "kind");
  if (kind != "action.succeeded" && kind != "action.failed") return std::nullopt;
  TopExecution e;
  e.ok = kind == "action.succeeded";
  e.time = string_at(o, "time");
  e.seq = uint_at(o, "seq");
  e.rule = string_at(o, "rule");
  e.entity = string_at(o, "entity");
  e.action = string_at(o["fields"], "action");
  std::int64_t ms = 0;
  if (!o["fields"]["duration_ms"].get_int64().get(ms)) e.duration_ms = ms;
  return e;
}

// The daemon's pid and, when it answers, its status.
TopSnapshot ask_daemon(const Paths& p) {
  TopSnapshot s;
  s.pid = InstanceLock::holder(p.lock_file());
  if (s.pid > 0) {
    auto reply = control_call(p.control_socket(), "status", "", kAskTimeout);
    if (reply && reply->ok) s.status_json = reply->result_json;
  }
  return s;
}

// The newest executions of the whole log (rotated segments included).
std::vector<TopExecution> read_executions(const std::string& dir, std::ostream& err) {
  std::deque<TopExecution> kept;
  EventLogReader reader(dir);
  Status st = reader.read_history([&](const LogRecord& r) {
    if (r.kind != "action.succeeded" && r.kind != "action.failed") return true;
    if (auto e = execution_from(r.object)) {
      kept.push_back(std::move(*e));
      if (kept.size() > kKeptExecutions) kept.pop_front();
    }
    return true;
  });
  if (!st) err << "agentwatch top: " << st.error().message << "\n";
  return {kept.begin(), kept.end()};
}

volatile std::sig_atomic_t g_interrupted = 0;
extern "C" void on_interrupt(int) {
  g_interrupted = 1;
}

// SIGINT/SIGTERM only set a flag (the loop sees it within kKeyWaitMs) so that
// the terminal is restored by the same path as `q`. Installed before ncurses
// starts, so ncurses keeps its hands off them; the old ones come back after.
class InterruptGuard {
 public:
  InterruptGuard() {
    g_interrupted = 0;
    struct sigaction sa {};
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: getch returns at once
    ::sigaction(SIGINT, &sa, &old_int_);
    ::sigaction(SIGTERM, &sa, &old_term_);
  }
  ~InterruptGuard() {
    ::sigaction(SIGINT, &old_int_, nullptr);
    ::sigaction(SIGTERM, &old_term_, nullptr);
  }
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;

 private:
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
};

// The ncurses session: endwin() on every way out, exceptions included.
class Screen {
 public:
  Screen() : screen_(::newterm(nullptr, stdout, stdin)) {
    if (!screen_) return;
    ::cbreak();
    ::noecho();
    ::keypad(stdscr, TRUE);
    ::curs_set(0);
    ::timeout(kKeyWaitMs);
  }
  ~Screen() {
    if (!screen_) return;
    ::endwin();
    ::delscreen(screen_);
  }
  Screen(const Screen&) = delete;
  Screen& operator=(const Screen&) = delete;
  bool ok() const { return screen_ != nullptr; }

  void draw(const std::vector<std::string>& lines, TopView view) {
    ::erase();
    const char* tabs[] = {"1 summary", "2 executions", "3 errors"};
    std::string bar;
    for (int i = 0; i < 3; ++i)
      bar += (static_cast<int>(view) == i ? "[" : " ") + std::string(tabs[i]) +
             (static_cast<int>(view) == i ? "]" : " ") + " ";
    bar += "  q quit";
    ::attron(A_REVERSE);
    ::mvaddstr(0, 0, fit(bar, COLS).c_str());
    ::attroff(A_REVERSE);
    for (std::size_t i = 0; i < lines.size() && static_cast<int>(i) + 1 < LINES; ++i)
      ::mvaddstr(static_cast<int>(i) + 1, 0, lines[i].c_str());
    ::refresh();
  }

 private:
  SCREEN* screen_;
};

int run_screen(const Paths& p, std::ostream& err) {
  if (!::isatty(STDIN_FILENO) || !::isatty(STDOUT_FILENO)) {
    err << "agentwatch top: needs a terminal (use --text for a plain report)\n";
    return kExitNoScreen;
  }
  std::mutex mu;  // guards executions and follow_error
  std::deque<TopExecution> executions;
  std::string follow_error;
  std::atomic<bool> dirty{true};
  std::atomic<bool> quit{false};

  // The follower only collects and flags; the main thread owns ncurses and the
  // control socket. Any record marks the screen dirty: entity and worker
  // counts change on events that are not executions too.
  std::thread follower([&] {
    EventLogReader reader(p.event_log_dir());
    FollowControl control;
    control.stop = [&] { return quit.load(); };
    Status st = reader.follow(
        [&](const LogRecord& r) {
          if (r.kind == "action.succeeded" || r.kind == "action.failed")
            if (auto e = execution_from(r.object)) {
              std::lock_guard lock(mu);
              executions.push_back(std::move(*e));
              if (executions.size() > kKeptExecutions) executions.pop_front();
            }
          dirty = true;
          return !quit.load();
        },
        control);
    if (!st) {
      std::lock_guard lock(mu);
      follow_error = st.error().message;
      dirty = true;
    }
  });
  struct Joiner {
    std::atomic<bool>& quit;
    std::thread& t;
    ~Joiner() {
      quit = true;
      t.join();  // follow() notices `quit` within its wake interval
    }
  } joiner{quit, follower};

  // ncursesw writes multi-byte characters (✓/✗) only under the user's UTF-8 locale.
  std::setlocale(LC_ALL, "");
  InterruptGuard interrupts;
  Screen screen;
  if (!screen.ok()) {
    err << "agentwatch top: cannot set up the terminal (TERM?)\n";
    return kExitNoScreen;
  }
  TopView view = TopView::kSummary;
  auto last_draw = std::chrono::steady_clock::time_point{};
  while (!g_interrupted) {
    const int key = ::getch();
    if (key == 'q' || key == 'Q') break;
    if (key == '1' || key == '2' || key == '3') {
      view = static_cast<TopView>(key - '1');
      dirty = true;
      last_draw = {};  // a key press is answered at once
    }
    if (key == KEY_RESIZE) dirty = true;
    const auto now = std::chrono::steady_clock::now();
    if (!dirty || now - last_draw < kRedrawInterval) continue;
    dirty = false;
    last_draw = now;
    TopSnapshot snapshot = ask_daemon(p);
    std::string problem;
    {
      std::lock_guard lock(mu);
      snapshot.executions.assign(executions.begin(), executions.end());
      problem = follow_error;
    }
    std::vector<std::string> lines = render_top(snapshot, view, COLS);
    if (!problem.empty()) lines.push_back(fit("event log: " + problem, COLS));
    screen.draw(lines, view);
  }
  return 0;
}

}  // namespace

std::optional<TopExecution> top_execution_from_json(std::string_view line) {
  simdjson::dom::parser parser;
  simdjson::dom::object o;
  if (parser.parse(simdjson::padded_string(line)).get_object().get(o)) return std::nullopt;
  return execution_from(o);
}

std::vector<std::string> render_top(const TopSnapshot& s, TopView view, int width) {
  std::vector<std::string> lines;
  simdjson::dom::parser parser;
  simdjson::dom::object status;
  const bool parsed =
      !s.status_json.empty() &&
      !parser.parse(simdjson::padded_string(s.status_json)).get_object().get(status);
  append_header(lines, s, status, parsed);
  switch (view) {
    case TopView::kSummary: {
      if (parsed) {
        lines.push_back(counts_line(status, "entities"));
        lines.push_back(counts_line(status, "workers"));
        simdjson::dom::array alerts;
        if (status["alerts"].get_array().get(alerts) || alerts.size() == 0) {
          lines.emplace_back("alerts: none firing");
        } else {
          lines.emplace_back("alerts:");
          for (simdjson::dom::element a : alerts)
            lines.push_back("  " + string_at(a, "alert") + " (" + string_at(a, "severity") +
                            ") firing since " + string_at(a, "since"));
        }
      }
      lines.emplace_back("last executions:");
      append_executions(lines, s.executions, kSummaryExecutions);
      break;
    }
    case TopView::kExecutions:
      lines.emplace_back("executions, newest first:");
      append_executions(lines, s.executions, kKeptExecutions);
      break;
    case TopView::kErrors: {
      lines.emplace_back("last errors:");
      simdjson::dom::array errors;
      if (!parsed || status["last_errors"].get_array().get(errors) || errors.size() == 0) {
        lines.emplace_back("  none");
        break;
      }
      for (simdjson::dom::element e : errors) {
        std::string line = "  " + clock_time(string_at(e, "time")) + " " + string_at(e, "kind");
        if (std::string rule = string_at(e, "rule"); !rule.empty()) line += " " + rule;
        if (std::string entity = string_at(e, "entity"); !entity.empty()) line += " @" + entity;
        if (std::string m = string_at(e["fields"], "message"); !m.empty()) line += "  " + m;
        lines.push_back(line);
      }
      break;
    }
  }
  for (std::string& line : lines) line = fit(std::move(line), width);
  return lines;
}

int top_command(const Paths& paths, const TopOptions& options, std::ostream& out,
                std::ostream& err) {
  if (InstanceLock::holder(paths.lock_file()) <= 0) {
    out << "agentwatch is not running\n";
    return kExitNotRunning;
  }
  if (!options.text) return run_screen(paths, err);
  TopSnapshot snapshot = ask_daemon(paths);
  snapshot.executions = read_executions(paths.event_log_dir(), err);
  for (const std::string& line : render_top(snapshot, TopView::kSummary, 0)) out << line << "\n";
  return 0;
}

}  // namespace aw
