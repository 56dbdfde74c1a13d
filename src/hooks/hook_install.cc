#include "src/hooks/hook_install.h"

#include <sys/stat.h>

#include <algorithm>
#include <climits>
#include <cstdlib>

#include "src/hooks/json_tree.h"
#include "src/os/files.h"

namespace aw {

namespace {

// The file a path names, through symlinks (a dotfiles manager's link stays a
// link). A missing file is itself.
std::string resolve_target(const std::string& path) {
  char buf[PATH_MAX];
  if (::realpath(path.c_str(), buf) != nullptr) return buf;
  return path;
}

// "20261122T112039Z": sortable, and no ':' (which some tools mind in names).
std::string compact_utc(WallTime now) {
  std::string t = format_time_utc(now);  // 2026-11-22T11:20:39.123Z
  std::string out;
  for (char c : t.substr(0, 19))
    if (c != '-' && c != ':') out += c;
  return out + "Z";
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

}  // namespace

std::string default_settings_path(HookAgent agent, const std::string& home,
                                  const std::string& codex_home) {
  switch (agent) {
    case HookAgent::kClaude:
      return home + "/.claude/settings.json";
    case HookAgent::kGemini:
      return home + "/.gemini/settings.json";
    case HookAgent::kCodex:
      break;
  }
  return (codex_home.empty() ? home + "/.codex" : codex_home) + "/config.toml";
}

int install_hooks(const InstallHooksOptions& o, std::ostream& out, std::ostream& err,
                  WallTime now) {
  const std::string shown = o.settings;
  const std::string path = resolve_target(o.settings);
  auto old = read_file_if_exists(path);
  if (!old) {
    err << "agentwatch: " << old.error().message << "\n";
    return 1;
  }
  const std::string before = old->value_or("");
  mode_t mode = 0600;
  if (old->has_value()) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0) mode = st.st_mode & 07777;
  }

  std::string after;
  SettingsChanges changes;
  if (o.agent == HookAgent::kCodex) {
    auto edit = o.uninstall ? remove_codex_notify(before) : add_codex_notify(before, o.program);
    if (!edit) {
      err << shown << ": error: " << edit.error().message << "\n";
      return 1;
    }
    after = std::move(edit->text);
    changes = std::move(edit->changes);
  } else {
    JsonValue settings = JsonValue::object();
    if (before.find_first_not_of(" \t\r\n") != std::string::npos) {
      auto parsed = parse_json_tree(before);
      if (!parsed) {
        err << shown << ":" << parsed.error().message
            << " (not valid JSON; fix it, then run install-hooks again)\n";
        return 1;
      }
      settings = std::move(*parsed);
    }
    auto edit = o.uninstall ? remove_json_hooks(settings, o.agent)
                            : add_json_hooks(settings, o.agent, o.program, o.statusline);
    if (!edit) {
      err << shown << ": error: " << edit.error().message << "\n";
      return 1;
    }
    changes = std::move(*edit);
    after = format_json_tree(settings);
  }

  for (const auto& c : changes) out << shown << ": " << c << "\n";
  // Only a real change rewrites the file: a JSON file is pretty-printed anew,
  // and merely reformatting someone's settings is not ours to do.
  const bool changed = std::any_of(changes.begin(), changes.end(),
                                   [](const std::string& c) { return c.rfind("kept", 0) != 0; });
  if (!changed) {
    out << shown << ": nothing to change\n";
    return 0;
  }
  if (o.dry_run) {
    out << shown << ": dry run, not changed\n";
    return 0;
  }

  if (old->has_value()) {
    std::string backup = path + ".agentwatch-backup";
    if (exists(backup)) backup += "." + compact_utc(now);
    if (Status s = write_file_durably(backup, before, mode); !s) {
      err << "agentwatch: cannot back up " << shown << ": " << s.error().message
          << " (file unchanged)\n";
      return 1;
    }
    out << shown << ": backup of the previous content: " << backup << "\n";
  } else if (Status s = make_dirs(parent_dir(path), 0700); !s) {
    err << "agentwatch: " << s.error().message << "\n";
    return 1;
  }
  if (Status s = write_file_durably(path, after, mode); !s) {
    err << "agentwatch: cannot write " << shown << ": " << s.error().message
        << " (file unchanged)\n";
    return 1;
  }
  out << shown << ": written\n";
  return 0;
}

}  // namespace aw
