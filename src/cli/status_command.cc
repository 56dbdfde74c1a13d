#include "src/cli/status_command.h"

#include <simdjson.h>

#include <chrono>
#include <fstream>
#include <sstream>

#include "src/control/control_client.h"
#include "src/daemon/instance_lock.h"

namespace aw {

namespace {

constexpr int kExitProblems = 1;
constexpr int kExitNotRunning = 3;
constexpr auto kAskTimeout = std::chrono::seconds(5);

// A string member, or "" (absent, or not a string).
template <typename Json>  // an element, an object, or a lookup's result
std::string_view string_at(Json e, std::string_view key) {
  std::string_view v;
  if (e[key].get_string().get(v)) return {};
  return v;
}

std::uint64_t count_at(simdjson::dom::object obj, std::string_view table, std::string_view key) {
  std::uint64_t n = 0;
  if (obj[table][key].get_uint64().get(n)) return 0;
  return n;
}

void print_counts(std::ostream& out, simdjson::dom::element counts, std::string_view title) {
  simdjson::dom::object o;
  if (counts.get_object().get(o)) return;
  std::string line;
  for (auto [key, value] : o) {
    std::uint64_t n = 0;
    if (value.get_uint64().get(n) || n == 0) continue;
    line += (line.empty() ? "" : ", ") + std::string(key) + " " + std::to_string(n);
  }
  out << "  " << title << ": " << (line.empty() ? "none" : line) << "\n";
}

void print_text(std::ostream& out, const std::string& status) {
  simdjson::dom::parser parser;
  simdjson::dom::object obj;
  if (parser.parse(simdjson::padded_string(status)).get_object().get(obj)) return;
  for (auto [key, value] : obj) {
    if (key == "state" || key == "pid" || key == "last_errors" || key == "alerts") continue;
    if (key == "watches") {
      simdjson::dom::array watches;
      if (value.get_array().get(watches)) continue;
      for (simdjson::dom::element w : watches) {
        std::string_view name, path;
        if (!w["name"].get_string().get(name) && !w["path"].get_string().get(path))
          out << "  watch " << name << ": " << path << "\n";
      }
      continue;
    }
    if (key == "entities" || key == "workers") {
      print_counts(out, value, key);
      continue;
    }
    out << "  " << key << ": ";
    if (value.is_string())
      out << std::string_view(value.get_string().value_unsafe());
    else
      out << simdjson::minify(value);
    out << "\n";
  }
  simdjson::dom::array errors;
  if (!obj["last_errors"].get_array().get(errors) && errors.size() > 0) {
    out << "  last errors:\n";
    for (simdjson::dom::element e : errors) {
      std::string_view message = string_at(e["fields"], "message");
      out << "    " << string_at(e, "time") << "  " << string_at(e, "kind");
      if (!message.empty()) out << "  " << message;
      out << "\n";
    }
  }
}

}  // namespace

std::vector<std::string> status_problems(const std::string& status_json) {
  std::vector<std::string> problems;
  simdjson::dom::parser parser;
  simdjson::dom::object obj;
  if (parser.parse(simdjson::padded_string(status_json)).get_object().get(obj)) {
    problems.emplace_back("the status is not readable JSON");
    return problems;
  }
  bool degraded = false;
  if (!obj["degraded"].get_bool().get(degraded) && degraded) {
    problems.push_back("degraded: " + std::string(string_at(obj, "degraded_reason")));
  }
  std::string_view http_error;
  if (!obj["http_error"].get_string().get(http_error))
    problems.push_back("http: " + std::string(http_error));
  if (auto n = count_at(obj, "workers", "gave_up"))
    problems.push_back(std::to_string(n) + " worker(s) gave up");
  if (auto n = count_at(obj, "workers", "circuit_open"))
    problems.push_back(std::to_string(n) + " worker(s) with their restart circuit open");
  simdjson::dom::array alerts;
  if (!obj["alerts"].get_array().get(alerts))
    for (simdjson::dom::element a : alerts)
      problems.push_back("alert " + std::string(string_at(a, "alert")) + " (" +
                         std::string(string_at(a, "severity")) + ") firing since " +
                         std::string(string_at(a, "since")));
  if (auto n = count_at(obj, "entities", "zombie"))
    problems.push_back(std::to_string(n) + " zombie entit" + (n == 1 ? "y" : "ies"));
  return problems;
}

int status_command(const Paths& p, bool json, std::ostream& out, std::ostream& err) {
  const int pid = InstanceLock::holder(p.lock_file());
  std::string status;
  bool live = false;
  if (pid > 0) {
    auto reply = control_call(p.control_socket(), "status", "", kAskTimeout);
    if (reply && reply->ok) {
      status = reply->result_json;
      live = true;
    } else if (!reply && !is_control_unavailable(reply.error())) {
      err << "agentwatch: cannot ask the daemon (" << reply.error().message
          << "); showing its status file\n";
    }
  }
  if (!live) {
    std::ifstream in(p.status_file());
    std::stringstream s;
    s << in.rdbuf();
    status = s.str();
    while (!status.empty() && status.back() == '\n') status.pop_back();
  }
  if (pid <= 0) {
    if (json) {
      out << (status.empty() ? "{\"state\":\"not running\"}" : status) << "\n";
    } else {
      out << "agentwatch is not running";
      if (!status.empty()) out << " (last status in " << p.status_file() << ")";
      out << "\n";
    }
    return kExitNotRunning;
  }
  const std::vector<std::string> problems = status_problems(status);
  if (json) {
    out << (status.empty() ? "{\"state\":\"unknown\"}" : status) << "\n";
  } else {
    out << "agentwatch is running (pid " << pid << ")"
        << (problems.empty() ? "" : ", with problems") << "\n";
    print_text(out, status);
    for (const std::string& problem : problems) out << "  problem: " << problem << "\n";
  }
  return problems.empty() ? 0 : kExitProblems;
}

}  // namespace aw
