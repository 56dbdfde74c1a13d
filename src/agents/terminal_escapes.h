// The text a line of raw pane output puts on the screen, for pattern matching
// (`tmux pipe-pane` hands over the bytes the agent wrote: colours, cursor
// moves, titles and carriage-return redraws included).
//
// The input is one line as split on '\n'. It is played onto a one-row canvas,
// one cell per UTF-8 code point:
//   - printable text overwrites cells at the cursor;
//   - '\r' returns to column 0, so "50%\r100%" reads "100%" and "Thinking…\r
//     \e[Kdone" reads "done"; '\b' steps back; '\t' is one blank cell;
//   - CSI K erases (to the end, to the start, the whole row), CSI C / D / G move
//     along the row; SGR colours, private modes and every other CSI are dropped;
//   - a vertical move (CSI A B E F d H f, ESC D E M, '\v', '\f') ends the row and
//     starts another (full-screen TUIs position rows instead of writing '\n'),
//     and CSI J (erase display) clears the row;
//   - OSC (titles, hyperlinks), DCS, SOS, PM and APC strings are dropped up to
//     their BEL or ST; other ESC sequences and other control bytes are dropped;
//     8-bit C1 controls count when UTF-8 encoded (U+009B is CSI, U+009D OSC).
// Each row that holds text is emitted with trailing blanks trimmed and a '\n'
// after it, so the result is a block of whole lines (what
// PatternSet::next_candidate() takes); empty rows are left out. A line with no
// control bytes at all is copied as it is (plus its '\n').
//
// Known simplification: a wide character (CJK, most emoji) is one cell here
// and two on a terminal, so an absolute column move (CSI G, CSI H) after one
// lands one cell off. Patterns match on words, which this does not break.
//
// Pure; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace aw::agents {

// Appends the rows of `raw` to `out` (not cleared), each ending in '\n'.
void strip_terminal_escapes(std::string_view raw, std::string& out);

inline std::string strip_terminal_escapes(std::string_view raw) {
  std::string out;
  strip_terminal_escapes(raw, out);
  return out;
}

}  // namespace aw::agents
