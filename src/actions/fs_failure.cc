#include "src/actions/fs_failure.h"

#include <cerrno>

namespace aw {

const char* category_for_errno(int negative_errno) {
  switch (-negative_errno) {
    case ENOENT:
      return outcome_category::kNotFound;
    case EACCES:
    case EPERM:
    case EROFS:
    case ELOOP:
    case EXDEV:
      return outcome_category::kPermission;
    case ENOSPC:
    case EDQUOT:
    case EMFILE:
    case ENFILE:
    case ENOMEM:
    case EAGAIN:
    case EMLINK:
    case EEXIST:
    case EFBIG:
      return outcome_category::kResource;
    case EINVAL:
      return outcome_category::kValidation;
    default:
      return outcome_category::kExecution;
  }
}

ActionOutcome fs_failure(const Error& error, Fields fields) {
  const char* category = category_for_errno(error.code);
  std::string suggestion;
  switch (-error.code) {
    case ENOENT:
      suggestion = "check the path: the file may have been handled, moved or deleted already";
      break;
    case ELOOP:
      suggestion =
          "file actions never follow symlinks: replace the symlink with a real directory or "
          "point the rule at the real path";
      break;
    case EXDEV:
      suggestion = "keep the source and the destination under the rule's root, or change root";
      break;
    case EACCES:
    case EPERM:
    case EROFS:
      suggestion = "give the daemon's user write access to both directories";
      break;
    case EEXIST:
      suggestion = "the destination holds too many files of that name: clean it up";
      break;
    case ENOTDIR:
      suggestion = "a component of the path is a file where a directory was expected: fix the path";
      break;
    case EOPNOTSUPP:
      suggestion =
          "move directories only within one filesystem, or move the files inside one by one";
      break;
    default:
      if (category == std::string_view(outcome_category::kResource))
        suggestion =
            "free disk space, inodes or file descriptors; it will be retried if the rule "
            "allows retries";
      else if (category == std::string_view(outcome_category::kValidation))
        suggestion = "fix the rule's paths";
      else
        suggestion = "see the message; the source was left where it was";
  }
  return make_failure(category, error.message, std::move(suggestion), std::move(fields));
}

}  // namespace aw
