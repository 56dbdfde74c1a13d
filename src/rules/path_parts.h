// The parts of an event path that rules see as {name}/{dir}/{stem}/{ext} and as
// the `name`/`dir` condition fields. Views into the path; nothing is allocated.
#pragma once

#include <string_view>

namespace aw {

// "/r/a/x.json" → "x.json"; trailing slashes are ignored ("/r/a/" → "a").
inline std::string_view path_basename(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  std::size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return path;
  if (path.size() == 1) return {};  // "/" has no name
  return path.substr(slash + 1);
}

// "/r/a/x.json" → "/r/a"; "x.json" → "."; "/x" → "/"; "" → "".
inline std::string_view path_dirname(std::string_view path) {
  if (path.empty()) return {};
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  std::size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return ".";
  if (slash == 0) return "/";
  std::string_view dir = path.substr(0, slash);
  while (dir.size() > 1 && dir.back() == '/') dir.remove_suffix(1);
  return dir;
}

// "x.tar.gz" → stem "x.tar", ext "gz"; ".bashrc" and "README" have no extension.
inline std::string_view name_stem(std::string_view name) {
  std::size_t dot = name.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return name;
  return name.substr(0, dot);
}
inline std::string_view name_ext(std::string_view name) {
  std::size_t dot = name.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return {};
  return name.substr(dot + 1);
}

}  // namespace aw
