#include "src/os/environ.h"

#include <cstdlib>

namespace aw {

std::optional<std::string> env_var(std::string_view name) {
  const char* v = std::getenv(std::string(name).c_str());
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

std::string env_or(std::string_view name, std::string_view fallback) {
  auto v = env_var(name);
  return v && !v->empty() ? *v : std::string(fallback);
}

}  // namespace aw
