// A synthetic worker log and pattern set for the log-matching benchmarks
// (logtail_bench, `logtail_throughput --generate`), the same on every run.
//
// The patterns are what rule authors write (fixed words, classes, counted
// repetitions, alternations, an anchor here and there) and use only syntax
// that RE2 and POSIX `grep -E` read the same way, so the bench harness can
// run `grep -E -f patterns.txt` on the very same files as the floor. About 1%
// of the lines match one pattern; the rest is the usual INFO noise.
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace aw::log_corpus {

// `count` patterns, one ERE per element.
std::vector<std::string> patterns(std::size_t count);
// `lines` log lines, each ending in '\n' (about 100 bytes a line), built
// from a fixed seed.
std::string log_text(std::size_t lines, std::size_t pattern_count);

}  // namespace aw::log_corpus
