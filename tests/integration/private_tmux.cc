#include "tests/integration/private_tmux.h"

#include <unistd.h>

#include <cstdlib>
#include <random>

namespace aw::testing {

PrivateTmux::PrivateTmux() {
  std::random_device rd;
  name_ = "aw-it-" + std::to_string(getpid()) + "-" + std::to_string(rd() % 1000000);
}

PrivateTmux::~PrivateTmux() {
  (void)run_command({"tmux", "-L", name_, "kill-server"});
  const char* dir = std::getenv("TMUX_TMPDIR");
  const std::string socket =
      std::string(dir && *dir ? dir : "/tmp") + "/tmux-" + std::to_string(getuid()) + "/" + name_;
  unlink(socket.c_str());
  reap_orphans();
}

CommandResult PrivateTmux::operator()(const std::vector<std::string>& args) const {
  std::vector<std::string> argv{"tmux", "-L", name_};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv);
}

std::string PrivateTmux::config() const {
  return "[tmux]\ncommand = [\"tmux\", \"-L\", \"" + name_ + "\"]\n";
}

bool PrivateTmux::has_session(const std::string& s) const {
  return (*this)({"has-session", "-t", "=" + s}).exit_code == 0;
}

std::string PrivateTmux::first_session_format(const std::string& format) const {
  CommandResult r = (*this)({"list-sessions", "-F", format});
  if (r.exit_code != 0) return "";
  return r.out.substr(0, r.out.find('\n'));
}

pid_t PrivateTmux::server_pid() const {
  const std::string pid = first_session_format("#{pid}");
  return pid.empty() ? 0 : static_cast<pid_t>(std::stol(pid));
}

std::string PrivateTmux::socket_path() const {
  return first_session_format("#{socket_path}");
}

}  // namespace aw::testing
