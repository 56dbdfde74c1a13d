#include "src/daemon/paths.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <optional>

#include "src/os/environ.h"
#include "src/os/errno_text.h"

namespace aw {
namespace {

// An XDG variable's value, or `fallback` when it is unset or relative: XDG says
// relative values are invalid and must be ignored.
std::string xdg_dir_or(const char* name, const std::string& fallback) {
  const std::optional<std::string> v = env_var(name);
  if (v && v->starts_with('/')) return *v;
  return fallback;
}

std::string home() {
  return env_or("HOME", "/");
}

bool is_dir(const std::string& p) {
  struct stat st {};
  return stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace

std::string expand_home(const std::string& path) {
  if (path == "~") return home();
  if (path.rfind("~/", 0) == 0) return home() + path.substr(1);
  return path;
}

Paths resolve_paths(const PathOverrides& o) {
  Paths p;
  const std::string config_home = xdg_dir_or("XDG_CONFIG_HOME", home() + "/.config");
  const std::string state_home = xdg_dir_or("XDG_STATE_HOME", home() + "/.local/state");
  std::string runtime_base = xdg_dir_or("XDG_RUNTIME_DIR", "");
  if (runtime_base.empty()) {
    std::string run_user = "/run/user/" + std::to_string(getuid());
    runtime_base = is_dir(run_user) ? run_user : "/tmp/agentwatch-" + std::to_string(getuid());
  }

  p.config_file = o.config_file.empty() ? config_home + "/agentwatch/agentwatch.toml"
                                        : expand_home(o.config_file);
  p.config_dir = p.config_file.substr(0, p.config_file.find_last_of('/'));
  if (p.config_dir.empty()) p.config_dir = ".";
  p.rules_dir = p.config_dir + "/rules.d";
  p.state_dir = o.state_dir.empty() ? state_home + "/agentwatch" : expand_home(o.state_dir);
  p.runtime_dir = o.runtime_dir.empty() ? (runtime_base.rfind("/tmp/agentwatch-", 0) == 0
                                               ? runtime_base
                                               : runtime_base + "/agentwatch")
                                        : expand_home(o.runtime_dir);

  if (!o.shipped_rules_dir.empty()) {
    p.shipped_rules_dir = expand_home(o.shipped_rules_dir);
  } else if (is_dir(AW_INSTALLED_RULES_DIR)) {
    p.shipped_rules_dir = AW_INSTALLED_RULES_DIR;
  } else {
    p.shipped_rules_dir = AW_SOURCE_RULES_DIR;  // running from a build tree
  }
  return p;
}

Status prepare_runtime_dir(const std::string& path) {
  if (auto s = make_dirs(path, 0700); !s) return s;
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) return errno_error("cannot stat runtime dir " + path, errno);
  if (!S_ISDIR(st.st_mode)) return make_error("runtime dir " + path + " is not a directory");
  if (st.st_uid != getuid())
    return make_error("runtime dir " + path + " belongs to uid " + std::to_string(st.st_uid) +
                      ", not to us (uid " + std::to_string(getuid()) + ")");
  if ((st.st_mode & 077) != 0 && chmod(path.c_str(), 0700) != 0) {
    const int err = errno;
    return make_error("cannot restrict runtime dir " + path + " to 0700: " + errno_text(err));
  }
  return Status::Ok();
}

}  // namespace aw
