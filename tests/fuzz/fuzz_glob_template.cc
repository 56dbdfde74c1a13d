// Globs (src/core/glob.h) and rule templates (src/rules/template.h).
//
// Input: line 1 is a glob pattern, line 2 a text (a path or a kind), the rest
// a template.
//
// Holds beyond "no crash":
//   - a glob compiles in both modes or in neither; matching never hangs (the
//     run's -timeout) and never reads outside the pattern (ASan), and it
//     agrees with a slow, obvious reference matcher of the documented syntax;
//   - the text with every byte escaped is a glob that matches exactly it, in
//     both modes; a pattern without any special character matches only
//     itself; "*" (plain) and "**" (path) match everything; the text with each
//     byte but '/' turned into '?' matches it in path mode;
//   - a template that does not compile names the offset of a brace; one that
//     compiles renders or says which variable is missing; a literal one
//     renders to its text with "{{" and "}}" undone; any text with its braces
//     doubled is a literal template rendering to that text.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "src/core/glob.h"
#include "src/rules/template.h"
#include "tests/fuzz/fuzz_support.h"

using namespace aw;

namespace {

// The documented glob semantics (src/core/glob.h), written the obvious way: a
// memoized search over (token, text position). Slow, simple, independent.
class ReferenceGlob {
 public:
  ReferenceGlob(std::string_view p, bool path_mode) : path_(path_mode) {
    for (std::size_t i = 0; i < p.size();) {
      Token t;
      if (p[i] == '*') {
        if (path_mode && i + 1 < p.size() && p[i + 1] == '*') {
          t.kind = Token::kDoubleStar;
          i += 2;
        } else {
          t.kind = Token::kStar;
          while (i < p.size() && p[i] == '*' && !(path_mode && i + 1 < p.size() && p[i + 1] == '*'))
            ++i;
          if (!path_mode)
            while (i < p.size() && p[i] == '*') ++i;
        }
      } else if (p[i] == '?') {
        t.kind = Token::kAny;
        ++i;
      } else if (p[i] == '[') {
        t.kind = Token::kClass;
        ++i;
        if (i < p.size() && (p[i] == '!' || p[i] == '^')) t.negate = true, ++i;
        bool first = true;
        while (i < p.size() && (first || p[i] != ']')) {
          first = false;
          char lo = p[i];
          if (lo == '\\' && i + 1 < p.size()) lo = p[++i];
          char hi = lo;
          if (i + 2 < p.size() && p[i + 1] == '-' && p[i + 2] != ']') {
            i += 2;
            hi = p[i];
            if (hi == '\\' && i + 1 < p.size()) hi = p[++i];
          }
          t.ranges.emplace_back(lo, hi);
          ++i;
        }
        ++i;  // ']'
      } else {
        t.kind = Token::kLiteral;
        t.slash = p[i] == '/';
        if (p[i] == '\\') ++i;
        t.c = p[i++];
      }
      tokens_.push_back(std::move(t));
    }
  }

  bool matches(std::string_view text) {
    text_ = text;
    memo_.assign((tokens_.size() + 1) * (text.size() + 1), 0);
    return at(0, 0);
  }

 private:
  struct Token {
    enum Kind { kLiteral, kAny, kClass, kStar, kDoubleStar } kind = kLiteral;
    char c = 0;
    bool slash = false;  // an unescaped '/'
    bool negate = false;
    std::vector<std::pair<char, char>> ranges;
  };

  bool one(const Token& t, char c) const {
    if (path_ && c == '/' && t.kind != Token::kLiteral) return false;
    if (t.kind == Token::kLiteral) return c == t.c;
    if (t.kind == Token::kAny) return true;
    bool hit = false;
    for (auto [lo, hi] : t.ranges) hit = hit || (c >= lo && c <= hi);
    return hit != t.negate;
  }

  bool at(std::size_t i, std::size_t j) {
    std::uint8_t& m = memo_[i * (text_.size() + 1) + j];
    if (m) return m == 2;
    bool r = false;
    if (i == tokens_.size()) {
      r = j == text_.size();
    } else {
      const Token& t = tokens_[i];
      if (t.kind == Token::kDoubleStar) {
        // "a/**/b" also matches "a/b".
        r = i + 1 < tokens_.size() && tokens_[i + 1].slash && at(i + 2, j);
        for (std::size_t k = j; !r && k <= text_.size(); ++k) r = at(i + 1, k);
      } else if (t.kind == Token::kStar) {
        for (std::size_t k = j; !r && k <= text_.size(); ++k) {
          r = at(i + 1, k);
          if (k < text_.size() && path_ && text_[k] == '/') break;
        }
      } else {
        r = j < text_.size() && one(t, text_[j]) && at(i + 1, j + 1);
      }
    }
    m = r ? 2 : 1;
    return r;
  }

  bool path_;
  std::vector<Token> tokens_;
  std::string_view text_;
  std::vector<std::uint8_t> memo_;
};

void check_glob(std::string_view pattern, std::string_view text) {
  auto plain = Glob::compile(pattern, GlobMode::kPlain);
  auto path = Glob::compile(pattern, GlobMode::kPath);
  FUZZ_CHECK(plain.ok() == path.ok());
  if (plain) {
    const bool plain_hit = plain->matches(text);
    const bool path_hit = path->matches(text);
    if (pattern.size() <= 256 && text.size() <= 256) {
      FUZZ_CHECK(plain_hit == ReferenceGlob(pattern, false).matches(text));
      FUZZ_CHECK(path_hit == ReferenceGlob(pattern, true).matches(text));
    }
    if (pattern.find_first_of("*?[\\") == std::string_view::npos)
      FUZZ_CHECK(plain_hit == (pattern == text));
  }

  std::string escaped, questions;
  for (char c : text) {
    escaped.push_back('\\');
    escaped.push_back(c);
    questions.push_back(c == '/' ? '/' : '?');
  }
  for (GlobMode mode : {GlobMode::kPlain, GlobMode::kPath}) {
    auto exact = Glob::compile(escaped, mode);
    FUZZ_CHECK(exact.ok());
    FUZZ_CHECK(exact->matches(text));
    std::string longer(text);
    longer.push_back('x');
    FUZZ_CHECK(!exact->matches(longer));
    FUZZ_CHECK(!exact->matches(text.substr(0, text.size() / 2)) || text.empty());
  }
  FUZZ_CHECK(Glob::compile("*", GlobMode::kPlain)->matches(text));
  FUZZ_CHECK(Glob::compile("**", GlobMode::kPath)->matches(text));
  FUZZ_CHECK(Glob::compile(questions, GlobMode::kPath)->matches(text));
}

void check_template(std::string_view source, std::string_view path) {
  std::size_t offset = std::string_view::npos;
  auto t = Template::compile(source, &offset);
  Event e;
  e.kind = "file.landed";
  e.source = "inotify";
  e.seq = 7;
  e.path = std::string(path);
  e.entity = "w1";
  e.fields.set("root", "/w");
  e.fields.set("rel", "a/b.json");
  e.fields.set("n", FieldValue(std::int64_t{-3}));
  e.fields.set("x", FieldValue(2.5));
  const EnvLookup env = [](std::string_view name) -> std::optional<std::string> {
    if (name.starts_with("UNSET")) return std::nullopt;
    return "env:" + std::string(name);
  };
  if (!t) {
    FUZZ_CHECK(offset < source.size());
    FUZZ_CHECK(source[offset] == '{' || source[offset] == '}');
    FUZZ_CHECK(!t.error().message.empty());
  } else {
    FUZZ_CHECK(t->source() == source);
    std::string out, error;
    const bool rendered = t->render(TemplateContext{e, "r1", &env}, out, error);
    if (!rendered) FUZZ_CHECK(error.starts_with("template {"));
    if (t->is_literal()) {
      FUZZ_CHECK(rendered);
      std::string undone;
      for (std::size_t i = 0; i < source.size(); ++i) {
        undone.push_back(source[i]);
        if ((source[i] == '{' || source[i] == '}') && i + 1 < source.size() &&
            source[i + 1] == source[i])
          ++i;
      }
      FUZZ_CHECK(out == undone);
    }
  }

  std::string doubled;
  for (char c : source) {
    doubled.push_back(c);
    if (c == '{' || c == '}') doubled.push_back(c);
  }
  auto literal = Template::compile(doubled);
  FUZZ_CHECK(literal.ok());
  FUZZ_CHECK(literal->is_literal());
  std::string out, error;
  FUZZ_CHECK(literal->render(TemplateContext{e, "r1", nullptr}, out, error));
  FUZZ_CHECK(out == source);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto parts = fuzz::split_lines(fuzz::as_text(data, size), 3);
  check_glob(parts[0], parts[1]);
  check_template(parts[2], parts[1]);
  return 0;
}
