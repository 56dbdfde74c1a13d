// agentwatch-hook: the small program agents run as their hook (hook_client.h).
// Its own executable, linking only what a hook call needs, so that its start
// costs the agent as little as possible (docs/hooks.md, "Cost").
#include "src/hooks/hook_client.h"

int main(int argc, char** argv) {
  return aw::hook_main(argc, argv);
}
