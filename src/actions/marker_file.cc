#include "src/actions/marker_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <climits>

#include "src/actions/confined_path.h"
#include "src/actions/file_write.h"
#include "src/actions/fs_failure.h"
#include "src/core/json_writer.h"
#include "src/os/errno_text.h"
#include "src/os/unique_fd.h"

namespace aw {

ActionOutcome write_marker(const MarkerSpec& spec) {
  Fields fields;
  fields.set("entity", spec.entity);
  fields.set("state", spec.state);
  char cwd_buf[PATH_MAX];
  const std::string cwd = ::getcwd(cwd_buf, sizeof cwd_buf) ? cwd_buf : "/";
  const std::string root_abs = spec.root.empty() ? "/" : absolute_path(spec.root, cwd);
  const std::string marker = absolute_path(spec.marker, spec.root.empty() ? cwd : root_abs);
  fields.set("marker", marker);

  std::optional<std::string> rel = path_below(root_abs, marker);
  if (!rel)
    return make_failure(outcome_category::kPermission,
                        "mark: marker '" + marker + "' is outside the root '" + root_abs + "'",
                        "keep the marker under the rule's root, or change root", std::move(fields));
  auto [parent_rel, name] = split_parent(*rel);
  if (name.empty())
    return make_failure(outcome_category::kValidation,
                        "mark: marker path '" + marker + "' names a directory, not a file",
                        "give the marker a file name", std::move(fields));

  UniqueFd root_fd(::open(root_abs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root_fd) {
    int err = errno;
    return fs_failure(errno_error("mark: cannot open the root '" + root_abs + "'", err),
                      std::move(fields));
  }
  OpenDirOptions opts{.create = true, .for_sync = true};
  Result<UniqueFd> dir = open_dir_beneath(root_fd.get(), root_abs, parent_rel, opts);
  if (!dir.ok())
    return fs_failure(make_error("mark: " + dir.error().message, dir.error().code),
                      std::move(fields));

  std::string body;
  JsonObjectWriter w(body);
  w.str("entity", spec.entity)
      .str("state", spec.state)
      .str("time", format_time_utc(spec.time))
      .str("rule", spec.rule)
      .unum("cause_seq", spec.cause_seq);
  w.close();
  body.push_back('\n');
  Status s = write_file_replacing(dir->get(), name, body, marker);
  if (!s.ok())
    return fs_failure(make_error("mark: " + s.error().message, s.error().code), std::move(fields));
  return make_success("marked '" + spec.entity + "' " + spec.state + " (marker '" + marker + "')",
                      std::move(fields));
}

}  // namespace aw
