#include "src/rules/rule_files.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace aw {
namespace {

constexpr std::size_t kMaxRuleFileBytes = 1 << 20;

bool read_file(const std::string& path, std::string& out, std::string& why) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    why = std::strerror(errno);
    return false;
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) {
    why = "read error";
    return false;
  }
  out = std::move(buf).str();
  if (out.size() > kMaxRuleFileBytes) {
    why = "larger than 1 MiB; is this really a rule file?";
    return false;
  }
  return true;
}

}  // namespace

RuleLayer read_rule_layer(const RuleLayerPaths& layer, std::vector<RuleError>& errors) {
  namespace fs = std::filesystem;
  RuleLayer out;
  auto add_file = [&](const std::string& path) {
    RuleFile f{path, {}};
    std::string why;
    if (read_file(path, f.text, why))
      out.push_back(std::move(f));
    else
      errors.push_back(RuleError{path, 0, 0, "cannot read rule file: " + why});
  };
  for (const std::string& path : layer.paths) {
    std::error_code ec;
    fs::file_status st = fs::status(path, ec);
    if (ec || !fs::exists(st)) {
      if (layer.skip_missing && (!ec || ec == std::errc::no_such_file_or_directory)) continue;
      errors.push_back(RuleError{
          path, 0, 0,
          "cannot read: " + (ec ? ec.message() : std::string("No such file or directory"))});
      continue;
    }
    if (fs::is_directory(st)) {
      std::vector<std::string> names;
      fs::directory_iterator it(path, ec), end;
      for (; !ec && it != end; it.increment(ec)) {
        std::string name = it->path().filename().string();
        if (name.starts_with(".") || !name.ends_with(".toml")) continue;
        std::error_code ec2;
        if (!fs::is_regular_file(it->path(), ec2)) continue;  // follows symlinks
        names.push_back(name);
      }
      if (ec) {
        errors.push_back(RuleError{path, 0, 0, "cannot list rule directory: " + ec.message()});
        continue;
      }
      std::sort(names.begin(), names.end());
      for (const std::string& name : names) add_file((fs::path(path) / name).string());
    } else if (fs::is_regular_file(st)) {
      add_file(path);
    } else {
      errors.push_back(RuleError{path, 0, 0, "not a rule file or a directory of them"});
    }
  }
  return out;
}

RuleLoad load_rules_from_paths(const std::vector<RuleLayerPaths>& layers) {
  std::vector<RuleError> errors;
  std::vector<RuleLayer> read;
  read.reserve(layers.size());
  for (const RuleLayerPaths& l : layers) read.push_back(read_rule_layer(l, errors));
  return load_rules(read, std::move(errors));
}

}  // namespace aw
