#include "src/rules/template.h"

#include <array>
#include <utility>

#include "src/core/suggest.h"
#include "src/rules/path_parts.h"

namespace aw {
namespace {

struct NamedVar {
  std::string_view name;
  Template::Var var;
};

constexpr std::array<NamedVar, 14> kSimpleVars = {{
    {"path", Template::Var::kPath},
    {"name", Template::Var::kName},
    {"stem", Template::Var::kStem},
    {"ext", Template::Var::kExt},
    {"dir", Template::Var::kDir},
    {"dir_name", Template::Var::kDirName},
    {"root", Template::Var::kRoot},
    {"rel", Template::Var::kRel},
    {"kind", Template::Var::kKind},
    {"source", Template::Var::kSource},
    {"entity", Template::Var::kEntity},
    {"seq", Template::Var::kSeq},
    {"rule", Template::Var::kRule},
    {"time", Template::Var::kTime},
}};

bool is_field_key(std::string_view key) {
  if (key.empty()) return false;
  for (char c : key) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

bool is_env_name(std::string_view name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  for (char c : name) {
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}

std::string known_list() {
  std::string s;
  for (const auto& v : kSimpleVars) {
    s += v.name;
    s += ", ";
  }
  return s + "fields.KEY, env.NAME";
}

// Explains why `name` is not a variable, with a suggestion when one is close.
std::string unknown_variable_message(std::string_view name) {
  std::string msg = "unknown template variable {" + std::string(name) + "}";
  std::size_t dot = name.find('.');
  std::string best;
  if (dot != std::string_view::npos) {
    std::string_view prefix = name.substr(0, dot);
    std::string_view rest = name.substr(dot + 1);
    std::string p = closest_word(prefix, {"fields", "env"});
    if (!p.empty()) {
      if (p == "env" && !is_env_name(rest))
        return "{env." + std::string(rest) +
               "}: an environment variable name is letters, digits and '_' only";
      if (p == "fields" && !is_field_key(rest))
        return "{fields." + std::string(rest) +
               "}: a field key is letters, digits, '_', '-' and '.' only";
      best = p + "." + std::string(rest);
    }
  } else {
    std::vector<std::string_view> names;
    names.reserve(kSimpleVars.size());
    for (const auto& v : kSimpleVars) names.push_back(v.name);
    best = closest_word(name, names);
  }
  if (!best.empty()) msg += "; did you mean {" + best + "}?";
  return msg + " (known: " + known_list() + ")";
}

bool missing(std::string& error, std::string_view var, std::string_view why) {
  error = "template {";
  error += var;
  error += "}: ";
  error += why;
  return false;
}

}  // namespace

const std::vector<std::string_view>& template_variable_names() {
  static const std::vector<std::string_view> names = [] {
    std::vector<std::string_view> v;
    v.reserve(kSimpleVars.size());
    for (const auto& n : kSimpleVars) v.push_back(n.name);
    return v;
  }();
  return names;
}

Result<Template> Template::compile(std::string_view text, std::size_t* error_offset) {
  Template t;
  t.source_ = std::string(text);
  std::string literal;
  auto flush = [&] {
    if (!literal.empty()) t.pieces_.push_back(Piece{Var::kLiteral, std::move(literal)});
    literal.clear();
  };
  auto fail = [&](std::size_t at, std::string message) -> Result<Template> {
    if (error_offset) *error_offset = at;
    return make_error(std::move(message));
  };
  std::size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (c == '{') {
      if (i + 1 < text.size() && text[i + 1] == '{') {
        literal.push_back('{');
        i += 2;
        continue;
      }
      std::size_t close = text.find_first_of("{}", i + 1);
      if (close == std::string_view::npos || text[close] != '}')
        return fail(i, "unclosed '{' in template \"" + std::string(text) +
                           "\" (write '{{' for a literal brace)");
      std::string_view name = text.substr(i + 1, close - i - 1);
      Piece piece{Var::kLiteral, {}};
      for (const auto& v : kSimpleVars)
        if (v.name == name) piece.var = v.var;
      if (piece.var == Var::kLiteral) {
        if (name.starts_with("fields.") && is_field_key(name.substr(7))) {
          piece = Piece{Var::kField, std::string(name.substr(7))};
        } else if (name.starts_with("env.") && is_env_name(name.substr(4))) {
          piece = Piece{Var::kEnv, std::string(name.substr(4))};
        } else if (name.empty()) {
          return fail(i, "empty template variable {} (write '{{' for a literal brace)");
        } else {
          return fail(i, unknown_variable_message(name));
        }
      }
      flush();
      t.pieces_.push_back(std::move(piece));
      i = close + 1;
    } else if (c == '}') {
      if (i + 1 < text.size() && text[i + 1] == '}') {
        literal.push_back('}');
        i += 2;
        continue;
      }
      return fail(i, "unmatched '}' in template \"" + std::string(text) +
                         "\" (write '}}' for a literal brace)");
    } else {
      literal.push_back(c);
      ++i;
    }
  }
  flush();
  return t;
}

Template Template::literal(std::string_view text) {
  Template t;
  t.source_ = std::string(text);
  if (!text.empty()) t.pieces_.push_back(Piece{Var::kLiteral, std::string(text)});
  return t;
}

bool Template::is_literal() const {
  for (const auto& p : pieces_)
    if (p.var != Var::kLiteral) return false;
  return true;
}

bool Template::render(const TemplateContext& ctx, std::string& out, std::string& error) const {
  const Event& e = ctx.event;
  for (const Piece& p : pieces_) {
    switch (p.var) {
      case Var::kLiteral:
        out += p.text;
        break;
      case Var::kPath:
        if (e.path.empty()) return missing(error, "path", "the event has no path");
        out += e.path;
        break;
      case Var::kName:
      case Var::kStem:
      case Var::kExt: {
        static constexpr std::string_view kNames[] = {"name", "stem", "ext"};
        std::string_view var = kNames[p.var == Var::kName ? 0 : p.var == Var::kStem ? 1 : 2];
        if (e.path.empty()) return missing(error, var, "the event has no path");
        std::string_view name = path_basename(e.path);
        if (name.empty()) return missing(error, var, "the event's path has no file name");
        out += p.var == Var::kName ? name : p.var == Var::kStem ? name_stem(name) : name_ext(name);
        break;
      }
      case Var::kDir:
        if (e.path.empty()) return missing(error, "dir", "the event has no path");
        out += path_dirname(e.path);
        break;
      case Var::kDirName: {
        if (e.path.empty()) return missing(error, "dir_name", "the event has no path");
        std::string_view dir_name = path_basename(path_dirname(e.path));
        if (dir_name.empty() || dir_name == ".")
          return missing(error, "dir_name", "the event's file is not in a named directory");
        out += dir_name;
        break;
      }
      case Var::kRoot: {
        const FieldValue* v = e.fields.find("root");
        if (!v)
          return missing(error, "root",
                         "the event has no field root (set by the directory watcher)");
        std::string s = field_to_string(*v);
        if (s.empty()) return missing(error, "root", "the event's field root is empty");
        out += s;
        break;
      }
      case Var::kRel: {
        const FieldValue* v = e.fields.find("rel");
        if (!v)
          return missing(error, "rel", "the event has no field rel (set by the directory watcher)");
        out += field_to_string(*v);
        break;
      }
      case Var::kKind:
        if (e.kind.empty()) return missing(error, "kind", "the event has no kind");
        out += e.kind;
        break;
      case Var::kSource:
        if (e.source.empty()) return missing(error, "source", "the event has no source");
        out += e.source;
        break;
      case Var::kEntity:
        if (e.entity.empty()) return missing(error, "entity", "the event has no entity");
        out += e.entity;
        break;
      case Var::kSeq:
        out += std::to_string(e.seq);
        break;
      case Var::kRule:
        out += ctx.rule;
        break;
      case Var::kTime:
        out += format_time_utc(e.time);
        break;
      case Var::kField: {
        const FieldValue* v = e.fields.find(p.text);
        if (!v) return missing(error, "fields." + p.text, "the event has no field " + p.text);
        out += field_to_string(*v);
        break;
      }
      case Var::kEnv: {
        std::optional<std::string> v;
        if (ctx.env && *ctx.env) v = (*ctx.env)(p.text);
        if (!v)
          return missing(error, "env." + p.text, "environment variable " + p.text + " is not set");
        out += *v;
        break;
      }
    }
  }
  return true;
}

}  // namespace aw
