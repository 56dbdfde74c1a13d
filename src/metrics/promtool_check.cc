#include "src/metrics/promtool_check.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

namespace aw::metrics {

PromtoolVerdict promtool_check_metrics(const std::string& exposition) {
  PromtoolVerdict v;
  char dir_template[] = "/tmp/aw-promtool-XXXXXX";
  if (!::mkdtemp(dir_template)) {
    v.output = std::string("mkdtemp: ") + std::strerror(errno);
    return v;
  }
  const std::string dir = dir_template;
  const std::string in_path = dir + "/metrics.txt";
  const std::string out_path = dir + "/output.txt";
  std::ofstream(in_path, std::ios::binary) << exposition;

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, in_path.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  std::vector<std::string> args = {"promtool", "check", "metrics"};
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  int rc = ::posix_spawnp(&pid, "promtool", &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc == 0) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    v.ran = WIFEXITED(status) && WEXITSTATUS(status) != 127;
    v.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    std::ifstream out(out_path, std::ios::binary);
    std::stringstream ss;
    ss << out.rdbuf();
    v.output = ss.str();
  } else {
    v.output = std::string("cannot start promtool (./dev deps installs it): ") + std::strerror(rc);
  }
  ::unlink(in_path.c_str());
  ::unlink(out_path.c_str());
  ::rmdir(dir.c_str());
  return v;
}

}  // namespace aw::metrics
