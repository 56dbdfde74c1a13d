#include "src/eventlog/event_format.h"

#include <gtest/gtest.h>

namespace aw {
namespace {

Event landed() {
  Event e;
  e.kind = "file.landed";
  e.source = "inotify";
  e.seq = 42;
  e.time = *parse_time_utc("2026-11-22T11:20:39.123Z");
  e.path = "/w/results/a.json";
  e.fields.set("via", "close_write");
  e.fields.set("size", std::int64_t{12});
  e.cause = 3;
  e.rule = "r";
  return e;
}

TEST(EventFormatTest, ReadableOneLiner) {
  EXPECT_EQ(format_event_line(landed()),
            "2026-11-22T11:20:39.123Z  #42  file.landed  /w/results/a.json  via=close_write "
            "size=12  (rule=r \xe2\x86\x90 #3)");
}

TEST(EventFormatTest, MinimalEvent) {
  Event e;
  e.kind = "daemon.started";
  e.seq = 1;
  e.time = *parse_time_utc("2026-11-22T00:00:00Z");
  EXPECT_EQ(format_event_line(e), "2026-11-22T00:00:00.000Z  #1  daemon.started");
}

TEST(EventFormatTest, EntityFollowsThePath) {
  Event e = landed();
  e.entity = "worker-3";
  e.fields = {};
  e.rule.clear();
  e.cause = 0;
  EXPECT_EQ(format_event_line(e),
            "2026-11-22T11:20:39.123Z  #42  file.landed  /w/results/a.json  @worker-3");
}

TEST(EventFormatTest, FailuresAreMarked) {
  Event e = landed();
  e.kind = "action.failed";
  e.path.clear();
  e.fields = {};
  e.fields.set("exit", std::int64_t{1});
  e.depth = 1;
  EXPECT_EQ(
      format_event_line(e),
      "2026-11-22T11:20:39.123Z  #42  !action.failed  exit=1  (rule=r \xe2\x86\x90 #3, depth 1)");
  Event ok_false = landed();
  ok_false.kind = "action.finished";
  ok_false.fields.set("ok", false);
  EXPECT_NE(format_event_line(ok_false).find("  !action.finished  "), std::string::npos);
}

TEST(EventFormatTest, TrailerWithOnlyCauseOrDepth) {
  Event e = landed();
  e.fields = {};
  e.path.clear();
  e.rule.clear();
  EXPECT_EQ(format_event_line(e), "2026-11-22T11:20:39.123Z  #42  file.landed  (\xe2\x86\x90 #3)");
  e.cause = 0;
  e.depth = 2;
  EXPECT_EQ(format_event_line(e), "2026-11-22T11:20:39.123Z  #42  file.landed  (depth 2)");
}

TEST(EventFormatTest, ValuesWithSpacesOrEqualsAreQuoted) {
  Event e = landed();
  e.path = "/w/my results/a.json";
  e.fields = {};
  e.fields.set("msg", "disk full");
  e.fields.set("expr", "a=b");
  e.fields.set("empty", "");
  e.fields.set("ratio", 0.5);
  e.fields.set("ok", true);
  e.rule.clear();
  e.cause = 0;
  EXPECT_EQ(format_event_line(e),
            "2026-11-22T11:20:39.123Z  #42  file.landed  \"/w/my results/a.json\"  "
            "msg=\"disk full\" expr=\"a=b\" empty=\"\" ratio=0.5 ok=true");
}

TEST(EventFormatTest, ControlCharactersCannotReachTheTerminal) {
  Event e = landed();
  e.path = "/w/\x1b[31mred\x1b[0m\nfake line";
  e.fields = {};
  e.fields.set("msg",
               "csi \xc2\x9b"
               "2J and del \x7f");
  e.rule.clear();
  e.cause = 0;
  const std::string out = format_event_line(e);
  EXPECT_EQ(out.find('\x1b'), std::string::npos) << out;
  EXPECT_EQ(out.find('\n'), std::string::npos) << out;
  EXPECT_EQ(out.find('\x7f'), std::string::npos) << out;
  EXPECT_EQ(out.find("\xc2\x9b"), std::string::npos) << out;
  EXPECT_NE(out.find(R"("/w/\x1b[31mred\x1b[0m\nfake line")"), std::string::npos) << out;
  EXPECT_NE(out.find(R"(msg="csi \u009b2J and del \x7f")"), std::string::npos) << out;
}

TEST(EventFormatTest, Utf8IsShownAsIs) {
  Event e = landed();
  e.path = "/w/r\xc3\xa9sultats/\xe2\x9c\x93.json";
  EXPECT_NE(format_event_line(e).find("  /w/r\xc3\xa9sultats/\xe2\x9c\x93.json  "),
            std::string::npos);
}

TEST(EventFormatTest, ColourOnlyWhenAsked) {
  Event e = landed();
  e.kind = "action.failed";
  const std::string plain = format_event_line(e);
  EXPECT_EQ(plain.find('\x1b'), std::string::npos);
  const std::string colored = format_event_line(e, {.color = true});
  EXPECT_NE(colored.find("\x1b[1;31m!action.failed\x1b[0m"), std::string::npos) << colored;
}

}  // namespace
}  // namespace aw
