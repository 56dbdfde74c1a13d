// Test support shared by logpipe_test and the actions' rotate_file_test: a
// forked child that writes numbered lines like a busy tmux pane, and a checker
// that finds every one of them exactly once across a log's generations.
// Tests only.
#pragma once

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

namespace aw::testing {

// Forks a child that writes "line <i>\n" for i in [0, lines) to `fd` in
// batches of 10, one batch a millisecond (about 10,000 lines a second), then
// exits 0 (3 if a write fails). Fork before starting any thread.
pid_t spawn_line_producer(int fd, int lines);

// `files` are (name, content) in the order they were written (oldest
// generation first). Expects every "line <i>", i in [0, lines), exactly once,
// in order, and every file to end with a whole line.
void expect_every_line_once_in_order(const std::vector<std::pair<std::string, std::string>>& files,
                                     int lines);

}  // namespace aw::testing
