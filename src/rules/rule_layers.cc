// Layers of rule files: a later layer replaces an earlier rule of the same name
// in place and may `disable` earlier rules; one layer may not define a name
// twice. Errors of the whole set come out sorted by file (load order), line and
// column.
#include <algorithm>
#include <cstdio>
#include <tuple>
#include <unordered_map>

#include "src/core/suggest.h"
#include "src/rules/rule_parse.h"

namespace aw::rule_parse {
namespace {

std::string location(const std::string& file, ConfigPos p) {
  return file + ":" + std::to_string(p.line) + ":" + std::to_string(p.column);
}

// FNV-1a 64: stable across runs and machines, enough to tell rule sets apart.
struct Fnv1a {
  std::uint64_t h = 0xcbf29ce484222325ull;
  void add(std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 0x100000001b3ull;
    }
    h ^= 0xff;  // separator, so ("ab","c") and ("a","bc") differ
    h *= 0x100000001b3ull;
  }
  std::string hex() const {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
    return buf;
  }
};

}  // namespace

RuleLoad load_layers(const std::vector<RuleLayer>& layers, std::vector<RuleError> errors) {
  std::vector<Rule> current;
  std::vector<std::string> files;
  Fnv1a hash;
  for (std::size_t li = 0; li < layers.size(); ++li) {
    std::vector<ParsedRule> parsed;
    std::vector<Disable> disables;
    for (const RuleFile& f : layers[li]) {
      files.push_back(f.path);
      hash.add(f.path);
      hash.add(f.text);
      parse_rule_file(f, errors, parsed, disables);
    }
    std::unordered_map<std::string, const ParsedRule*> first;
    std::vector<const ParsedRule*> added;
    for (const ParsedRule& p : parsed) {
      if (p.rule.name.empty()) continue;
      auto [it, inserted] = first.emplace(p.rule.name, &p);
      if (!inserted) {
        errors.push_back(RuleError{p.rule.file, p.name_pos.line, p.name_pos.column,
                                   "duplicate rule name '" + p.rule.name + "' (also defined at " +
                                       location(it->second->rule.file, it->second->name_pos) +
                                       "); a later layer (rules.d) may replace a rule, one layer "
                                       "may not define it twice"});
        continue;
      }
      added.push_back(&p);
    }
    for (const Disable& d : disables) {
      auto it = std::find_if(current.begin(), current.end(),
                             [&](const Rule& r) { return r.name == d.name; });
      if (it != current.end()) {
        current.erase(it);
        continue;
      }
      Keys names;
      for (const Rule& r : current) names.push_back(r.name);
      errors.push_back(RuleError{d.file, d.pos.line, d.pos.column,
                                 "cannot disable '" + d.name +
                                     "': no rule of an earlier layer has that name" +
                                     did_you_mean(d.name, names)});
    }
    for (const ParsedRule* p : added) {
      auto it = std::find_if(current.begin(), current.end(),
                             [&](const Rule& r) { return r.name == p->rule.name; });
      if (it != current.end())
        *it = p->rule;  // an override keeps the replaced rule's place
      else
        current.push_back(p->rule);
    }
  }
  if (!errors.empty()) {
    std::unordered_map<std::string, std::size_t> order;
    for (const std::string& f : files) order.emplace(f, order.size());
    std::stable_sort(errors.begin(), errors.end(), [&](const RuleError& a, const RuleError& b) {
      auto ia = order.count(a.file) ? order[a.file] : 0;
      auto ib = order.count(b.file) ? order[b.file] : 0;
      return std::tie(ia, a.line, a.column) < std::tie(ib, b.line, b.column);
    });
    return RuleLoad(std::move(errors));
  }
  return RuleLoad(RuleSet(std::move(current), std::move(files), hash.hex()));
}

}  // namespace aw::rule_parse
