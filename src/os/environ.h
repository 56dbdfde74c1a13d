// The process environment, read in one place (getenv is not to be scattered:
// what the daemon reads from its environment should be greppable).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace aw {

// The variable's value; nullopt when unset. An empty value is a value.
std::optional<std::string> env_var(std::string_view name);

// The variable's value when set and non-empty; `fallback` otherwise.
std::string env_or(std::string_view name, std::string_view fallback);

}  // namespace aw
