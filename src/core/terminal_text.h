// Text from untrusted sources (file names, agents' messages, rule names) as it
// is safe to show on a terminal: nothing in it can move the cursor or
// recolour the screen. Shared by `agentwatch events`' readable lines and
// `agentwatch stats`' table.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace aw {

// True when the byte at `i` starts something a terminal obeys: a control byte
// (< 0x20, 0x7f) or a UTF-8 C1 control (U+0080..U+009F; U+009B is CSI).
bool terminal_control_at(std::string_view s, std::size_t i);

// Appends `s` with those escaped: \n, \t, \r, other control bytes as \xNN,
// C1 controls as \uNNNN. With `quoted` (text shown between double quotes)
// '"' and '\\' are escaped too.
void append_terminal_safe(std::string& out, std::string_view s, bool quoted = false);

}  // namespace aw
