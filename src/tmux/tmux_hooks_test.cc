#include "src/tmux/tmux_hooks.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>

#include "src/core/event_kinds.h"
#include "src/os/unique_fd.h"
#include "src/tmux/tmux_client.h"
#include "src/tmux/tmux_test_support.h"

namespace aw {
namespace {

using tmux_testing::exists;
using tmux_testing::list_dir;
using tmux_testing::read_file;
using tmux_testing::TempDir;
using tmux_testing::TmuxLoopTest;
using tmux_testing::write_file;

TEST(ShellQuote, LeavesPlainWordsAndQuotesTheRest) {
  EXPECT_EQ(shell_quote("/usr/bin/agentwatch"), "/usr/bin/agentwatch");
  EXPECT_EQ(shell_quote("--runtime-dir=/x"), "--runtime-dir=/x");
  EXPECT_EQ(shell_quote(""), "''");
  EXPECT_EQ(shell_quote("a b"), "'a b'");
  EXPECT_EQ(shell_quote("it's"), "'it'\\''s'");
  EXPECT_EQ(shell_quote("$(id)`id`;|&"), "'$(id)`id`;|&'");
}

TEST(HookCommands, EveryFormatIsShellQuotedByTmux) {
  HookOptions o{"/usr/bin/agentwatch", {}};
  auto hooks = hook_commands(o);
  ASSERT_EQ(hooks.size(), 8u);
  for (const HookCommand& h : hooks) {
    // Every "#{" opens a #{q:...}: no format reaches sh unquoted.
    for (std::size_t at = h.command.find("#{"); at != std::string::npos;
         at = h.command.find("#{", at + 2))
      EXPECT_EQ(h.command.compare(at, 4, "#{q:"), 0) << h.hook << ": " << h.command;
    EXPECT_TRUE(h.command.starts_with("/usr/bin/agentwatch notify -q tmux." + h.hook + " "))
        << h.command;
    EXPECT_TRUE(h.command.ends_with(" >/dev/null 2>&1")) << h.command;
    EXPECT_TRUE(kind::is_known("tmux." + h.hook)) << h.hook << ": not in kind::kAllKinds";
  }
  EXPECT_EQ(hooks[1].hook, "session-closed");
  EXPECT_EQ(hooks[1].command,
            "/usr/bin/agentwatch notify -q tmux.session-closed entity=#{q:hook_session_name} "
            "session=#{q:hook_session_name} session_id=#{q:hook_session} >/dev/null 2>&1");
}

TEST(HookCommands, BinaryPathAndExtraArgsAreQuotedAndTheirHashesDoubled) {
  HookOptions o{"/opt/my tools #1/agentwatch", {"--runtime-dir", "/run/it's"}};
  auto hooks = hook_commands(o);
  EXPECT_TRUE(hooks[0].command.starts_with(
      "'/opt/my tools ##1/agentwatch' --runtime-dir '/run/it'\\''s' notify -q "))
      << hooks[0].command;
}

TEST(HookLines, SetAHookAtOurIndexQuotedForTmuxsParser) {
  auto lines = hook_lines(HookOptions{"/usr/bin/agentwatch", {}});
  ASSERT_EQ(lines.size(), 8u);
  EXPECT_EQ(lines[3],
            "set-hook -g pane-exited[87] 'run-shell -b '\\''/usr/bin/agentwatch notify -q "
            "tmux.pane-exited pane=#{q:hook_pane} >/dev/null 2>&1'\\'''");
  auto cmds = hook_set_commands(HookOptions{"/usr/bin/agentwatch", {}});
  ASSERT_EQ(cmds.size(), 8u);
  EXPECT_EQ(cmds[3], (std::vector<std::string>{"set-hook", "-g", "pane-exited[87]",
                                               "run-shell -b '/usr/bin/agentwatch notify -q "
                                               "tmux.pane-exited pane=#{q:hook_pane} "
                                               ">/dev/null 2>&1'"}));
  auto unset = hook_unset_commands();
  EXPECT_EQ(unset[0], (std::vector<std::string>{"set-hook", "-gu", "session-created[87]"}));
  EXPECT_EQ(join_tmux_commands({{"a", "b"}, {"c"}}),
            (std::vector<std::string>{"a", "b", ";", "c"}));
}

const std::vector<std::string> kLines = {"set-hook -g a[87] 'x'", "set-hook -g b[87] 'y'"};
const std::string kBlock =
    "# >>> agentwatch hooks >>>\n"
    "# Written by `agentwatch`: replaced on every install. Edit outside this block.\n"
    "set-hook -g a[87] 'x'\n"
    "set-hook -g b[87] 'y'\n"
    "# <<< agentwatch hooks <<<\n";

TEST(WithHookBlock, AppendsToAFileWithoutOne) {
  EXPECT_EQ(*with_hook_block("", kLines, "t.conf"), kBlock);
  EXPECT_EQ(*with_hook_block("set -g mouse on\n", kLines, "t.conf"), "set -g mouse on\n" + kBlock);
  EXPECT_EQ(*with_hook_block("set -g mouse on", kLines, "t.conf"), "set -g mouse on\n" + kBlock);
}

TEST(WithHookBlock, ReplacesTheBlockInPlaceKeepingTheRestByteForByte) {
  const std::string head = "# mine\r\nset -g mouse on  \n\n";
  const std::string tail = "bind x kill-pane\n# no newline at the end";
  const std::string old_block =
      "# >>> agentwatch hooks >>>\nset-hook -g old[87] 'z'\n# <<< agentwatch hooks <<<\n";
  auto out = with_hook_block(head + old_block + tail, kLines, "t.conf");
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out, head + kBlock + tail);
  // Installing again changes nothing.
  EXPECT_EQ(*with_hook_block(*out, kLines, "t.conf"), *out);
}

TEST(WithHookBlock, NoLinesRemovesTheBlock) {
  EXPECT_EQ(*with_hook_block("a\n" + kBlock + "b\n", {}, "t.conf"), "a\nb\n");
  EXPECT_EQ(*with_hook_block("a\n", {}, "t.conf"), "a\n");
}

TEST(WithHookBlock, BrokenMarkersAreErrorsNamingFileAndLine) {
  auto no_end = with_hook_block("a\n# >>> agentwatch hooks >>>\nb\n", kLines, "/h/.tmux.conf");
  ASSERT_FALSE(no_end.ok());
  EXPECT_EQ(no_end.error().message,
            "/h/.tmux.conf:2: '# >>> agentwatch hooks >>>' without its '# <<< agentwatch hooks "
            "<<<'; fix or remove the block by hand");
  auto no_begin = with_hook_block("a\nb\n# <<< agentwatch hooks <<<\n", kLines, "t.conf");
  ASSERT_FALSE(no_begin.ok());
  EXPECT_TRUE(
      no_begin.error().message.starts_with("t.conf:3: '# <<< agentwatch hooks <<<' "
                                           "without a '# >>> agentwatch hooks >>>'"));
  auto two = with_hook_block(kBlock + kBlock, kLines, "t.conf");
  ASSERT_FALSE(two.ok());
  EXPECT_TRUE(two.error().message.starts_with("t.conf:6: a second")) << two.error().message;
}

TEST(InstallIntoTmuxConf, CreatesReplacesAndKeepsTheMode) {
  TempDir dir;
  const std::string conf = dir / "tmux.conf";
  ASSERT_TRUE(install_into_tmux_conf(conf, kLines).ok());
  EXPECT_EQ(read_file(conf), kBlock);

  write_file(conf, "set -g mouse on\n" + kBlock + "bind x y\n", 0600);
  ASSERT_TRUE(install_into_tmux_conf(conf, {"set-hook -g c[87] 'w'"}).ok());
  EXPECT_EQ(read_file(conf),
            "set -g mouse on\n# >>> agentwatch hooks >>>\n# Written by `agentwatch`: replaced "
            "on every install. Edit outside this block.\nset-hook -g c[87] 'w'\n# <<< agentwatch "
            "hooks <<<\nbind x y\n");
  struct stat st {};
  ASSERT_EQ(::stat(conf.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(list_dir(dir.path()), (std::vector<std::string>{"tmux.conf"}));  // no temp left
}

TEST(InstallIntoTmuxConf, FollowsASymlinkAndReplacesItsTarget) {
  TempDir dir;
  write_file(dir / "real.conf", "set -g mouse on\n");
  ASSERT_EQ(::symlink((dir / "real.conf").c_str(), (dir / "link.conf").c_str()), 0);
  ASSERT_TRUE(install_into_tmux_conf(dir / "link.conf", kLines).ok());
  struct stat st {};
  ASSERT_EQ(::lstat((dir / "link.conf").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  EXPECT_EQ(read_file(dir / "real.conf"), "set -g mouse on\n" + kBlock);
}

TEST(InstallIntoTmuxConf, BrokenBlockLeavesTheFileAlone) {
  TempDir dir;
  const std::string conf = dir / "tmux.conf";
  write_file(conf, "# >>> agentwatch hooks >>>\nmine\n");
  Status s = install_into_tmux_conf(conf, kLines);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message.find(conf + ":1: "), 0u) << s.error().message;
  EXPECT_EQ(read_file(conf), "# >>> agentwatch hooks >>>\nmine\n");
}

// Real tmux: the hooks fire, run the (fake) agentwatch with the right
// arguments, and a hostile session name is neither executed nor mangled.
class TmuxHooksTest : public TmuxLoopTest {
 protected:
  void SetUp() override {
    TmuxLoopTest::SetUp();
    // A directory name with a space, a quote and a '#': all must survive.
    bin_dir_ = dir_ / "bin dir #1 'q'";
    ASSERT_EQ(::mkdir(bin_dir_.c_str(), 0755), 0);
    ASSERT_EQ(::mkdir((dir_ / "records").c_str(), 0755), 0);
    // The fake agentwatch: one file per call holding its argv, NUL-separated,
    // renamed into records/ when complete (the test watches that with inotify).
    // Hook jobs outlive the test's last wait (and even the server), so each
    // call holds a shared lock on "live" and writes only while "live" exists:
    // TearDown takes the lock exclusively and removes it, after which no call
    // writes anything into a directory being deleted.
    const std::string d = dir_.path();
    write_file(d + "/live", "");
    write_file(bin_dir_ + "/agentwatch",
               "#!/bin/sh\n"
               "exec 9<'" +
                   d +
                   "/live' 2>/dev/null || exit 0\n"
                   "flock -s 9\n"
                   "[ -e '" +
                   d +
                   "/live' ] || exit 0\n"
                   "f=$(mktemp '" +
                   d +
                   "/call.XXXXXX')\n"
                   "printf '%s\\0' \"$@\" > \"$f\"\n"
                   "exec mv \"$f\" '" +
                   d + "/records/'\n",
               0755);
    inotify_.reset(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
    ASSERT_TRUE(inotify_.valid());
    ASSERT_GE(::inotify_add_watch(inotify_.get(), (dir_ / "records").c_str(), IN_MOVED_TO), 0);
    poll_ = std::make_unique<uvx::Poll>(&loop_, inotify_.get(), [this](int, int) {
      char buf[4096];
      while (::read(inotify_.get(), buf, sizeof buf) > 0) {
      }
    });
    ASSERT_EQ(poll_->start(UV_READABLE), 0);
    options_ = HookOptions{bin_dir_ + "/agentwatch", {"--runtime-dir", "/run/x y"}};
  }
  void TearDown() override {
    poll_.reset();
    inotify_.reset();
    // Waits for calls in progress (test code: blocking is fine here).
    UniqueFd live(::open((dir_ / "live").c_str(), O_RDONLY | O_CLOEXEC));
    if (live.valid()) {
      ::flock(live.get(), LOCK_EX);
      ::unlink((dir_ / "live").c_str());
    }
    TmuxLoopTest::TearDown();
  }

  // Every recorded call, as argv vectors.
  std::vector<std::vector<std::string>> calls() {
    std::vector<std::vector<std::string>> out;
    for (const std::string& name : list_dir(dir_ / "records")) {
      std::string data = read_file(dir_ / "records/" + name);
      std::vector<std::string> argv;
      for (std::size_t start = 0, nul; (nul = data.find('\0', start)) != std::string::npos;
           start = nul + 1)
        argv.push_back(data.substr(start, nul - start));
      out.push_back(std::move(argv));
    }
    return out;
  }

  // The fields (key=value after the kind) of the first call of `kind` for
  // which `match` holds, waiting (on inotify) for hooks to fire until there is one.
  std::map<std::string, std::string> wait_for_call(
      const std::string& kind,
      const std::function<bool(std::map<std::string, std::string>&)>& match = [](auto&) {
        return true;
      }) {
    std::map<std::string, std::string> found;
    auto look = [&] {
      for (const auto& argv : calls()) {
        if (argv.size() < 5 || argv[3] != "-q" || argv[4] != kind) continue;
        EXPECT_EQ(argv[0], "--runtime-dir");
        EXPECT_EQ(argv[1], "/run/x y");
        EXPECT_EQ(argv[2], "notify");
        std::map<std::string, std::string> fields;
        for (std::size_t i = 5; i < argv.size(); ++i) {
          std::size_t eq = argv[i].find('=');
          fields[argv[i].substr(0, eq)] = argv[i].substr(eq + 1);
        }
        if (match(fields)) {
          found = std::move(fields);
          return true;
        }
      }
      return false;
    };
    if (!run_until(look, std::chrono::seconds(10))) {
      std::string seen;
      for (const auto& argv : calls()) {
        for (const auto& a : argv) seen += a + " ";
        seen += "\n";
      }
      ADD_FAILURE() << "no " << kind << " call; calls:\n" << seen;
    }
    return found;
  }

  TempDir dir_;
  std::string bin_dir_;
  HookOptions options_;
  UniqueFd inotify_;
  std::unique_ptr<uvx::Poll> poll_;
};

TEST_F(TmuxHooksTest, InstalledIntoARunningServerTheyReportSessionsAndPanes) {
  ASSERT_TRUE(tmux({"new-session", "-d", "-s", "keep", "sleep 60"})->ok());
  auto installed = tmux(join_tmux_commands(hook_set_commands(options_)));
  ASSERT_TRUE(installed.ok());
  ASSERT_TRUE(installed->ok()) << installed->err;
  // A user's own hook at index 0 is left alone.
  ASSERT_TRUE(tmux({"set-hook", "-g", "session-closed[0]", "set -g @mine yes"})->ok());

  ASSERT_TRUE(tmux({"new-session", "-d", "-s", "w1", "sleep 60"})->ok());
  auto pane_pid = tmux({"display-message", "-p", "-t", "=w1:", "#{pane_pid} #{pane_id}"});
  auto created =
      wait_for_call("tmux.session-created", [](auto& f) { return f["session"] == "w1"; });
  EXPECT_EQ(created["entity"], "w1");
  EXPECT_TRUE(created["session_id"].starts_with("$"));
  EXPECT_EQ(created["pane_pid"] + " " + created["pane"] + "\n", pane_pid->out);
  EXPECT_EQ(created["window"], "0");

  ASSERT_TRUE(tmux({"kill-session", "-t", "=w1"})->ok());
  auto closed = wait_for_call("tmux.session-closed");
  EXPECT_EQ(closed["session"], "w1");  // tmux's session_name would name "keep" here
  EXPECT_EQ(closed["session_id"], created["session_id"]);
  EXPECT_EQ(tmux({"show", "-gv", "@mine"})->out, "yes\n");

  // A pane whose command exits: pane-exited names it by hook_pane.
  ASSERT_TRUE(tmux({"new-session", "-d", "-s", "w2", "sleep 60"})->ok());
  auto w2 = wait_for_call("tmux.session-created", [](auto& f) { return f["session"] == "w2"; });
  ASSERT_TRUE(tmux({"respawn-pane", "-k", "-t", "=w2:", "exit 3"})->ok());
  auto exited = wait_for_call("tmux.pane-exited");
  EXPECT_EQ(exited["pane"], w2["pane"]);

  // With remain-on-exit, pane-died carries the status.
  ASSERT_TRUE(
      tmux({"set", "-g", "remain-on-exit", "on", ";", "new-session", "-d", "-s", "w3", "exit 5"})
          ->ok());
  auto died = wait_for_call("tmux.pane-died");
  EXPECT_EQ(died["session"], "w3");
  EXPECT_EQ(died["status"], "5");
  EXPECT_EQ(died["signal"], "");
  EXPECT_TRUE(died["pane"].starts_with("%"));

  // Uninstalling removes ours only.
  ASSERT_TRUE(tmux(join_tmux_commands(hook_unset_commands()))->ok());
  auto left = tmux({"show-hooks", "-g", "session-closed"});
  EXPECT_EQ(left->out, "session-closed[0] set-option -g @mine yes\n");
}

TEST_F(TmuxHooksTest, HostileSessionNamesAreNeitherRunNorMangled) {
  const std::string pwned = dir_ / "pwned";
  const std::vector<std::string> names = {
      "x; touch " + pwned,
      "$(touch " + pwned + ")",
      "`touch " + pwned + "`",
      "a'b\"c d",
      "#{pane_id} #(touch " + pwned + ") ##",
      "  spaced  *?[x]~ & | > out",
  };
  ASSERT_TRUE(tmux({"new-session", "-d", "-s", "keep", "sleep 60"})->ok());
  ASSERT_TRUE(tmux(join_tmux_commands(hook_set_commands(options_)))->ok());
  for (const std::string& name : names) {
    // new-session expands formats in -s: the name must go in escaped.
    ASSERT_TRUE(tmux({"new-session", "-d", "-s", escape_tmux_format(name), "sleep 60"})->ok())
        << name;
    auto created =
        wait_for_call("tmux.session-created", [&](auto& f) { return f["session"] == name; });
    EXPECT_EQ(created["entity"], name);
    // By id: "=$(…" would be read as a session id, not a name.
    auto killed = tmux({"kill-session", "-t", created["session_id"]});
    ASSERT_TRUE(killed->ok()) << name << ": " << killed->err;
    auto closed =
        wait_for_call("tmux.session-closed", [&](auto& f) { return f["session"] == name; });
    EXPECT_EQ(closed["entity"], name);
  }
  EXPECT_FALSE(exists(pwned));
  EXPECT_FALSE(exists(dir_ / "out"));
}

TEST_F(TmuxHooksTest, InstalledThroughTmuxConfTheyFireFromTheStart) {
  const std::string conf = dir_ / "tmux.conf";
  write_file(conf, "set -g @mine yes\n");
  ASSERT_TRUE(install_into_tmux_conf(conf, hook_lines(options_)).ok());
  // This server reads that config (the fixture's client says -f /dev/null,
  // which only counts when it starts the server).
  TmuxClient with_conf(&loop_, clock_, TmuxServer{{"tmux", "-L", server_name_, "-f", conf}});
  std::optional<Result<TmuxReply>> reply;
  with_conf.run({"new-session", "-d", "-s", "w 1", "sleep 60"},
                [&](Result<TmuxReply> r) { reply.emplace(std::move(r)); });
  ASSERT_TRUE(run_until([&] { return reply.has_value(); }));
  ASSERT_TRUE(reply->ok() && (*reply)->ok()) << (*reply)->err;
  EXPECT_EQ(tmux({"show", "-gv", "@mine"})->out, "yes\n");
  auto created = wait_for_call("tmux.session-created");
  EXPECT_EQ(created["session"], "w 1");
}

}  // namespace
}  // namespace aw
