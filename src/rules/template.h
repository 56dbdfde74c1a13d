// Templated strings in rule actions: "{root}/completed", "{fields.session}".
//
// A template is compiled when the rule file loads, so an unknown variable or an
// unclosed brace is a load error (with a column), never a surprise at run time.
// Rendering produces exactly one string: a template is one argv element, never
// split on spaces and never shell text.
//
// Variables (all from the Event):
//   {path} {name} {stem} {ext} {dir}    event.path and its parts: for "/r/a/x.tar.gz",
//   {dir_name}                          name "x.tar.gz", stem "x.tar", ext "gz", dir "/r/a",
//                                       dir_name "a" (a result session's name)
//   {root} {rel}                        fields.root / fields.rel (set by the directory watcher)
//   {kind} {source} {entity} {seq} {rule} {time}   {rule} is the rendering rule's own name
//   {fields.KEY} {env.NAME}             an event field; an environment variable
//   {{ and }}                           literal braces
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "src/core/event.h"
#include "src/core/result.h"

namespace aw {

// Looks up an environment variable for {env.NAME}; nullopt = unset. An empty
// std::function means "no environment": every {env.NAME} is missing.
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;

// What a template is rendered against. Borrowed: everything must outlive render().
struct TemplateContext {
  const Event& event;
  std::string_view rule;           // name of the rule being rendered, for {rule}
  const EnvLookup* env = nullptr;  // may be null: no environment
};

class Template {
 public:
  // Compiles `text`. On error the message names the problem and, when
  // `error_offset` is given, it receives the byte offset in `text` of the
  // offending brace so the loader can point at the exact column.
  static Result<Template> compile(std::string_view text, std::size_t* error_offset = nullptr);

  // A template that renders to `text` verbatim (no variables are interpreted).
  static Template literal(std::string_view text);
  // The empty template: renders to "" (an action field not yet set by the loader).
  Template() = default;

  // Appends the rendering to `out`. When a value is missing (an absent field, an
  // unset environment variable, an event without a path for {name}, ...) returns
  // false and sets `error`, e.g. "template {fields.x}: the event has no field x";
  // `out` is then unspecified.
  bool render(const TemplateContext& ctx, std::string& out, std::string& error) const;

  // The text as written in the rule file.
  const std::string& source() const { return source_; }
  // True when the template has no variables (its rendering is constant).
  bool is_literal() const;

  enum class Var : std::uint8_t {
    kLiteral,
    kPath,
    kName,
    kStem,
    kExt,
    kDir,
    kDirName,
    kRoot,
    kRel,
    kKind,
    kSource,
    kEntity,
    kSeq,
    kRule,
    kTime,
    kField,
    kEnv,
  };

 private:
  struct Piece {
    Var var;
    std::string text;  // literal text, or the field key / environment variable name
  };

  std::string source_;
  std::vector<Piece> pieces_;
};

// The variable names a template accepts (without fields.X / env.X), for messages.
const std::vector<std::string_view>& template_variable_names();

}  // namespace aw
