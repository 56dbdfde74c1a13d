// The `ignore` globs of a watch root, with gitignore-like reach.
//
// A pattern containing '/' is matched (GlobMode::kPath) against the whole path
// relative to the root: "completed/**", "logs/*.log". A pattern without '/' is
// matched against the last component at any depth: "*.tmp" ignores "x.tmp" and
// "a/b/x.tmp"; ".*" ignores every dot-file and dot-directory. An ignored
// directory is neither watched nor scanned, so everything below it is ignored
// too; "dir/**" also ignores the directory "dir" itself (nothing in it could
// count).
//
// Thread safety: immutable after compile; safe to share.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "src/core/glob.h"
#include "src/core/result.h"

namespace aw {

class IgnoreRules {
 public:
  IgnoreRules() = default;
  // Errors name the offending pattern and column (from Glob::compile).
  static Result<IgnoreRules> compile(const std::vector<std::string>& patterns);

  bool ignores_file(std::string_view rel) const;
  bool ignores_dir(std::string_view rel) const;
  bool empty() const { return whole_path_.empty() && basename_.empty(); }

 private:
  std::vector<Glob> whole_path_;
  std::vector<Glob> basename_;
};

}  // namespace aw
