#include "src/agents/agent_patterns.h"

#include <re2/re2.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "src/agents/reset_time.h"
#include "src/agents/terminal_escapes.h"
#include "src/core/suggest.h"

namespace aw::agents {
namespace {

const KeyList kPatternKeys{"agent", "name", "status", "reason", "regex", "pct_below"};
const KeyList kTopKeys{"agent_pattern"};
const KeyList kCaptureNames{"reset", "pct"};
constexpr std::size_t kSaidRowLimit = 200;

bool valid_agent_name(std::string_view s) {
  auto ok = [](char c, bool first) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (!first && (c == '_' || c == '-'));
  };
  if (s.empty() || s.size() > 64 || !ok(s[0], true)) return false;
  return std::all_of(s.begin() + 1, s.end(), [&](char c) { return ok(c, false); });
}

bool valid_pattern_suffix(std::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
  });
}

// Reads one [[agent_pattern]] table; nullopt when it had a mistake.
class PatternReader {
 public:
  PatternReader(const toml::table& t, TomlReader& p, const std::string& file)
      : t_(t), p_(p), errors_before_(p.error_count()) {
    pattern_.file = file;
    pattern_.line = TomlReader::pos(t).line;
  }

  std::optional<AgentPattern> read() {
    p_.check_keys(t_, kPatternKeys, "in [[agent_pattern]]");
    read_agent();
    read_name();
    const bool have_state = read_status();
    if (have_state) read_reason();
    if (have_state) read_pct_below();
    if (have_state) read_regex();
    if (p_.error_count() != errors_before_) return std::nullopt;
    return pattern_;
  }

 private:
  std::string which() const {
    return pattern_.name.empty() ? "[[agent_pattern]]"
                                 : "[[agent_pattern]] '" + pattern_.name + "'";
  }

  const toml::node* required(std::string_view key, std::string_view what) {
    const toml::node* n = t_.get(key);
    if (!n) p_.error(t_, which() + " needs " + std::string(what));
    return n;
  }

  void read_agent() {
    const toml::node* n = required("agent", "an 'agent' (e.g. \"claude\")");
    if (!n) return;
    auto s = p_.get_string(*n, "agent");
    if (!s) return;
    if (!valid_agent_name(*s))
      return p_.error(*n,
                      "'agent': expected lowercase letters, digits, '_' or '-', starting with a "
                      "letter or digit, not " +
                          aw::quoted(*s));
    pattern_.agent = *s;
  }

  void read_name() {
    const toml::node* n = required("name", "a 'name' (e.g. \"claude.permission\")");
    if (!n) return;
    auto s = p_.get_string(*n, "name");
    if (!s) return;
    const std::string prefix = pattern_.agent + ".";
    if (!pattern_.agent.empty() &&
        (!s->starts_with(prefix) || !valid_pattern_suffix(s->substr(prefix.size()))))
      return p_.error(*n, "'name': expected \"" + prefix +
                              "...\" (the agent, a dot, then lowercase letters, digits, '_', "
                              "'.' or '-'), not " +
                              aw::quoted(*s));
    pattern_.name = *s;
  }

  bool read_status() {
    const toml::node* n = required("status", "a 'status' (" + join_keys(all_state_names()) + ")");
    if (!n) return false;
    auto i = p_.get_choice(*n, "status", all_state_names());
    if (!i) return false;
    pattern_.state = static_cast<AgentState>(*i);
    return true;
  }

  void read_reason() {
    const toml::node* n = t_.get("reason");
    if (pattern_.state != AgentState::kWaiting) {
      if (n)
        p_.error(*n, "'reason' is for status \"waiting\" only, not " +
                         aw::quoted(state_name(pattern_.state)));
      return;
    }
    if (!n)
      return p_.error(t_, which() + " has status \"waiting\": it needs a 'reason' (" +
                              join_keys(all_wait_reason_names()) + ")");
    if (auto i = p_.get_choice(*n, "reason", all_wait_reason_names()))
      pattern_.reason = static_cast<WaitReason>(*i);
  }

  void read_pct_below() {
    const toml::node* n = t_.get("pct_below");
    if (!n) return;
    if (pattern_.state != AgentState::kContextLow)
      return p_.error(*n, "'pct_below' is for status \"context_low\" only, not " +
                              aw::quoted(state_name(pattern_.state)));
    if (auto v = p_.get_int(*n, "pct_below", 1, 100, "an integer from 1 to 100"))
      pattern_.pct_below = static_cast<int>(*v);
  }

  void read_regex() {
    const toml::node* n = required("regex", "a 'regex' (RE2 syntax)");
    if (!n) return;
    auto s = p_.get_string(*n, "regex");
    if (!s) return;
    if (s->empty()) return p_.error(*n, "'regex' is empty: it would match every line");
    RE2::Options options;
    options.set_log_errors(false);
    const RE2 re(*s, options);
    if (!re.ok()) {
      const std::size_t at = s->find(re.error_arg());
      const ConfigPos pos = at == std::string::npos || re.error_arg().empty()
                                ? TomlReader::pos(*n)
                                : p_.pos_in_string(*n, at);
      return p_.error(pos, "'regex' of " + which() + " does not compile: " + re.error());
    }
    bool has_pct = false;
    for (const auto& [group, index] : re.NamedCapturingGroups()) {
      (void)index;
      if (group == "pct") {
        has_pct = true;
        if (pattern_.state != AgentState::kContextLow)
          p_.error(*n, "'regex': capture group 'pct' is for status \"context_low\" only");
      } else if (group == "reset") {
        if (pattern_.state != AgentState::kRateLimited)
          p_.error(*n, "'regex': capture group 'reset' is for status \"rate_limited\" only");
      } else {
        p_.error(*n, "'regex': unknown capture group '" + group + "'" +
                         did_you_mean(group, kCaptureNames) + " (expected reset or pct)");
      }
    }
    if (pattern_.state == AgentState::kContextLow && !has_pct)
      p_.error(*n, "'regex' of " + which() +
                       " has status \"context_low\": it needs a (?P<pct>...) group, the "
                       "percentage left");
    pattern_.regex = *s;
  }

  const toml::table& t_;
  TomlReader& p_;
  std::size_t errors_before_;
  AgentPattern pattern_;
};

std::string cut(std::string_view s, std::size_t limit) {
  if (s.size() <= limit) return std::string(s);
  std::size_t n = limit;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;  // whole code points
  return std::string(s.substr(0, n)) + "…";
}

std::optional<int> to_pct(std::string_view s) {
  int v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < 0 || v > 100) return std::nullopt;
  return v;
}

}  // namespace

void read_agent_patterns(const AgentPatternFile& file, std::vector<AgentPattern>& out,
                         std::vector<ConfigError>& errors) {
  TomlReader p(file.name, file.text, errors);
  std::optional<toml::table> root = p.parse();
  if (!root) return;
  p.check_keys(*root, kTopKeys, "at the top of an agent pattern file",
               " (a pattern file holds [[agent_pattern]] tables only)");
  const toml::node* n = root->get("agent_pattern");
  if (!n) return;
  const toml::array* arr = p.get_array_of_tables(*n, "agent_pattern", "[[agent_pattern]] tables");
  if (!arr) return;
  for (const toml::node& e : *arr)
    if (auto pattern = PatternReader(*e.as_table(), p, file.name).read())
      out.push_back(std::move(*pattern));
}

struct PaneClassifier::AgentSet {
  PatternSet set;
  std::vector<const AgentPattern*> patterns;  // by index in `set`
};

PaneClassifier::PaneClassifier() = default;
PaneClassifier::PaneClassifier(PaneClassifier&&) noexcept = default;
PaneClassifier& PaneClassifier::operator=(PaneClassifier&&) noexcept = default;
PaneClassifier::~PaneClassifier() = default;

Result<PaneClassifier> PaneClassifier::load(const std::vector<AgentPatternFile>& files) {
  std::vector<AgentPattern> patterns;
  std::vector<ConfigError> errors;
  for (const AgentPatternFile& f : files) {
    const std::size_t first = patterns.size();
    read_agent_patterns(f, patterns, errors);
    // A name given twice: the error at the second, naming the first.
    for (std::size_t i = first; i < patterns.size(); ++i) {
      for (std::size_t j = 0; j < i; ++j) {
        if (patterns[j].name != patterns[i].name) continue;
        errors.push_back(ConfigError{f.name, patterns[i].line, 1,
                                     "[[agent_pattern]] '" + patterns[i].name +
                                         "' is defined twice (first at " + patterns[j].file + ":" +
                                         std::to_string(patterns[j].line) + ")"});
        break;
      }
    }
  }
  if (!errors.empty()) return make_error(config_errors_text(errors));
  return compile(std::move(patterns));
}

Result<PaneClassifier> PaneClassifier::compile(std::vector<AgentPattern> patterns) {
  PaneClassifier c;
  c.patterns_ = std::move(patterns);
  std::map<std::string, std::vector<const AgentPattern*>, std::less<>> by_agent;
  for (const AgentPattern& p : c.patterns_) by_agent[p.agent].push_back(&p);
  for (auto& [agent, list] : by_agent) {
    std::vector<PatternSpec> specs;
    specs.reserve(list.size());
    for (const AgentPattern* p : list)
      specs.push_back(PatternSpec{
          p->file + ":" + std::to_string(p->line) + ": pattern '" + p->name + "'", p->regex});
    PatternSet::Options options;
    options.block_prefilter = true;
    Result<PatternSet> set = PatternSet::compile(specs, "agent '" + agent + "' patterns", options);
    if (!set.ok()) return set.error();
    c.sets_.emplace(agent, std::make_unique<AgentSet>(AgentSet{std::move(*set), list}));
  }
  return c;
}

std::vector<std::string> PaneClassifier::agents() const {
  std::vector<std::string> out;
  for (const auto& [agent, set] : sets_) out.push_back(agent);
  return out;
}

bool PaneClassifier::knows(std::string_view agent) const {
  return sets_.find(agent) != sets_.end();
}

std::optional<PaneReading> PaneClassifier::read(std::string_view agent, std::string_view raw_line,
                                                WallTime now, ZoneLookup& zones) const {
  const auto it = sets_.find(agent);
  if (it == sets_.end()) return std::nullopt;
  const AgentSet& a = *it->second;

  std::string block;
  strip_terminal_escapes(raw_line, block);
  // Candidate (pattern, row) pairs; the earliest pattern that gives a reading wins.
  struct Hit {
    int pattern;
    std::string_view row;
  };
  std::vector<Hit> hits;
  std::vector<int> matched;
  for (std::size_t pos = a.set.next_candidate(block, 0); pos < block.size();) {
    const std::size_t end = block.find('\n', pos);
    const std::string_view row(block.data() + pos, end - pos);
    if (a.set.match(row, matched))
      for (int m : matched) hits.push_back(Hit{m, row});
    pos = a.set.next_candidate(block, end + 1);
  }
  std::stable_sort(hits.begin(), hits.end(),
                   [](const Hit& x, const Hit& y) { return x.pattern < y.pattern; });

  for (const Hit& h : hits) {
    const AgentPattern& p = *a.patterns[static_cast<std::size_t>(h.pattern)];
    std::optional<std::string_view> reset, pct;
    if (a.set.has_captures(h.pattern))
      a.set.captures(h.pattern, h.row, [&](const std::string& name, std::string_view value) {
        if (name == "reset") reset = value;
        if (name == "pct") pct = value;
      });
    std::optional<AgentStatus> status;
    switch (p.state) {
      case AgentState::kStarting:
        status = AgentStatus::starting();
        break;
      case AgentState::kWorking:
        status = AgentStatus::working();
        break;
      case AgentState::kIdle:
        status = AgentStatus::idle();
        break;
      case AgentState::kWaiting:
        status = AgentStatus::waiting(*p.reason);
        break;
      case AgentState::kRateLimited:
        status =
            AgentStatus::rate_limited(reset ? parse_reset_time(*reset, now, zones) : std::nullopt);
        break;
      case AgentState::kContextLow: {
        const std::optional<int> v = pct ? to_pct(*pct) : std::nullopt;
        if (v && (!p.pct_below || *v < *p.pct_below)) status = AgentStatus::context_low(*v);
        break;
      }
      case AgentState::kErrored:
        status = AgentStatus::errored();
        break;
      case AgentState::kExited:
        status = AgentStatus::exited();
        break;
    }
    if (status) return PaneReading{*status, &p, std::string(h.row)};
  }
  return std::nullopt;
}

std::optional<Observation> PaneClassifier::classify(std::string_view agent,
                                                    std::string_view raw_line, MonoTime at,
                                                    WallTime now, ZoneLookup& zones) const {
  std::optional<PaneReading> r = read(agent, raw_line, now, zones);
  if (!r) return std::nullopt;
  Observation o;
  o.source = Source::kPane;
  o.status = r->status;
  o.at = at;
  o.said = "pane: pattern " + r->pattern->name + " '" + cut(r->row, kSaidRowLimit) + "'";
  return o;
}

Result<PaneClassifier> load_agent_pattern_dir(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<std::string> names;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.starts_with(".") || !name.ends_with(".toml")) continue;
    names.push_back(name);
  }
  if (ec) return make_error(dir + ": " + ec.message());
  std::sort(names.begin(), names.end());
  std::vector<AgentPatternFile> files;
  for (const std::string& name : names) {
    const std::string path = dir + "/" + name;
    if (fs::file_size(path, ec) > (1u << 20) || ec)
      return make_error(path + ": " + (ec ? ec.message() : "larger than 1 MiB"));
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    if (!in) return make_error(path + ": cannot read");
    files.push_back(AgentPatternFile{path, text.str()});
  }
  return PaneClassifier::load(files);
}

}  // namespace aw::agents
