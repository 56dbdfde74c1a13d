// json_validate FILE ROUNDS: reads FILE into memory once, then runs
// check_json (src/json/json_check.h) over it ROUNDS times and prints
// "bytes=N best_ns=T median_ns=M valid=0|1": the daemon's validation of a
// result, without the read, beside which `./dev bench` times `jq empty` and
// `python3 -m json.tool` on the same file (whose times include their reads).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "src/json/json_check.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: json_validate FILE ROUNDS\n");
    return 2;
  }
  std::ifstream in(argv[1], std::ios::binary);
  std::ostringstream buf;
  buf << in.rdbuf();
  const std::string text = std::move(buf).str();
  const int rounds = std::max(1, std::atoi(argv[2]));
  std::vector<long long> ns;
  bool valid = false;
  for (int r = 0; r < rounds; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    valid = !aw::check_json(text).has_value();
    const auto t1 = std::chrono::steady_clock::now();
    ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
  }
  std::sort(ns.begin(), ns.end());
  std::printf("bytes=%zu best_ns=%lld median_ns=%lld valid=%d\n", text.size(), ns.front(),
              ns[ns.size() / 2], valid ? 1 : 0);
  return valid ? 0 : 1;
}
