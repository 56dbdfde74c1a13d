#include "src/os/crash_point.h"

#include <signal.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace aw {
namespace {

constexpr std::array<const char*, 6> kNames = {"intents-written", "events-written",
                                               "index-written",   "file-moved",
                                               "worker-spawned",  "notify-logged"};

// The armed point's index in kNames, or -1; written before threads start.
std::atomic<int> armed{-1};
std::atomic<std::int64_t> passes_left{0};

int index_of(std::string_view name) {
  for (std::size_t i = 0; i < kNames.size(); ++i)
    if (name == kNames[i]) return static_cast<int>(i);
  return -1;
}

std::string names_list() {
  std::string out;
  for (const char* n : kNames) out += (out.empty() ? "" : ", ") + std::string(n);
  return out;
}

}  // namespace

std::span<const char* const> crash_point_names() {
  return kNames;
}

Status arm_crash_point(std::string_view spec) {
  const std::size_t colon = spec.rfind(':');
  const std::string_view name = spec.substr(0, colon);
  const int index = index_of(name);
  if (index < 0)
    return make_error(std::string(kCrashAtVar) + ": '" + std::string(name) +
                      "' is not a crash point (expected NAME:N, NAME one of " + names_list() + ")");
  std::int64_t n = 0;
  const std::string_view count =
      colon == std::string_view::npos ? std::string_view() : spec.substr(colon + 1);
  auto [end, ec] = std::from_chars(count.data(), count.data() + count.size(), n);
  if (count.empty() || ec != std::errc() || end != count.data() + count.size() || n < 1)
    return make_error(std::string(kCrashAtVar) +
                      ": expected NAME:N with N a whole number >= 1, got '" + std::string(spec) +
                      "'");
  passes_left.store(n, std::memory_order_relaxed);
  armed.store(index, std::memory_order_release);
  return Status::Ok();
}

Status arm_crash_point_from_env() {
  const char* spec = std::getenv(kCrashAtVar);
  if (!spec || !*spec) return Status::Ok();
  return arm_crash_point(spec);
}

void disarm_crash_point() {
  armed.store(-1, std::memory_order_relaxed);
}

void crash_point(std::string_view name) {
  const int index = armed.load(std::memory_order_relaxed);
  if (index < 0 || name != kNames[static_cast<std::size_t>(index)]) return;
  if (passes_left.fetch_sub(1, std::memory_order_acq_rel) == 1) ::kill(::getpid(), SIGKILL);
}

}  // namespace aw
