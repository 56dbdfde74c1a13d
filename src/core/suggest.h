// "Did you mean ...?" for rule files: the closest known word to a misspelt one.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace aw {

// Levenshtein edit distance (insert, delete, substitute; each costs 1).
std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `word`, or "" when none is close enough to be a
// plausible typo: at most 2 edits, or 3 for words of 7 characters or more.
// Ties go to the earlier candidate, so list the likeliest words first.
std::string closest_word(std::string_view word, const std::vector<std::string_view>& candidates);

// "; did you mean 'x'?" or "" — ready to append to a message.
std::string did_you_mean(std::string_view word, const std::vector<std::string_view>& candidates);

}  // namespace aw
