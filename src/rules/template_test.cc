#include "src/rules/template.h"

#include <gtest/gtest.h>

#include <map>

namespace aw {
namespace {

Event sample_event() {
  Event e;
  e.kind = "file.landed";
  e.source = "inotify";
  e.time = WallTime(std::chrono::milliseconds(1'700'000'000'123));
  e.seq = 42;
  e.path = "/srv/work/results/w1 final.tar.gz";
  e.entity = "w1";
  e.fields.set("root", "/srv/work");
  e.fields.set("rel", "results/w1 final.tar.gz");
  e.fields.set("size", FieldValue(std::int64_t{1234}));
  e.fields.set("via", "close_write");
  return e;
}

// Compiles and renders; returns "ERROR: <message>" when rendering fails.
std::string render(std::string_view text, const Event& e, const EnvLookup* env = nullptr) {
  Result<Template> t = Template::compile(text);
  EXPECT_TRUE(t.ok()) << (t.ok() ? "" : t.error().message);
  if (!t.ok()) return "COMPILE ERROR";
  std::string out, error;
  if (!t->render(TemplateContext{e, "my-rule", env}, out, error)) return "ERROR: " + error;
  return out;
}

std::string compile_error(std::string_view text, std::size_t* offset = nullptr) {
  Result<Template> t = Template::compile(text, offset);
  EXPECT_FALSE(t.ok()) << text;
  return t.ok() ? "" : t.error().message;
}

TEST(Template, EveryVariable) {
  Event e = sample_event();
  EnvLookup env = [](std::string_view name) -> std::optional<std::string> {
    if (name == "HOME") return "/home/u";
    return std::nullopt;
  };
  EXPECT_EQ(render("{path}", e), "/srv/work/results/w1 final.tar.gz");
  EXPECT_EQ(render("{name}", e), "w1 final.tar.gz");
  EXPECT_EQ(render("{stem}", e), "w1 final.tar");
  EXPECT_EQ(render("{ext}", e), "gz");
  EXPECT_EQ(render("{dir}", e), "/srv/work/results");
  EXPECT_EQ(render("{dir_name}", e), "results");
  EXPECT_EQ(render("{root}", e), "/srv/work");
  EXPECT_EQ(render("{rel}", e), "results/w1 final.tar.gz");
  EXPECT_EQ(render("{kind}", e), "file.landed");
  EXPECT_EQ(render("{source}", e), "inotify");
  EXPECT_EQ(render("{entity}", e), "w1");
  EXPECT_EQ(render("{seq}", e), "42");
  EXPECT_EQ(render("{rule}", e), "my-rule");
  EXPECT_EQ(render("{time}", e), "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(render("{fields.size}", e), "1234");
  EXPECT_EQ(render("{fields.via}", e), "close_write");
  EXPECT_EQ(render("{env.HOME}", e, &env), "/home/u");
}

TEST(Template, MixesLiteralsAndVariables) {
  Event e = sample_event();
  EXPECT_EQ(render("{root}/completed/{stem}.done", e), "/srv/work/completed/w1 final.tar.done");
  EXPECT_EQ(render("plain text", e), "plain text");
  EXPECT_EQ(render("", e), "");
}

TEST(Template, DoubledBracesAreLiteral) {
  Event e = sample_event();
  EXPECT_EQ(render("{{path}}", e), "{path}");
  EXPECT_EQ(render("a}}b{{c", e), "a}b{c");
  EXPECT_EQ(render("{{{entity}}}", e), "{w1}");
}

TEST(Template, ExtAndStemOfNamesWithoutExtension) {
  Event e = sample_event();
  e.path = "/r/README";
  EXPECT_EQ(render("[{stem}][{ext}]", e), "[README][]");
  e.path = "/r/.bashrc";
  EXPECT_EQ(render("[{stem}][{ext}]", e), "[.bashrc][]");
  e.path = "relative.json";
  EXPECT_EQ(render("{dir}|{name}", e), ".|relative.json");
  e.path = "/top";
  EXPECT_EQ(render("{dir}|{name}", e), "/|top");
}

TEST(Template, DirNameIsTheHoldingDirectorysOwnName) {
  Event e = sample_event();
  e.path = "/srv/results/temp/s-17/a1.json";
  EXPECT_EQ(render("{root}/quarantine/{dir_name}", e), "/srv/work/quarantine/s-17");
  Template t = Template::compile("{dir_name}").value();
  TemplateContext ctx{e, "r"};
  for (const char* path : {"/top", "relative.json", ""}) {
    e.path = path;
    std::string out, error;
    EXPECT_FALSE(t.render(ctx, out, error)) << path;
    EXPECT_EQ(error.rfind("template {dir_name}: ", 0), 0u) << error;
  }
}

TEST(Template, SpecialCharactersStayOneElement) {
  Event e = sample_event();
  e.entity = "w1; rm -rf / $(reboot) `x` 'q' \"d\" \n*";
  e.fields.set("msg", "a b\tc");
  EXPECT_EQ(render("{entity}", e), e.entity);
  EXPECT_EQ(render("--msg={fields.msg}", e), "--msg=a b\tc");
}

TEST(Template, UnknownVariableIsACompileErrorWithSuggestion) {
  std::size_t offset = 99;
  std::string msg = compile_error("x/{pth}", &offset);
  EXPECT_EQ(offset, 2u);
  EXPECT_NE(msg.find("unknown template variable {pth}; did you mean {path}?"), std::string::npos)
      << msg;
  EXPECT_NE(msg.find("known: path, name"), std::string::npos) << msg;
  msg = compile_error("{feilds.size}");
  EXPECT_NE(msg.find("did you mean {fields.size}?"), std::string::npos) << msg;
  msg = compile_error("{frobnicate}");
  EXPECT_EQ(msg.find("did you mean"), std::string::npos) << msg;
}

TEST(Template, UnclosedBraceIsACompileError) {
  std::size_t offset = 0;
  std::string msg = compile_error("ab{path", &offset);
  EXPECT_EQ(offset, 2u);
  EXPECT_NE(msg.find("unclosed '{'"), std::string::npos) << msg;
  msg = compile_error("{a{path}", &offset);
  EXPECT_EQ(offset, 0u);
  EXPECT_NE(msg.find("unclosed '{'"), std::string::npos) << msg;
}

TEST(Template, UnmatchedClosingBraceIsACompileError) {
  std::size_t offset = 0;
  std::string msg = compile_error("abc}", &offset);
  EXPECT_EQ(offset, 3u);
  EXPECT_NE(msg.find("unmatched '}'"), std::string::npos) << msg;
}

TEST(Template, EmptyAndMalformedNamesAreCompileErrors) {
  EXPECT_NE(compile_error("{}").find("empty template variable"), std::string::npos);
  EXPECT_NE(compile_error("{fields.}").find("field key"), std::string::npos);
  EXPECT_NE(compile_error("{env.A-B}").find("environment variable name"), std::string::npos);
}

TEST(Template, MissingFieldIsARenderError) {
  Event e = sample_event();
  EXPECT_EQ(render("{fields.x}", e), "ERROR: template {fields.x}: the event has no field x");
}

TEST(Template, UnsetEnvironmentIsARenderError) {
  Event e = sample_event();
  EnvLookup env = [](std::string_view) -> std::optional<std::string> { return std::nullopt; };
  EXPECT_EQ(render("{env.NOPE}", e, &env),
            "ERROR: template {env.NOPE}: environment variable NOPE is not set");
  EXPECT_EQ(render("{env.NOPE}", e, nullptr),
            "ERROR: template {env.NOPE}: environment variable NOPE is not set");
}

TEST(Template, EnvironmentSetButEmptyRendersEmpty) {
  Event e = sample_event();
  EnvLookup env = [](std::string_view) -> std::optional<std::string> { return std::string(); };
  EXPECT_EQ(render("[{env.EMPTY}]", e, &env), "[]");
}

TEST(Template, EmptyOrAbsentRootIsARenderError) {
  Event e = sample_event();
  e.fields.set("root", "");
  EXPECT_EQ(render("{root}/x", e), "ERROR: template {root}: the event's field root is empty");
  e.fields.erase("root");
  EXPECT_EQ(render("{root}/x", e),
            "ERROR: template {root}: the event has no field root (set by the directory watcher)");
  e.fields.erase("rel");
  EXPECT_EQ(render("{rel}", e),
            "ERROR: template {rel}: the event has no field rel (set by the directory watcher)");
}

TEST(Template, NoPathOrEntityIsARenderError) {
  Event e = sample_event();
  e.path.clear();
  e.entity.clear();
  for (const char* var : {"path", "name", "stem", "ext", "dir"})
    EXPECT_EQ(render(std::string("{") + var + "}", e),
              std::string("ERROR: template {") + var + "}: the event has no path");
  EXPECT_EQ(render("{entity}", e), "ERROR: template {entity}: the event has no entity");
}

TEST(Template, LiteralDoesNotInterpretBraces) {
  Template t = Template::literal("{path}");
  EXPECT_TRUE(t.is_literal());
  std::string out, error;
  Event e;
  ASSERT_TRUE(t.render(TemplateContext{e, "r"}, out, error));
  EXPECT_EQ(out, "{path}");
}

TEST(Template, IsLiteralOnlyWithoutVariables) {
  EXPECT_TRUE(Template::compile("a{{b}}").value().is_literal());
  EXPECT_FALSE(Template::compile("a{path}").value().is_literal());
  EXPECT_EQ(Template::compile("a{path}").value().source(), "a{path}");
}

}  // namespace
}  // namespace aw
