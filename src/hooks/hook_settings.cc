#include "src/hooks/hook_settings.h"

#include <algorithm>
#include <optional>

namespace aw {

namespace {

bool is_plain_word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("_./%+:=@-,").find(c) != std::string_view::npos;
}

std::string shell_quote(std::string_view word) {
  if (!word.empty() && std::all_of(word.begin(), word.end(), is_plain_word_char))
    return std::string(word);
  std::string out = "'";
  for (char c : word) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  out += '\'';
  return out;
}

std::string_view basename_of(std::string_view path) {
  const std::size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// The first two words of a shell command, unquoted as far as '…' and "…" go:
// enough to recognise our program, which is all this is for.
std::vector<std::string> first_words(std::string_view command, std::size_t n) {
  std::vector<std::string> words;
  std::size_t i = 0;
  while (words.size() < n) {
    while (i < command.size() && (command[i] == ' ' || command[i] == '\t')) ++i;
    if (i >= command.size()) break;
    std::string w;
    while (i < command.size() && command[i] != ' ' && command[i] != '\t') {
      const char c = command[i++];
      if (c == '\'' || c == '"') {
        while (i < command.size() && command[i] != c) w += command[i++];
        if (i < command.size()) ++i;
      } else {
        w += c;
      }
    }
    words.push_back(std::move(w));
  }
  return words;
}

bool is_ours_argv(const std::vector<std::string>& words) {
  if (words.empty()) return false;
  const std::string_view prog = basename_of(words[0]);
  if (prog == "agentwatch-hook") return true;
  return prog == "agentwatch" && words.size() > 1 && words[1] == "hook";
}

bool uses_matcher(HookAgent agent, std::string_view event) {
  // Claude Code matches tool events on the tool name; "*" is every tool.
  // Every other event (and every Gemini event) runs for all when the matcher
  // is left out, which is what we want.
  return agent == HookAgent::kClaude && (event == "PreToolUse" || event == "PostToolUse");
}

JsonValue command_hook(HookAgent agent, const std::string& command) {
  JsonValue h = JsonValue::object();
  if (agent == HookAgent::kGemini)
    h.members().emplace_back("name", JsonValue::string("agentwatch"));
  h.members().emplace_back("type", JsonValue::string("command"));
  h.members().emplace_back("command", JsonValue::string(command));
  return h;
}

// The command of a {"type": "command", "command": "…"} hook, if it is one.
const std::string* command_of(const JsonValue& hook) {
  const JsonValue* c = hook.find("command");
  return c != nullptr && c->is_string() ? &c->str() : nullptr;
}

bool is_our_hook(const JsonValue& hook) {
  const std::string* c = command_of(hook);
  return c != nullptr && is_agentwatch_hook_command(*c);
}

// Adds or updates our hook for one event. `list` is the event's array of groups.
Status add_to_event(JsonValue& list, HookAgent agent, const std::string& event,
                    const std::string& command, SettingsChanges& changes) {
  if (!list.is_array())
    return make_error("\"hooks\".\"" + event +
                      "\" is not a list (expected [ {\"hooks\": [...]} ])");
  bool found = false;
  for (JsonValue& group : list.items()) {
    JsonValue* hooks = group.find("hooks");
    if (hooks == nullptr || !hooks->is_array()) continue;
    for (JsonValue& h : hooks->items()) {
      if (!is_our_hook(h)) continue;
      found = true;
      JsonValue* c = h.find("command");
      if (c->str() != command) {
        *c = JsonValue::string(command);
        changes.push_back("updated hook " + event + " (now: " + command + ")");
      }
    }
  }
  if (found) return Status::Ok();
  JsonValue group = JsonValue::object();
  if (uses_matcher(agent, event)) group.members().emplace_back("matcher", JsonValue::string("*"));
  JsonValue hooks = JsonValue::array();
  hooks.items().push_back(command_hook(agent, command));
  group.members().emplace_back("hooks", std::move(hooks));
  list.items().push_back(std::move(group));
  changes.push_back("added hook " + event);
  return Status::Ok();
}

// Removes our hooks from one event's list; a group left without hooks goes.
std::size_t remove_from_event(JsonValue& list) {
  if (!list.is_array()) return 0;
  std::size_t removed = 0;
  auto& groups = list.items();
  for (auto it = groups.begin(); it != groups.end();) {
    JsonValue* hooks = it->find("hooks");
    if (hooks == nullptr || !hooks->is_array()) {
      ++it;
      continue;
    }
    const std::size_t before = hooks->items().size();
    std::erase_if(hooks->items(), is_our_hook);
    const std::size_t n = before - hooks->items().size();
    removed += n;
    if (n > 0 && hooks->items().empty()) {
      it = groups.erase(it);
    } else {
      ++it;
    }
  }
  return removed;
}

// --- Codex config.toml -----------------------------------------------------

std::string toml_basic_string(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

std::string codex_notify_line(const HookProgram& program) {
  std::string line = "notify = [";
  for (const auto& a : program.argv) line += toml_basic_string(a) + ", ";
  line += "\"codex\"]";
  return line;
}

// Where the top-level notify = [...] sits: [begin, end) covers its whole lines
// (end is past the newline after the closing bracket).
struct NotifySpan {
  std::size_t begin = 0;
  std::size_t end = 0;
  std::size_t line = 0;  // 1-based
  std::vector<std::string> argv;
};

std::size_t skip_toml_space(std::string_view t, std::size_t i) {
  for (;;) {
    while (i < t.size() && (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r')) ++i;
    if (i < t.size() && t[i] == '#') {
      while (i < t.size() && t[i] != '\n') ++i;
      continue;
    }
    return i;
  }
}

// Parses a TOML string at t[i] ('…' literal or "…" basic with the usual
// escapes); returns the index past it, or nullopt.
std::optional<std::size_t> parse_toml_string(std::string_view t, std::size_t i, std::string& out) {
  if (i >= t.size() || (t[i] != '"' && t[i] != '\'')) return std::nullopt;
  const char q = t[i++];
  if (t.substr(i - 1, 3) == "\"\"\"" || t.substr(i - 1, 3) == "'''")
    return std::nullopt;  // multi-line strings: not for a program path
  while (i < t.size() && t[i] != q && t[i] != '\n') {
    if (q == '"' && t[i] == '\\' && i + 1 < t.size()) {
      const char e = t[i + 1];
      switch (e) {
        case 'n':
          out += '\n';
          break;
        case 't':
          out += '\t';
          break;
        case '"':
        case '\\':
          out += e;
          break;
        default:
          return std::nullopt;  // \u escapes and the rest: not in a path we would write
      }
      i += 2;
      continue;
    }
    out += t[i++];
  }
  if (i >= t.size() || t[i] != q) return std::nullopt;
  return i + 1;
}

// Finds the top-level `notify` key (before the first [table] header).
// nullopt: none. Error: present but not an array of strings we can read.
Result<std::optional<NotifySpan>> find_codex_notify(std::string_view t) {
  std::size_t pos = 0;
  std::size_t line_no = 0;
  while (pos < t.size()) {
    ++line_no;
    const std::size_t eol = t.find('\n', pos);
    const std::size_t line_end = eol == std::string_view::npos ? t.size() : eol;
    std::string_view line = t.substr(pos, line_end - pos);
    const std::size_t first = line.find_first_not_of(" \t");
    if (first != std::string_view::npos) {
      line.remove_prefix(first);
      if (line.front() == '[') return std::optional<NotifySpan>();  // a table: top level is over
      std::string_view key = line;
      if (key.substr(0, 6) == "notify") {
        key.remove_prefix(6);
        const std::size_t eq = key.find_first_not_of(" \t");
        if (eq != std::string_view::npos && key[eq] == '=') {
          const std::string where = "config.toml line " + std::to_string(line_no);
          NotifySpan span;
          span.begin = pos;
          span.line = line_no;
          std::size_t i = skip_toml_space(t, pos + first + 6 + eq + 1);
          if (i >= t.size() || t[i] != '[')
            return make_error(where + ": notify is not a list of strings");
          i = skip_toml_space(t, i + 1);
          while (i < t.size() && t[i] != ']') {
            std::string s;
            auto next = parse_toml_string(t, i, s);
            if (!next)
              return make_error(where + ": cannot read notify (expected [\"program\", …])");
            span.argv.push_back(std::move(s));
            i = skip_toml_space(t, *next);
            if (i < t.size() && t[i] == ',') i = skip_toml_space(t, i + 1);
          }
          if (i >= t.size()) return make_error(where + ": notify's list has no closing ']'");
          const std::size_t after = t.find('\n', i);
          span.end = after == std::string_view::npos ? t.size() : after + 1;
          return std::optional<NotifySpan>(std::move(span));
        }
      }
    }
    if (eol == std::string_view::npos) break;
    pos = eol + 1;
  }
  return std::optional<NotifySpan>();
}

std::string join_argv(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) s += (s.empty() ? "" : " ") + shell_quote(a);
  return s;
}

}  // namespace

const std::vector<std::string>& hook_events(HookAgent agent) {
  static const std::vector<std::string> kClaude = {
      "SessionStart", "UserPromptSubmit", "PreToolUse", "PostToolUse", "Notification",
      "Stop",         "StopFailure",      "PreCompact", "SessionEnd"};
  static const std::vector<std::string> kGemini = {"SessionStart", "BeforeAgent",  "BeforeTool",
                                                   "AfterTool",    "Notification", "AfterAgent",
                                                   "PreCompress",  "SessionEnd"};
  static const std::vector<std::string> kCodex = {"agent-turn-complete"};
  switch (agent) {
    case HookAgent::kClaude:
      return kClaude;
    case HookAgent::kGemini:
      return kGemini;
    case HookAgent::kCodex:
      break;
  }
  return kCodex;
}

std::string hook_command_line(const HookProgram& program, HookAgent agent, std::string_view event) {
  std::string s = join_argv(program.argv);
  s += " ";
  s += hook_agent_name(agent);
  s += " ";
  s += shell_quote(event);
  return s;
}

bool is_agentwatch_hook_command(std::string_view command) {
  return is_ours_argv(first_words(command, 2));
}

Result<SettingsChanges> add_json_hooks(JsonValue& settings, HookAgent agent,
                                       const HookProgram& program, bool statusline) {
  if (!settings.is_object()) return make_error("the settings are not a JSON object");
  // Work on a copy: an error half-way must leave the settings untouched.
  JsonValue edited = settings;
  SettingsChanges changes;
  JsonValue& hooks = edited.get_or_add("hooks");
  if (hooks.is_null()) hooks = JsonValue::object();
  if (!hooks.is_object())
    return make_error("\"hooks\" is not an object (expected {\"EVENT\": [...]})");
  for (const std::string& event : hook_events(agent)) {
    JsonValue& list = hooks.get_or_add(event);
    if (list.is_null()) list = JsonValue::array();
    if (Status s =
            add_to_event(list, agent, event, hook_command_line(program, agent, event), changes);
        !s)
      return s.error();
  }
  if (statusline && agent == HookAgent::kClaude) {
    const std::string command = hook_command_line(program, agent, kStatusLineEvent);
    JsonValue* current = edited.find("statusLine");
    if (current == nullptr) {
      JsonValue sl = JsonValue::object();
      sl.members().emplace_back("type", JsonValue::string("command"));
      sl.members().emplace_back("command", JsonValue::string(command));
      edited.members().emplace_back("statusLine", std::move(sl));
      changes.push_back("added statusLine");
    } else if (const std::string* c = command_of(*current);
               c != nullptr && is_agentwatch_hook_command(*c)) {
      if (*c != command) {
        current->get_or_add("command") = JsonValue::string(command);
        changes.push_back("updated statusLine (now: " + command + ")");
      }
    } else {
      changes.push_back("kept your statusLine (not replaced; see docs/hooks.md to chain it)");
    }
  }
  // "kept" alone is not a change to the file.
  const bool changed = std::any_of(changes.begin(), changes.end(),
                                   [](const std::string& c) { return c.rfind("kept", 0) != 0; });
  if (changed) settings = std::move(edited);
  return changes;
}

Result<SettingsChanges> remove_json_hooks(JsonValue& settings, HookAgent agent) {
  if (!settings.is_object()) return make_error("the settings are not a JSON object");
  SettingsChanges changes;
  JsonValue* hooks = settings.find("hooks");
  if (hooks != nullptr && hooks->is_object()) {
    auto& events = hooks->members();
    for (auto it = events.begin(); it != events.end();) {
      const std::size_t n = remove_from_event(it->second);
      if (n > 0) changes.push_back("removed hook " + it->first);
      if (n > 0 && it->second.items().empty()) {
        it = events.erase(it);
      } else {
        ++it;
      }
    }
    if (!changes.empty() && events.empty()) settings.erase("hooks");
  }
  if (agent == HookAgent::kClaude) {
    const JsonValue* sl = settings.find("statusLine");
    if (const std::string* c = sl != nullptr ? command_of(*sl) : nullptr;
        c != nullptr && is_agentwatch_hook_command(*c)) {
      settings.erase("statusLine");
      changes.push_back("removed statusLine");
    }
  }
  return changes;
}

Result<TomlEdit> add_codex_notify(std::string_view toml, const HookProgram& program) {
  auto span = find_codex_notify(toml);
  if (!span) return span.error();
  const std::string line = codex_notify_line(program);
  TomlEdit edit;
  if (!*span) {
    // At the very top: the one place that is top-level whatever follows.
    edit.text = line + "\n" + std::string(toml);
    edit.changes.push_back("added notify = [\"" + program.argv.front() + "\", …]");
    return edit;
  }
  const NotifySpan& s = **span;
  std::vector<std::string> want = program.argv;
  want.emplace_back("codex");
  if (s.argv == want) {
    edit.text = std::string(toml);
    return edit;
  }
  if (!is_ours_argv(s.argv))
    return make_error("config.toml line " + std::to_string(s.line) +
                      ": notify is already set to run " + join_argv(s.argv) +
                      "; Codex runs one notify program, and agentwatch does not replace yours. "
                      "Remove that line (or make your program call " +
                      join_argv(program.argv) + " codex \"$1\") and run install-hooks again");
  edit.text = std::string(toml.substr(0, s.begin)) + line + "\n" + std::string(toml.substr(s.end));
  edit.changes.push_back("updated notify (now: " + join_argv(want) + ")");
  return edit;
}

Result<TomlEdit> remove_codex_notify(std::string_view toml) {
  auto span = find_codex_notify(toml);
  if (!span) return span.error();
  TomlEdit edit;
  if (!*span || !is_ours_argv((*span)->argv)) {
    edit.text = std::string(toml);
    return edit;
  }
  edit.text = std::string(toml.substr(0, (*span)->begin)) + std::string(toml.substr((*span)->end));
  edit.changes.emplace_back("removed notify");
  return edit;
}

}  // namespace aw
