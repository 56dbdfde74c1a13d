#include "src/tmux/tmux_socket.h"

namespace aw {

std::string tmux_socket_path(const std::vector<std::string>& command, uid_t uid,
                             std::string_view tmux_tmpdir) {
  std::string label = "default";
  std::string path;
  // command[0] is the program; tmux's own options follow until the command.
  for (std::size_t i = 1; i < command.size(); ++i) {
    const std::string& a = command[i];
    if (a.size() < 2 || a[0] != '-' || a == "--") break;
    // Options of tmux 3.3 that take a value: -c -f -L -S -T.
    const char flag = a[1];
    const bool takes_value =
        flag == 'c' || flag == 'f' || flag == 'L' || flag == 'S' || flag == 'T';
    if (!takes_value) continue;
    std::string value;
    if (a.size() > 2) {
      value = a.substr(2);
    } else if (i + 1 < command.size()) {
      value = command[++i];
    }
    if (flag == 'L') label = value;
    if (flag == 'S') path = value;
  }
  if (!path.empty()) return path;
  std::string dir = tmux_tmpdir.empty() ? "/tmp" : std::string(tmux_tmpdir);
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir + "/tmux-" + std::to_string(uid) + "/" + label;
}

}  // namespace aw
