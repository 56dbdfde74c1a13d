#include "src/cli/cli.h"

int main(int argc, char** argv) {
  return aw::run_cli(argc, argv);
}
