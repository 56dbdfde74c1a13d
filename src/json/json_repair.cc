#include "src/json/json_repair.h"

#include <optional>
#include <utility>

#include "src/json/json_scanner.h"

namespace aw {

namespace {

using json_scan::describe_byte;
using json_scan::Token;
using json_scan::TokenStatus;

constexpr std::size_t kNone = static_cast<std::size_t>(-1);

// A change quotes at most this much of a key or value: enough to recognise it.
constexpr std::size_t kExcerptBytes = 32;

// `s` (valid UTF-8) cut to kExcerptBytes at a character boundary.
std::string excerpt(std::string_view s) {
  if (s.size() <= kExcerptBytes) return std::string(s);
  std::size_t end = kExcerptBytes;
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  return std::string(s.substr(0, end)) + "...";
}

bool starts_key_name(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$';
}
bool continues_key_name(char c) {
  return starts_key_name(c) || (c >= '0' && c <= '9') || c == '-';
}

enum class Expect : unsigned char {
  kFirstValue,  // after '['
  kValue,       // at the top, after ':', or after ',' in an array
  kFirstKey,    // after '{'
  kKey,         // after ',' in an object
  kColon,
  kAfterValue,
};

// An open object or array. "Committed" is its state after the opener or its
// last complete item: what a cut at the end of the text falls back to.
struct Frame {
  bool object = false;
  std::size_t commit_out = 0;      // out_.size() then
  std::size_t commit_changes = 0;  // changes_.size() then
  std::size_t comma = kNone;       // the ',' after the last complete item
  std::size_t comma_out = 0;       // that ',' in out_
  std::size_t item = kNone;        // where the current member (its key) or element begins
  std::string_view key;            // the current member's key as written, without quotes
};

// One pass over the text that accepts exactly what json_scan::scan_json does
// plus the repairs json_repair.h lists, copying the text to out_ as it goes.
class Repairer {
 public:
  explicit Repairer(std::string_view text) : text_(text) {}

  // Empty when the repair is in out_ and changes_; otherwise why there is none.
  std::string run();

  std::string take_text() { return std::move(out_); }
  std::vector<JsonChange> take_changes() { return std::move(changes_); }

 private:
  Frame& top() { return open_.back(); }

  // The current item ended complete; it stays whatever a later cut does.
  void commit() {
    if (open_.empty()) return;
    Frame& f = top();
    f.commit_out = out_.size();
    f.commit_changes = changes_.size();
    f.comma = kNone;
    f.item = kNone;
  }

  // The closer at text_[i] ends the top frame, a complete item of its parent.
  std::size_t close(std::size_t i, Expect& expect) {
    out_ += text_[i];
    open_.pop_back();
    commit();
    expect = Expect::kAfterValue;
    return i + 1;
  }

  void remove_trailing_comma() {
    Frame& f = top();
    out_.erase(f.comma_out, 1);
    changes_.push_back({f.comma, "removed a trailing comma"});
    f.comma = kNone;
  }

  // Drops everything after the top frame's last complete item.
  void drop_tail(std::size_t offset, std::string what) {
    Frame& f = top();
    out_.resize(f.commit_out);
    changes_.erase(changes_.begin() + static_cast<std::ptrdiff_t>(f.commit_changes),
                   changes_.end());
    changes_.push_back({offset, std::move(what)});
    f.comma = kNone;
  }

  void close_string(std::size_t quote, const Token& t) {
    out_.append(text_.substr(quote, t.whole_end - quote));
    if (t.whole_end < text_.size()) {
      changes_.push_back({t.whole_end, text_[t.whole_end] == '\\'
                                           ? "cut an incomplete escape sequence"
                                           : "cut an incomplete UTF-8 sequence"});
    }
    out_ += '"';
    changes_.push_back({text_.size(), "closed an unterminated string"});
  }

  std::string finish(Expect expect);
  std::string cut_key(std::size_t at, std::string_view shown);
  std::string cut_value(std::size_t at);
  void close_all();

  static std::string fail(std::size_t at, std::string_view message) {
    return std::string(message) + " at byte " + std::to_string(at);
  }

  std::string_view text_;
  std::string out_;
  std::vector<JsonChange> changes_;
  std::vector<Frame> open_;
};

std::string Repairer::run() {
  const std::size_t n = text_.size();
  if (n == 0) return "empty file";
  std::size_t i = json_scan::skip_space(text_, 0);
  if (i == n) return "only whitespace";
  if (text_.starts_with("\xEF\xBB\xBF")) return "not JSON: starts with a UTF-8 byte-order mark";
  const char first = text_[i];
  if (first != '{' && first != '[' && first != '"' && !json_scan::starts_number_or_literal(first)) {
    return "not JSON: starts with " + describe_byte(first);
  }
  out_.reserve(n + 16);
  out_.append(text_.substr(0, i));
  Expect expect = Expect::kValue;
  for (;;) {
    const std::size_t j = json_scan::skip_space(text_, i);
    out_.append(text_.substr(i, j - i));
    i = j;
    if (i == n) return finish(expect);
    const char c = text_[i];
    switch (expect) {
      case Expect::kFirstKey:
        if (c == '}') {
          i = close(i, expect);
          break;
        }
        [[fallthrough]];
      case Expect::kKey: {
        if (c == '}') {
          remove_trailing_comma();
          i = close(i, expect);
          break;
        }
        Frame& f = top();
        if (c == '"') {
          const Token t = json_scan::scan_string(text_, i);
          if (t.status == TokenStatus::kTruncated) {
            return cut_key(i, text_.substr(i + 1, t.whole_end - (i + 1)));
          }
          if (t.status != TokenStatus::kComplete) return fail(t.end, t.message);
          f.item = i;
          f.key = text_.substr(i + 1, t.end - i - 2);
          out_.append(text_.substr(i, t.end - i));
          i = t.end;
        } else if (starts_key_name(c)) {
          std::size_t end = i + 1;
          while (end < n && continues_key_name(text_[end])) ++end;
          // The name may go on past the cut, so it is no key yet.
          if (end == n) return cut_key(i, text_.substr(i));
          f.item = i;
          f.key = text_.substr(i, end - i);
          out_ += '"';
          out_.append(f.key);
          out_ += '"';
          changes_.push_back({i, "quoted the key '" + excerpt(f.key) + "'"});
          i = end;
        } else {
          return fail(i, "expected a double-quoted key, found " + describe_byte(c));
        }
        expect = Expect::kColon;
        break;
      }
      case Expect::kColon:
        if (c != ':') return fail(i, "expected ':' after an object key");
        out_ += ':';
        ++i;
        expect = Expect::kValue;
        break;
      case Expect::kAfterValue:
        if (open_.empty()) {
          return fail(i, "unexpected " + describe_byte(c) + " after the top-level value");
        }
        if (c == ',') {
          Frame& f = top();
          f.comma = i;
          f.comma_out = out_.size();
          out_ += ',';
          ++i;
          expect = f.object ? Expect::kKey : Expect::kValue;
        } else if (c == (top().object ? '}' : ']')) {
          i = close(i, expect);
        } else {
          return fail(i, top().object ? "expected ',' or '}' after an object member"
                                      : "expected ',' or ']' after an array element");
        }
        break;
      case Expect::kFirstValue:
        if (c == ']') {
          i = close(i, expect);
          break;
        }
        [[fallthrough]];
      case Expect::kValue:
        if (c == ']' && expect == Expect::kValue && !open_.empty() && !top().object) {
          remove_trailing_comma();
          i = close(i, expect);
          break;
        }
        if (open_.size() >= json_scan::kMaxDepth) return fail(i, "nested deeper than 1024");
        if (!open_.empty() && !top().object) top().item = i;
        if (c == '{' || c == '[') {
          out_ += c;
          Frame& f = open_.emplace_back();
          f.object = c == '{';
          f.commit_out = out_.size();
          f.commit_changes = changes_.size();
          ++i;
          expect = c == '{' ? Expect::kFirstKey : Expect::kFirstValue;
          break;
        }
        if (c == '"') {
          const Token t = json_scan::scan_string(text_, i);
          if (t.status == TokenStatus::kTruncated) {
            close_string(i, t);
            i = n;
          } else if (t.status != TokenStatus::kComplete) {
            return fail(t.end, t.message);
          } else {
            out_.append(text_.substr(i, t.end - i));
            i = t.end;
          }
        } else if (json_scan::starts_number_or_literal(c)) {
          const Token t = c == '-' || (c >= '0' && c <= '9') ? json_scan::scan_number(text_, i)
                                                             : json_scan::scan_literal(text_, i);
          // A number simdjson refuses may be the cut prefix of one it takes.
          if (t.status == TokenStatus::kTruncated ||
              (t.status == TokenStatus::kOutOfRange && t.end == n)) {
            return cut_value(i);
          }
          if (t.status == TokenStatus::kOutOfRange) return fail(i, t.message);
          if (t.status == TokenStatus::kInvalid) return fail(t.end, t.message);
          out_.append(text_.substr(i, t.end - i));
          i = t.end;
        } else {
          return fail(i, "expected a value, found " + describe_byte(c));
        }
        commit();
        expect = Expect::kAfterValue;
        break;
    }
  }
}

// At the end of the text, in state `expect`.
std::string Repairer::finish(Expect expect) {
  switch (expect) {
    case Expect::kValue:  // after ':' or ','; never at the top (run() saw a value start)
      if (top().object) {
        drop_tail(top().item, "dropped the key '" + excerpt(top().key) + "', which had no value");
      } else {
        drop_tail(top().comma, "removed a dangling ','");
      }
      break;
    case Expect::kKey:
      drop_tail(top().comma, "removed a dangling ','");
      break;
    case Expect::kColon:
      drop_tail(top().item, "dropped the key '" + excerpt(top().key) + "', which had no value");
      break;
    case Expect::kFirstValue:
    case Expect::kFirstKey:
    case Expect::kAfterValue:
      break;
  }
  close_all();
  return {};
}

std::string Repairer::cut_key(std::size_t at, std::string_view shown) {
  drop_tail(at, "cut the incomplete key '" + excerpt(shown) + "'");
  close_all();
  return {};
}

// The number or literal at `at` runs into the end of the text incomplete.
std::string Repairer::cut_value(std::size_t at) {
  const std::string shown = excerpt(text_.substr(at));
  if (open_.empty()) {
    return "the top-level value '" + shown + "' is incomplete, and nothing else would be left";
  }
  if (top().object) {
    drop_tail(top().item, "cut the member '" + excerpt(top().key) + "', whose value '" + shown +
                              "' is incomplete");
  } else {
    drop_tail(at, "cut an incomplete value '" + shown + "'");
  }
  close_all();
  return {};
}

void Repairer::close_all() {
  if (open_.empty()) return;
  std::size_t objects = 0;
  for (auto it = open_.rbegin(); it != open_.rend(); ++it) {
    out_ += it->object ? '}' : ']';
    objects += it->object ? 1 : 0;
  }
  const std::size_t count = open_.size();
  std::string what = "closed " + std::to_string(count) + " open ";
  if (objects == count) {
    what += count == 1 ? "object" : "objects";
  } else if (objects == 0) {
    what += count == 1 ? "array" : "arrays";
  } else {
    what += "objects/arrays";
  }
  changes_.push_back({text_.size(), std::move(what)});
  open_.clear();
}

}  // namespace

std::variant<JsonRepair, JsonUnrepairable> repair_json(std::string_view text) {
  std::optional<JsonError> error = check_json(text);
  if (!error) {
    JsonUnrepairable valid;
    valid.why = "already valid JSON";
    return valid;
  }
  Repairer repairer(text);
  std::string why = repairer.run();
  if (!why.empty()) return JsonUnrepairable{std::move(*error), std::move(why)};
  JsonRepair repair{repairer.take_text(), repairer.take_changes()};
  // The pass reads every token as the strict scanner does, so neither check
  // should ever fire; they stay because a wrong "repair" would be handed on
  // as what the agent wrote.
  if (repair.changes.empty()) {
    return JsonUnrepairable{std::move(*error),
                            "internal error: the repair pass found nothing to change"};
  }
  if (std::optional<JsonError> bad = check_json(repair.text)) {
    return JsonUnrepairable{std::move(*error), "internal error: the repair is not valid JSON (" +
                                                   bad->message + " at byte " +
                                                   std::to_string(bad->offset) + ")"};
  }
  return repair;
}

}  // namespace aw
