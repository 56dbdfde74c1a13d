#include "src/core/suggest.h"

#include <algorithm>

namespace aw {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  // One row of the DP table is enough.
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t above = row[j];
      std::size_t substitute = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
      row[j] = std::min({above + 1, row[j - 1] + 1, substitute});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string closest_word(std::string_view word, const std::vector<std::string_view>& candidates) {
  const std::size_t limit = word.size() >= 7 ? 3 : 2;
  std::string_view best;
  std::size_t best_distance = limit + 1;
  for (std::string_view c : candidates) {
    std::size_t d = edit_distance(word, c);
    // A distance equal to the candidate's length means "nothing in common".
    if (d < best_distance && d < std::max(c.size(), word.size())) {
      best = c;
      best_distance = d;
    }
  }
  return std::string(best);
}

std::string did_you_mean(std::string_view word, const std::vector<std::string_view>& candidates) {
  std::string best = closest_word(word, candidates);
  if (best.empty()) return "";
  return "; did you mean '" + best + "'?";
}

}  // namespace aw
