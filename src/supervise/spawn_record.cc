#include "src/supervise/spawn_record.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdint>
#include <random>
#include <string_view>
#include <utility>

#include "src/os/errno_text.h"
#include "src/os/files.h"
#include "src/os/unique_fd.h"
#include "src/supervise/process_identity.h"

namespace aw {
namespace {

constexpr std::size_t kTokenLength = 32;

bool is_token(std::string_view s) {
  if (s.size() != kTokenLength) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

// The value of `name` in a NUL-separated environ text, if set.
std::optional<std::string_view> environ_value(std::string_view environ, std::string_view name) {
  std::size_t at = 0;
  while (at < environ.size()) {
    std::size_t end = environ.find('\0', at);
    if (end == std::string_view::npos) end = environ.size();
    std::string_view entry = environ.substr(at, end - at);
    if (entry.size() > name.size() && entry.substr(0, name.size()) == name &&
        entry[name.size()] == '=')
      return entry.substr(name.size() + 1);
    at = end + 1;
  }
  return std::nullopt;
}

// A live process (not a zombie) started with a spawn token: the token, and the
// stat line the liveness was judged on.
struct Spawned {
  std::string token;
  std::string stat;
};

std::optional<Spawned> spawned_with(Env& env, pid_t pid) {
  auto environ = env.read_proc_environ(pid);
  if (!environ) return std::nullopt;
  auto token = environ_value(*environ, kSpawnTokenVar);
  if (!token) return std::nullopt;
  auto stat = env.read_proc_stat(pid);
  if (!stat) return std::nullopt;
  auto state = parse_stat_state(*stat);
  if (!state || *state == 'Z' || *state == 'X') return std::nullopt;  // ended: nothing to adopt
  return Spawned{std::string(*token), std::move(*stat)};
}

struct Candidate {
  pid_t pid = 0;
  bool leads_group = false;
  std::uint64_t start_ticks = 0;
};

bool better(const Candidate& a, const Candidate& b) {
  if (a.leads_group != b.leads_group) return a.leads_group;
  return a.start_ticks < b.start_ticks;
}

}  // namespace

std::string new_spawn_token() {
  std::random_device source;  // getrandom(2) on Linux
  static constexpr char kHex[] = "0123456789abcdef";
  std::string token;
  token.reserve(kTokenLength);
  while (token.size() < kTokenLength) {
    std::uint32_t bits = source();
    for (int i = 0; i < 8 && token.size() < kTokenLength; ++i, bits >>= 4)
      token.push_back(kHex[bits & 0xf]);
  }
  return token;
}

Status SpawnRecords::write_line(const std::string& worker, int flags, const std::string& line) {
  const std::string file = path(worker);
  UniqueFd fd(env_.open(file.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW | flags, 0600));
  if (!fd) return errno_error("cannot write " + file, errno);
  if (Status s = write_all(fd.get(), line, env_); !s)
    return make_error("cannot write " + file + ": " + s.error().message, s.error().code);
  return Status::Ok();
}

Status SpawnRecords::record(const std::string& worker, const std::string& token) {
  return write_line(worker, O_CREAT | O_TRUNC, token + "\n");
}

Status SpawnRecords::record_pid(const std::string& worker, pid_t pid) {
  return write_line(worker, O_APPEND, std::to_string(pid) + "\n");
}

std::optional<SpawnRecords::Record> SpawnRecords::read(const std::string& worker) const {
  if (!enabled()) return std::nullopt;
  UniqueFd fd(::open(path(worker).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return std::nullopt;
  char buf[kTokenLength + 32];
  ssize_t n;
  do {
    n = ::read(fd.get(), buf, sizeof buf);
  } while (n < 0 && errno == EINTR);
  if (n < static_cast<ssize_t>(kTokenLength + 1) || buf[kTokenLength] != '\n') return std::nullopt;
  std::string_view token(buf, kTokenLength);
  if (!is_token(token)) return std::nullopt;
  Record record{std::string(token), std::nullopt};
  std::string_view rest(buf + kTokenLength + 1, static_cast<std::size_t>(n) - kTokenLength - 1);
  if (const std::size_t nl = rest.find('\n'); nl != std::string_view::npos) {
    pid_t pid = 0;
    auto [end, ec] = std::from_chars(rest.data(), rest.data() + nl, pid);
    if (ec == std::errc() && end == rest.data() + nl && pid > 0) record.pid = pid;
  }
  return record;
}

void SpawnRecords::forget(const std::string& worker) {
  if (enabled()) (void)::unlink(path(worker).c_str());
}

bool carries_token(Env& env, pid_t pid, const std::string& token) {
  auto spawned = spawned_with(env, pid);
  return spawned && spawned->token == token;
}

std::map<std::string, pid_t> find_spawned(Env& env, const std::set<std::string>& tokens) {
  std::map<std::string, pid_t> found;
  if (tokens.empty()) return found;
  auto pids = env.list_pids();
  if (!pids) return found;
  std::map<std::string, Candidate> best;
  for (pid_t pid : *pids) {
    auto spawned = spawned_with(env, pid);
    if (!spawned) continue;
    auto token = tokens.find(spawned->token);
    if (token == tokens.end()) continue;
    auto group = parse_stat_process_group(spawned->stat);
    auto ticks = parse_stat_start_ticks(spawned->stat);
    if (!group || !ticks) continue;
    Candidate c{pid, *group == pid, *ticks};
    auto [it, inserted] = best.try_emplace(*token, c);
    if (!inserted && better(c, it->second)) it->second = c;
  }
  for (const auto& [token, c] : best) found.emplace(token, c.pid);
  return found;
}

}  // namespace aw
