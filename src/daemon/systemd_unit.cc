#include "src/daemon/systemd_unit.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <optional>

#include "src/daemon/paths.h"
#include "src/os/environ.h"
#include "src/os/errno_text.h"
#include "src/os/files.h"
#include "src/os/unique_fd.h"

namespace aw {
namespace {

// systemd's command-line quoting: double quotes, with \ " and % escaped.
std::string quote_arg(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    if (c == '%') {
      out += "%%";
      continue;
    }
    out.push_back(c);
  }
  return out + "\"";
}

// ReadWritePaths entries: '-' prefix so a root that does not exist yet is no error.
std::string quote_path(const std::string& s) {
  std::string out = "-";
  for (char c : s) {
    if (c == ' ')
      out += "\\x20";
    else if (c == '%')
      out += "%%";
    else
      out.push_back(c);
  }
  return out;
}

}  // namespace

std::string render_unit(const UnitParams& p) {
  std::string exec = quote_arg(p.exec_path) + " run";
  for (const auto& a : p.run_args) exec += " " + quote_arg(a);
  std::string rw;
  for (const auto& path : p.read_write_paths) rw += (rw.empty() ? "" : " ") + quote_path(path);

  std::string u;
  u += "# Written by `agentwatch service install`; re-run it after changing watched roots.\n";
  u += "[Unit]\n";
  u += "Description=agentwatch: event-driven watcher for AI coding-agent fleets\n";
  u += "Documentation=man:agentwatch(1)\n";
  u += "StartLimitIntervalSec=60\n";
  u += "StartLimitBurst=5\n\n";
  u += "[Service]\n";
  u += "Type=notify\n";
  u += "NotifyAccess=main\n";
  u += "ExecStart=" + exec + "\n";
  u += "ExecReload=/bin/kill -HUP $MAINPID\n";
  u += "Restart=on-failure\n";
  u += "RestartSec=1s\n";
  u += "WatchdogSec=" + std::to_string(p.watchdog_sec) + "\n";
  u += "TimeoutStopSec=30s\n";
  u += "# The workers outlive the watcher: a stop or restart signals agentwatch alone,\n";
  u += "# and the next one re-adopts the workers left in this cgroup (docs/workers.md).\n";
  u += "# `agentwatch run --stop-workers` in ExecStart would stop them with it.\n";
  u += "KillMode=process\n";
  u += "# Hardening. No PrivateTmp: tmux keeps its socket in /tmp/tmux-UID/, and a\n";
  u += "# daemon that cannot reach the agents' tmux server cannot tell live sessions\n";
  u += "# from gone ones (docs/tmux.md). ProtectSystem=strict leaves it reachable:\n";
  u += "# connecting to a socket needs no write access to its file system.\n";
  u += "NoNewPrivileges=yes\n";
  u += "ProtectSystem=strict\n";
  if (!rw.empty()) u += "ReadWritePaths=" + rw + "\n";
  u += "RestrictSUIDSGID=yes\n";
  u += "LockPersonality=yes\n\n";
  u += "[Install]\n";
  u += "WantedBy=default.target\n";
  return u;
}

std::optional<std::string> unit_hides(const std::string& unit, const std::string& path) {
  auto under = [&](std::string_view dir) {
    return path == dir ||
           (path.size() > dir.size() && path.starts_with(dir) && path[dir.size()] == '/');
  };
  auto truthy = [](std::string_view v) {
    return v == "yes" || v == "true" || v == "on" || v == "1";
  };
  std::size_t at = 0;
  while (at < unit.size()) {
    std::size_t nl = unit.find('\n', at);
    std::string_view line(unit.data() + at, (nl == std::string::npos ? unit.size() : nl) - at);
    at = nl == std::string::npos ? unit.size() : nl + 1;
    const std::size_t eq = line.find('=');
    if (line.empty() || line[0] == '#' || eq == std::string_view::npos) continue;
    const std::string_view key = line.substr(0, eq);
    const std::string_view value = line.substr(eq + 1);
    if (key == "PrivateTmp" && truthy(value) && (under("/tmp") || under("/var/tmp")))
      return std::string(line);
    if (key == "ProtectHome" && (truthy(value) || value == "tmpfs") &&
        (under("/home") || under("/root") || under("/run/user")))
      return std::string(line);
  }
  return std::nullopt;
}

std::string user_unit_dir() {
  const std::optional<std::string> xdg = env_var("XDG_CONFIG_HOME");
  std::string base = xdg && xdg->starts_with('/') ? *xdg : expand_home("~/.config");
  return base + "/systemd/user";
}

Result<std::string> install_unit(const std::string& dir, const std::string& content) {
  if (auto s = make_dirs(dir, 0755); !s) return s.error();
  const std::string path = dir + "/agentwatch.service";
  const std::string tmp = path + ".tmp";
  UniqueFd fd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644));
  if (!fd) {
    const int err = errno;
    return make_error("cannot write " + tmp + ": " + errno_text(err));
  }
  const Status written = write_all_and_sync(fd.get(), content);
  fd.reset();  // closed before the rename
  int err = written ? 0 : -written.error().code;
  if (err == 0 && rename(tmp.c_str(), path.c_str()) != 0) err = errno;
  if (err != 0) {
    unlink(tmp.c_str());
    return make_error("cannot install " + path + ": " + errno_text(err));
  }
  return path;
}

Result<bool> uninstall_unit(const std::string& dir) {
  const std::string path = dir + "/agentwatch.service";
  if (unlink(path.c_str()) == 0) return true;
  const int err = errno;
  if (err == ENOENT) return false;
  return make_error("cannot remove " + path + ": " + errno_text(err));
}

}  // namespace aw
