#include "src/metrics/statsd_lines.h"

#include "src/core/event_kinds.h"

namespace aw::metrics {

std::string statsd_segment(std::string_view s) {
  if (s.empty()) return "none";
  std::string out(s);
  for (char& c : out) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '_' || c == '-';
    if (!keep) c = '_';
  }
  return out;
}

void StatsdBatch::line(std::string_view path, double value, std::string_view type) {
  std::string l = prefix_.empty() ? std::string() : prefix_ + ".";
  l += path;
  l += ':';
  append_sample_value(l, value);
  l += '|';
  l += type;
  lines_.push_back(std::move(l));
}

void StatsdBatch::counter(std::string_view path, double by) {
  line(path, by, "c");
}

void StatsdBatch::timer_ms(std::string_view path, double ms) {
  line(path, ms, "ms");
}

void StatsdBatch::gauge(std::string_view path, double value) {
  line(path, value, "g");
}

void StatsdBatch::add_event(const Event& e) {
  if (e.kind == kind::kActionSucceeded || e.kind == kind::kActionFailed) {
    const FieldValue* action = e.fields.find("action");
    const std::string base = "executions." + statsd_segment(e.rule) + "." +
                             statsd_segment(action ? field_to_string(*action) : "");
    counter(base + (e.kind == kind::kActionSucceeded ? ".succeeded" : ".failed"), 1);
    if (auto ms = e.fields.get_int("duration_ms")) timer_ms(base + ".duration", *ms);
  } else if (e.kind == kind::kWorkerStarted) {
    counter("workers." + statsd_segment(e.entity) + ".starts", 1);
  } else if (e.kind == kind::kWorkerExited) {
    counter("workers." + statsd_segment(e.entity) + ".exits", 1);
  }
}

void StatsdBatch::add_gauges(const Registry& registry) {
  registry.each_family([&](const Family& f) {
    if (f.type() != MetricType::kGauge) return;
    std::string name = f.name();
    if (name.starts_with("agentwatch_")) name.erase(0, 11);
    f.each([&](const std::vector<std::string>& labels, double v, const Histogram*) {
      std::string path = name;
      for (const auto& l : labels) path += "." + statsd_segment(l);
      gauge(path, v);
    });
  });
}

std::vector<std::string> StatsdBatch::take_datagrams() {
  std::vector<std::string> out;
  std::string current;
  for (auto& l : lines_) {
    if (!current.empty() && current.size() + 1 + l.size() > max_datagram_) {
      out.push_back(std::move(current));
      current.clear();
    }
    if (!current.empty()) current += '\n';
    current += l;
  }
  if (!current.empty()) out.push_back(std::move(current));
  lines_.clear();
  return out;
}

}  // namespace aw::metrics
