#include "watchers/git/reflog_entry.h"

#include <array>
#include <charconv>

namespace aw {
namespace {

constexpr std::array<std::string_view, 11> kClasses = {"commit", "merge",       "checkout", "reset",
                                                       "rebase", "cherry-pick", "revert",   "pull",
                                                       "clone",  "am",          "branch"};

bool is_hex_oid(std::string_view s) {
  if (s.size() != 40 && s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

// Splits off the next space-separated token.
std::string_view take_token(std::string_view& s) {
  const std::size_t sp = s.find(' ');
  std::string_view token = s.substr(0, sp);
  s = sp == std::string_view::npos ? std::string_view{} : s.substr(sp + 1);
  return token;
}

bool ascii_iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

}  // namespace

std::string_view reflog_action_class(std::string_view action) {
  const std::size_t end = action.find_first_of(" (");
  const std::string_view word = action.substr(0, end);
  for (std::string_view c : kClasses)
    if (ascii_iequal(word, c)) return c;
  return "other";
}

std::optional<ReflogEntry> parse_reflog_line(std::string_view line) {
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  ReflogEntry e;
  std::string_view rest = line;
  const std::string_view old_oid = take_token(rest);
  const std::string_view new_oid = take_token(rest);
  if (!is_hex_oid(old_oid) || new_oid.size() != old_oid.size() || !is_hex_oid(new_oid))
    return std::nullopt;
  e.old_oid = old_oid;
  e.new_oid = new_oid;

  const std::size_t tab = rest.find('\t');
  std::string_view ident = rest.substr(0, tab);
  const std::string_view text =
      tab == std::string_view::npos ? std::string_view{} : rest.substr(tab + 1);

  // "<name> <<email>> <time> <tz>"; the name may be empty or hold spaces.
  const std::size_t lt = ident.find('<');
  const std::size_t gt = ident.find('>', lt == std::string_view::npos ? 0 : lt);
  if (lt == std::string_view::npos || gt == std::string_view::npos) return std::nullopt;
  std::string_view name = ident.substr(0, lt);
  while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
  e.name = name;
  e.email = ident.substr(lt + 1, gt - lt - 1);
  std::string_view when = ident.substr(gt + 1);
  if (when.empty() || when.front() != ' ') return std::nullopt;
  when.remove_prefix(1);
  const std::string_view time = take_token(when);
  const std::string_view tz = when;
  const auto [end, ec] = std::from_chars(time.data(), time.data() + time.size(), e.time);
  if (time.empty() || ec != std::errc() || end != time.data() + time.size()) return std::nullopt;
  if (tz.size() != 5 || (tz[0] != '+' && tz[0] != '-')) return std::nullopt;
  for (char c : tz.substr(1))
    if (c < '0' || c > '9') return std::nullopt;
  e.tz = tz;

  // "<action>: <message>" when the part before ": " starts with a known verb.
  const std::size_t colon = text.find(": ");
  if (colon != std::string_view::npos &&
      reflog_action_class(text.substr(0, colon)) != std::string_view("other")) {
    e.action = text.substr(0, colon);
    e.message = text.substr(colon + 2);
  } else {
    e.message = text;
  }
  e.action_class = reflog_action_class(e.action);
  return e;
}

}  // namespace aw
