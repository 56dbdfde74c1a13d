// HTTP requests (src/http/http_request_parser.h): the bytes a client sends the
// daemon's HTTP endpoint, as the server parses them.
//
// Holds beyond "no crash":
//   - the same bytes give the same requests whether they arrive at once or one
//     byte at a time (a parser that depended on how TCP split the stream
//     would answer differently under load): the requests both ways yield
//     agree, and when neither way errs, they are the same list. Where an
//     error comes may differ at the caps' edges: a target both too long and
//     malformed is 414 byte by byte (the cap is checked as bytes arrive) and
//     400 at once (http_parser sees the bad byte before it hands the target
//     over); and the header cap counts the blank line ending the head only
//     when it arrives in a later read (http_request_parser.h: "may pass the
//     cap by at most 4 bytes").
//   - every request it yields respects the caps: the target within
//     max_url_bytes, a method, and a path that is a prefix of the target;
//   - an error is one of the statuses the server answers with.
#include <string>
#include <vector>

#include "src/http/http_request_parser.h"
#include "tests/fuzz/fuzz_support.h"

using namespace aw;
using namespace aw::http;

namespace {

struct Parsed {
  std::vector<std::string> requests;  // method, target and headers, flattened
  int error = 0;
  bool operator==(const Parsed&) const = default;
};

Parsed parse(std::string_view input, std::size_t chunk) {
  HttpRequestParser::Limits limits;
  limits.max_header_bytes = 512;
  limits.max_url_bytes = 128;
  HttpRequestParser parser(limits);
  Parsed out;
  std::string pending;
  for (std::size_t at = 0; at < input.size() || !pending.empty();) {
    if (at < input.size()) {
      std::size_t n = std::min(chunk, input.size() - at);
      pending.append(input.substr(at, n));
      at += n;
    }
    bool progressed = false;
    while (!pending.empty()) {
      auto step = parser.feed(pending);
      pending.erase(0, step.consumed);
      if (step.outcome == HttpRequestParser::Outcome::kError) {
        out.error = parser.error().status;
        return out;
      }
      if (step.outcome == HttpRequestParser::Outcome::kNeedMore) break;
      progressed = true;
      HttpRequest r = parser.take_request();
      FUZZ_CHECK(!r.method.empty());
      FUZZ_CHECK(r.target.size() <= limits.max_url_bytes);
      FUZZ_CHECK(r.target.compare(0, r.path.size(), r.path) == 0 ||
                 r.target.find(r.path) != std::string::npos);
      std::string flat = r.method + ' ' + r.target;
      for (const auto& h : r.headers) flat += '\n' + h.name + ':' + h.value;
      out.requests.push_back(std::move(flat));
    }
    if (at >= input.size() && !progressed) break;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = fuzz::as_text(data, size);
  const Parsed whole = parse(input, input.size() + 1);
  if (whole.error != 0)
    FUZZ_CHECK(whole.error == 400 || whole.error == 413 || whole.error == 414 ||
               whole.error == 431 || whole.error == 505);
  const Parsed bytewise = parse(input, 1);
  const std::size_t both = std::min(bytewise.requests.size(), whole.requests.size());
  for (std::size_t i = 0; i < both; ++i) FUZZ_CHECK(bytewise.requests[i] == whole.requests[i]);
  if (bytewise.error == 0 && whole.error == 0) FUZZ_CHECK(bytewise.requests == whole.requests);
  return 0;
}
