#include "watchers/notify/notify_test_support.h"

#include <fstream>

namespace aw::notify_test {

std::string field(const Event& e, const char* key) {
  return e.fields.get_string(key).value_or("<absent>");
}

std::vector<std::string> read_lines(const std::string& path) {
  std::vector<std::string> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

std::size_t LoopTest::count(std::string_view kind) const {
  std::size_t n = 0;
  for (const auto& e : events_) n += e.kind == kind;
  return n;
}

const Event* LoopTest::find(std::string_view kind, std::size_t nth) const {
  for (const auto& e : events_)
    if (e.kind == kind && nth-- == 0) return &e;
  return nullptr;
}

std::size_t LoopTest::count_refused(std::string_view reason) const {
  std::size_t n = 0;
  for (const auto& e : events_) n += e.kind == "notify.refused" && field(e, "reason") == reason;
  return n;
}

}  // namespace aw::notify_test
