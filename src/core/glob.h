// Glob patterns used by rules for event kinds and paths.
//
//   *    any run of characters except '/' (in path mode); any run at all otherwise
//   **   any run of characters including '/' (path mode); "a/**/b" also matches "a/b"
//   ?    one character (not '/' in path mode)
//   [..] a class, with ranges and leading '!' or '^' for negation
//   \x   a literal x
#pragma once

#include <string>
#include <string_view>

#include "src/core/result.h"

namespace aw {

enum class GlobMode { kPlain, kPath };

class Glob {
 public:
  // Returns an error naming the column (1-based) of an unclosed class or dangling escape.
  static Result<Glob> compile(std::string_view pattern, GlobMode mode);
  bool matches(std::string_view text) const;
  const std::string& pattern() const { return pattern_; }

 private:
  Glob(std::string pattern, GlobMode mode) : pattern_(std::move(pattern)), mode_(mode) {}
  std::string pattern_;
  GlobMode mode_;
};

}  // namespace aw
