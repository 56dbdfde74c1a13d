#include "src/agents/terminal_escapes.h"

#include <gtest/gtest.h>

namespace aw::agents {
namespace {

TEST(TerminalEscapesTest, PlainTextIsCopiedWithANewline) {
  EXPECT_EQ(strip_terminal_escapes("✻ Thinking… (esc to interrupt)"),
            "✻ Thinking… (esc to interrupt)\n");
}

TEST(TerminalEscapesTest, EmptyAndBlankLinesGiveNothing) {
  EXPECT_EQ(strip_terminal_escapes(""), "");
  EXPECT_EQ(strip_terminal_escapes("    "), "");
  EXPECT_EQ(strip_terminal_escapes("\x1b[2K\x1b[1A\x1b[2K\x1b[G"), "");
}

TEST(TerminalEscapesTest, TrailingBlanksAreTrimmed) {
  EXPECT_EQ(strip_terminal_escapes("abc   "), "abc\n");
  EXPECT_EQ(strip_terminal_escapes("abc \x1b[0m  "), "abc\n");
}

TEST(TerminalEscapesTest, SgrColoursAreDropped) {
  EXPECT_EQ(strip_terminal_escapes("\x1b[38;2;215;119;87m✻\x1b[39m \x1b[1mThinking…\x1b[22m"),
            "✻ Thinking…\n");
}

TEST(TerminalEscapesTest, PrivateModesAreDropped) {
  EXPECT_EQ(strip_terminal_escapes("\x1b[?2026hdone\x1b[?25l\x1b[?2026l"), "done\n");
}

TEST(TerminalEscapesTest, CarriageReturnOverdrawsFromColumnZero) {
  EXPECT_EQ(strip_terminal_escapes("50% done\r100%"), "100%done\n");
  EXPECT_EQ(strip_terminal_escapes("Thinking…\r\x1b[Kdone"), "done\n");
  EXPECT_EQ(strip_terminal_escapes("line\r"), "line\n");  // CRLF line ends
}

TEST(TerminalEscapesTest, EraseInLineModes) {
  EXPECT_EQ(strip_terminal_escapes("abcdef\r\x1b[3C\x1b[K"), "abc\n");
  EXPECT_EQ(strip_terminal_escapes("abcdef\r\x1b[3C\x1b[1K"), "    ef\n");
  EXPECT_EQ(strip_terminal_escapes("abcdef\x1b[2Kxy"), "      xy\n");
}

TEST(TerminalEscapesTest, HorizontalMoves) {
  EXPECT_EQ(strip_terminal_escapes("abc\x1b[2Dz"), "azc\n");
  EXPECT_EQ(strip_terminal_escapes("a\x1b[3Cb"), "a   b\n");
  EXPECT_EQ(strip_terminal_escapes("abcdef\x1b[2Gz"), "azcdef\n");
  EXPECT_EQ(strip_terminal_escapes("abc\b\bz"), "azc\n");
}

TEST(TerminalEscapesTest, VerticalMovesStartNewRows) {
  EXPECT_EQ(strip_terminal_escapes("top\x1b[1Bbottom"), "top\nbottom\n");
  EXPECT_EQ(strip_terminal_escapes("up\x1b[1Aabove"), "up\nabove\n");
  EXPECT_EQ(strip_terminal_escapes("a\x1b"
                                   "Db"),
            "a\nb\n");
  EXPECT_EQ(strip_terminal_escapes("a\vb\fc"), "a\nb\nc\n");
}

TEST(TerminalEscapesTest, CursorPositionStartsARowAtItsColumn) {
  EXPECT_EQ(strip_terminal_escapes("\x1b[12;1H• Running\x1b[14;3HWould you like to run?"),
            "• Running\n  Would you like to run?\n");
  EXPECT_EQ(strip_terminal_escapes("\x1b[Hhome"), "home\n");
}

TEST(TerminalEscapesTest, EraseDisplayClearsTheRow) {
  EXPECT_EQ(strip_terminal_escapes("old\x1b[2J\x1b[Hnew"), "new\n");
}

TEST(TerminalEscapesTest, OscIsDroppedUpToBelOrSt) {
  EXPECT_EQ(strip_terminal_escapes("\x1b]0;✳ Claude Code\x07prompt"), "prompt\n");
  EXPECT_EQ(strip_terminal_escapes("\x1b]0;title\x1b\\prompt"), "prompt\n");
  EXPECT_EQ(strip_terminal_escapes("see \x1b]8;;https://x.y\x1b\\link\x1b]8;;\x1b\\ here"),
            "see link here\n");
}

TEST(TerminalEscapesTest, UnterminatedOscDropsTheRest) {
  EXPECT_EQ(strip_terminal_escapes("before\x1b]0;never ends"), "before\n");
}

TEST(TerminalEscapesTest, DcsAndApcAreDropped) {
  EXPECT_EQ(strip_terminal_escapes("a\x1bPq#0;2;0;0;0\x1b\\b"), "ab\n");
  EXPECT_EQ(strip_terminal_escapes("a\x1b_Gdata\x1b\\b"), "ab\n");
}

TEST(TerminalEscapesTest, EightBitControlsInUtf8) {
  EXPECT_EQ(strip_terminal_escapes("a\xc2\x9b"
                                   "31mred\xc2\x9b"
                                   "0m"),
            "ared\n");
  EXPECT_EQ(strip_terminal_escapes("a\xc2\x9d"
                                   "0;t\x07"
                                   "b"),
            "ab\n");
  // U+00B7 (·) is C2 B7: text, not a control.
  EXPECT_EQ(strip_terminal_escapes("a · b"), "a · b\n");
}

TEST(TerminalEscapesTest, OtherEscapesAreDropped) {
  EXPECT_EQ(strip_terminal_escapes("\x1b(Bplain\x1b"
                                   "7saved\x1b"
                                   "8\x1b="),
            "plainsaved\n");
}

TEST(TerminalEscapesTest, ControlBytesAreDropped) {
  EXPECT_EQ(strip_terminal_escapes(std::string("a\x01\x07\x7f"
                                               "b",
                                               5)),
            "ab\n");
  EXPECT_EQ(strip_terminal_escapes("a\tb"), "a b\n");
}

TEST(TerminalEscapesTest, MultibyteCharactersAreOneCell) {
  EXPECT_EQ(strip_terminal_escapes("⏺⏺⏺\r✻"), "✻⏺⏺\n");
}

TEST(TerminalEscapesTest, CutOffSequenceAtTheEnd) {
  EXPECT_EQ(strip_terminal_escapes("text\x1b["), "text\n");
  EXPECT_EQ(strip_terminal_escapes("text\x1b"), "text\n");
  EXPECT_EQ(strip_terminal_escapes("text\x1b[38;5"), "text\n");
}

TEST(TerminalEscapesTest, AppendsToTheBuffer) {
  std::string out = "kept\n";
  strip_terminal_escapes("\x1b[1mnext\x1b[0m", out);
  EXPECT_EQ(out, "kept\nnext\n");
}

TEST(TerminalEscapesTest, InkRedrawOfTheSpinner) {
  const std::string line =
      "\x1b[2K\x1b[1A\x1b[2K\x1b[1A\x1b[2K\x1b[G\x1b[38;5;174m✻\x1b[39m Pondering… "
      "\x1b[2m(3s · esc to interrupt)\x1b[22m";
  EXPECT_EQ(strip_terminal_escapes(line), "✻ Pondering… (3s · esc to interrupt)\n");
}

}  // namespace
}  // namespace aw::agents
