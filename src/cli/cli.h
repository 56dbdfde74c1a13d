// The `agentwatch` command line: parses argv with CLI11 and dispatches to the
// subcommands. Returns the process exit code (0 ok, 1 a problem found, 2 usage).
#pragma once

namespace aw {

int run_cli(int argc, char** argv);

}  // namespace aw
