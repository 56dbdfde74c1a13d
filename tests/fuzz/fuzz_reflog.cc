// git reflog lines (watchers/git/reflog_entry.h parse_reflog_line).
//
// Holds beyond "no crash":
//   - an entry that parses has two oids of one length (40 or 64 lowercase
//     hex), a name without '<', an email without '>', a five-byte tz, an action
//     class from the documented set, and a line without its '\n' parses as
//     with it;
//   - written back in git's format it parses to the same entry.
#include <set>
#include <string>

#include "tests/fuzz/fuzz_support.h"
#include "watchers/git/reflog_entry.h"

using namespace aw;

namespace {

std::string write_line(const ReflogEntry& e) {
  std::string out = e.old_oid + " " + e.new_oid + " ";
  if (!e.name.empty()) out += e.name + " ";
  out += "<" + e.email + "> " + std::to_string(e.time) + " " + e.tz;
  const std::string text = e.action.empty() ? e.message : e.action + ": " + e.message;
  if (!text.empty()) out += "\t" + text;
  return out + "\n";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view line = fuzz::as_text(data, size);
  const auto e = parse_reflog_line(line);
  (void)reflog_action_class(line);
  if (!e) return 0;
  static const std::set<std::string_view> kClasses = {"commit", "merge",       "checkout", "reset",
                                                      "rebase", "cherry-pick", "revert",   "pull",
                                                      "clone",  "am",          "branch",   "other"};
  FUZZ_CHECK(e->old_oid.size() == 40 || e->old_oid.size() == 64);
  FUZZ_CHECK(e->new_oid.size() == e->old_oid.size());
  FUZZ_CHECK(e->email.find('>') == std::string::npos);
  FUZZ_CHECK(e->name.find('<') == std::string::npos);
  FUZZ_CHECK(e->tz.size() == 5);
  FUZZ_CHECK(kClasses.count(e->action_class) == 1);

  if (line.empty() || line.back() != '\n')
    FUZZ_CHECK(parse_reflog_line(std::string(line) + "\n") == e);
  const auto again = parse_reflog_line(write_line(*e));
  FUZZ_CHECK(again.has_value());
  FUZZ_CHECK(*again == *e);
  return 0;
}
