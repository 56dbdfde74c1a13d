#include "src/agents/terminal_escapes.h"

#include <algorithm>
#include <vector>

namespace aw::agents {
namespace {

constexpr std::string_view kBlank = " ";
constexpr unsigned char kEsc = 0x1b;

bool is_c1_at(std::string_view s, std::size_t i) {
  return i + 1 < s.size() && static_cast<unsigned char>(s[i]) == 0xc2 &&
         static_cast<unsigned char>(s[i + 1]) >= 0x80 &&
         static_cast<unsigned char>(s[i + 1]) <= 0x9f;
}

bool plain(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f || is_c1_at(s, i)) return false;
  }
  return true;
}

std::size_t code_point_length(std::string_view s, std::size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  std::size_t n = 1;
  if (c >= 0xf0 && c <= 0xf7) {
    n = 4;
  } else if (c >= 0xe0) {
    n = c <= 0xef ? 3 : 1;
  } else if (c >= 0xc0) {
    n = 2;
  }
  return std::min(n, s.size() - i);
}

// The one-row canvas the header describes. Cells borrow from the input.
class Row {
 public:
  explicit Row(std::string& out) : out_(out) {}

  void put(std::string_view cell) {
    if (col_ < cells_.size()) {
      cells_[col_] = cell;
    } else {
      cells_.resize(col_, kBlank);
      cells_.push_back(cell);
    }
    ++col_;
  }
  void carriage_return() { col_ = 0; }
  void back() {
    if (col_ > 0) --col_;
  }
  void forward(std::size_t n) { col_ += n; }
  void column(std::size_t c) { col_ = c; }
  void erase_in_line(int mode) {
    if (mode == 0) {
      if (col_ < cells_.size()) cells_.resize(col_);
    } else if (mode == 1) {
      for (std::size_t i = 0; i <= col_ && i < cells_.size(); ++i) cells_[i] = kBlank;
    } else if (mode == 2) {
      cells_.clear();
    }
  }
  void clear() { cells_.clear(); }

  // Emits the row (if it holds text) and starts the next one at column `col`.
  void end_row(std::size_t col) {
    std::size_t n = cells_.size();
    while (n > 0 && (cells_[n - 1] == kBlank)) --n;
    if (n > 0) {
      for (std::size_t i = 0; i < n; ++i) out_.append(cells_[i]);
      out_.push_back('\n');
    }
    cells_.clear();
    col_ = col;
  }

 private:
  std::string& out_;
  std::vector<std::string_view> cells_;
  std::size_t col_ = 0;
};

// Parameters of a CSI sequence ("1;2" → {1, 2}); missing ones are 0.
struct Csi {
  bool is_private = false;  // starts with '?', '<', '=' or '>'
  std::vector<int> params;
  char final = 0;

  int param(std::size_t i, int fallback) const {
    return i < params.size() && params[i] > 0 ? params[i] : fallback;
  }
};

// Parses a CSI body from `i` (just after ESC [ or U+009B); returns the index
// after the final byte, or s.size() when it is cut off.
std::size_t parse_csi(std::string_view s, std::size_t i, Csi& csi) {
  if (i < s.size() && (s[i] == '?' || s[i] == '<' || s[i] == '=' || s[i] == '>')) {
    csi.is_private = true;
    ++i;
  }
  int value = 0;
  bool any = false;
  for (; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= '0' && c <= '9') {
      value = std::min(value * 10 + (c - '0'), 100000);
      any = true;
    } else if (c == ';' || c == ':') {
      csi.params.push_back(value);
      value = 0;
      any = false;
    } else if (c >= 0x20 && c <= 0x3f) {
      // other parameter or intermediate bytes: kept out of the numbers
    } else if (c >= 0x40 && c <= 0x7e) {
      if (any || !csi.params.empty()) csi.params.push_back(value);
      csi.final = static_cast<char>(c);
      return i + 1;
    } else {
      return i;  // a control byte aborts the sequence
    }
  }
  return s.size();
}

void apply_csi(const Csi& csi, Row& row) {
  if (csi.is_private) return;
  switch (csi.final) {
    case 'K':
      row.erase_in_line(csi.params.empty() ? 0 : csi.params[0]);
      break;
    case 'C':
      row.forward(static_cast<std::size_t>(csi.param(0, 1)));
      break;
    case 'D':
      for (int n = csi.param(0, 1); n > 0; --n) row.back();
      break;
    case 'G':
    case '`':
      row.column(static_cast<std::size_t>(csi.param(0, 1) - 1));
      break;
    case 'A':
    case 'B':
    case 'd':
    case 'E':
    case 'F':
      row.end_row(0);
      break;
    case 'H':
    case 'f':
      row.end_row(static_cast<std::size_t>(csi.param(1, 1) - 1));
      break;
    case 'J':
      row.clear();
      break;
    default:
      break;  // SGR and the rest change nothing a pattern reads
  }
}

// The end of a string sequence (OSC, DCS, SOS, PM, APC) starting at `i`: after
// its BEL or ST, or s.size() when it is cut off.
std::size_t skip_string(std::string_view s, std::size_t i) {
  for (; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == 0x07) return i + 1;
    if (c == kEsc && i + 1 < s.size() && s[i + 1] == '\\') return i + 2;
    if (c == 0xc2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0x9c) return i + 2;
  }
  return s.size();
}

}  // namespace

void strip_terminal_escapes(std::string_view raw, std::string& out) {
  if (plain(raw)) {
    std::size_t n = raw.size();
    while (n > 0 && raw[n - 1] == ' ') --n;
    if (n > 0) {
      out.append(raw.substr(0, n));
      out.push_back('\n');
    }
    return;
  }
  Row row(out);
  std::size_t i = 0;
  while (i < raw.size()) {
    const auto c = static_cast<unsigned char>(raw[i]);
    if (c == kEsc || is_c1_at(raw, i)) {
      // The introducer as a 7-bit final: '[' for CSI, ']' for OSC...
      char kind = 0;
      std::size_t body = 0;
      if (c == kEsc) {
        if (i + 1 >= raw.size()) break;
        kind = raw[i + 1];
        body = i + 2;
      } else {
        kind = static_cast<char>(static_cast<unsigned char>(raw[i + 1]) - 0x40);
        body = i + 2;
      }
      if (kind == '[') {
        Csi csi;
        i = parse_csi(raw, body, csi);
        if (csi.final) apply_csi(csi, row);
      } else if (kind == ']' || kind == 'P' || kind == 'X' || kind == '^' || kind == '_') {
        i = skip_string(raw, body);
      } else if (c == kEsc) {
        // ESC, intermediates (0x20-0x2f), a final byte (0x30-0x7e).
        std::size_t j = i + 1;
        while (j < raw.size() && static_cast<unsigned char>(raw[j]) >= 0x20 &&
               static_cast<unsigned char>(raw[j]) <= 0x2f)
          ++j;
        if (j < raw.size() && j == i + 1) {
          if (raw[j] == 'D' || raw[j] == 'E' || raw[j] == 'M') row.end_row(0);
          if (raw[j] == 'c') row.clear();
        }
        i = std::min(j + 1, raw.size());
      } else {
        i += 2;  // another C1 control
      }
      continue;
    }
    if (c == '\r') {
      row.carriage_return();
    } else if (c == '\b') {
      row.back();
    } else if (c == '\t') {
      row.put(kBlank);
    } else if (c == '\v' || c == '\f') {
      row.end_row(0);
    } else if (c >= 0x20 && c != 0x7f) {
      const std::size_t n = code_point_length(raw, i);
      row.put(raw.substr(i, n));
      i += n;
      continue;
    }
    ++i;
  }
  row.end_row(0);
}

}  // namespace aw::agents
