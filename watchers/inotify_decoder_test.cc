#include "watchers/inotify_decoder.h"

#include <gtest/gtest.h>
#include <sys/inotify.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

namespace aw {
namespace {

// Appends one record laid out exactly as the kernel does: header, then the
// name NUL-padded to `len` bytes (a multiple of 16 like the kernel, unless the
// test wants something else).
void append_record(std::vector<std::uint8_t>& buf, int wd, std::uint32_t mask, std::uint32_t cookie,
                   const std::string& name, int padded_len = -1) {
  struct inotify_event ev {};
  ev.wd = wd;
  ev.mask = mask;
  ev.cookie = cookie;
  std::uint32_t len = 0;
  if (padded_len >= 0) {
    len = static_cast<std::uint32_t>(padded_len);
  } else if (!name.empty()) {
    len = static_cast<std::uint32_t>((name.size() + 1 + 15) / 16 * 16);
  }
  ev.len = len;
  const auto* p = reinterpret_cast<const std::uint8_t*>(&ev);
  buf.insert(buf.end(), p, p + sizeof ev);
  std::vector<std::uint8_t> name_bytes(len, 0);
  if (len > 0) std::memcpy(name_bytes.data(), name.data(), std::min<std::size_t>(name.size(), len));
  buf.insert(buf.end(), name_bytes.begin(), name_bytes.end());
}

TEST(InotifyDecoder, EmptyBufferYieldsNothing) {
  std::vector<InotifyRecord> out;
  auto r = InotifyDecoder::decode({}, out);
  EXPECT_FALSE(r.malformed);
  EXPECT_EQ(r.consumed, 0u);
  EXPECT_TRUE(out.empty());
}

TEST(InotifyDecoder, SingleCloseWrite) {
  std::vector<std::uint8_t> buf;
  append_record(buf, 3, IN_CLOSE_WRITE, 0, "result.json");
  std::vector<InotifyRecord> out;
  auto r = InotifyDecoder::decode(buf, out);
  ASSERT_FALSE(r.malformed) << r.error;
  EXPECT_EQ(r.consumed, buf.size());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].wd, 3);
  EXPECT_EQ(out[0].mask, static_cast<std::uint32_t>(IN_CLOSE_WRITE));
  EXPECT_EQ(out[0].name, "result.json");
  EXPECT_FALSE(out[0].is_dir);
  EXPECT_FALSE(out[0].overflow);
}

TEST(InotifyDecoder, AtMostMaxRecordsAndConsumedSaysWhereTheNextStarts) {
  std::vector<std::uint8_t> buf;
  append_record(buf, 1, IN_CREATE, 0, "a");
  append_record(buf, 1, IN_CLOSE_WRITE, 0, "a");
  append_record(buf, 1, IN_CREATE, 0, "a-much-longer-name-than-sso.json");
  std::vector<InotifyRecord> out;
  auto r = InotifyDecoder::decode(buf, out, 2);
  ASSERT_FALSE(r.malformed) << r.error;
  ASSERT_EQ(out.size(), 2u);
  ASSERT_LT(r.consumed, buf.size());
  auto rest = InotifyDecoder::decode(std::span(buf).subspan(r.consumed), out, 2);
  ASSERT_FALSE(rest.malformed) << rest.error;
  EXPECT_EQ(r.consumed + rest.consumed, buf.size());
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[2].name, "a-much-longer-name-than-sso.json");
  EXPECT_EQ(InotifyDecoder::decode(buf, out, 0).consumed, 0u);
}

TEST(InotifyDecoder, SeveralRecordsPerBufferKeepOrderAndCookies) {
  std::vector<std::uint8_t> buf;
  append_record(buf, 1, IN_CREATE | IN_ISDIR, 0, "sub");
  append_record(buf, 1, IN_MOVED_FROM, 77, "a.tmp");
  append_record(buf, 1, IN_MOVED_TO, 77, "a.json");
  append_record(buf, 2, IN_DELETE_SELF, 0, "");
  append_record(buf, 2, IN_IGNORED, 0, "");
  std::vector<InotifyRecord> out;
  auto r = InotifyDecoder::decode(buf, out);
  ASSERT_FALSE(r.malformed) << r.error;
  ASSERT_EQ(out.size(), 5u);
  EXPECT_TRUE(out[0].is_dir);
  EXPECT_EQ(out[0].name, "sub");
  EXPECT_EQ(out[1].cookie, 77u);
  EXPECT_EQ(out[2].cookie, 77u);
  EXPECT_EQ(out[2].name, "a.json");
  EXPECT_EQ(out[3].name, "");
  EXPECT_TRUE(out[4].ignored);
  EXPECT_EQ(out[4].wd, 2);
}

TEST(InotifyDecoder, OverflowRecord) {
  std::vector<std::uint8_t> buf;
  append_record(buf, -1, IN_Q_OVERFLOW, 0, "");
  std::vector<InotifyRecord> out;
  auto r = InotifyDecoder::decode(buf, out);
  ASSERT_FALSE(r.malformed);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].overflow);
  EXPECT_EQ(out[0].wd, -1);
}

TEST(InotifyDecoder, UnmountRecord) {
  std::vector<std::uint8_t> buf;
  append_record(buf, 5, IN_UNMOUNT, 0, "");
  std::vector<InotifyRecord> out;
  (void)InotifyDecoder::decode(buf, out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].unmount);
}

TEST(InotifyDecoder, AppendsWithoutClearing) {
  std::vector<std::uint8_t> buf;
  append_record(buf, 1, IN_DELETE, 0, "x");
  std::vector<InotifyRecord> out(2);
  (void)InotifyDecoder::decode(buf, out);
  EXPECT_EQ(out.size(), 3u);
  EXPECT_EQ(out[2].name, "x");
}

TEST(InotifyDecoder, TruncatedHeaderKeepsEarlierRecords) {
  std::vector<std::uint8_t> buf;
  append_record(buf, 1, IN_CLOSE_WRITE, 0, "a");
  const std::size_t whole = buf.size();
  append_record(buf, 1, IN_CLOSE_WRITE, 0, "b");
  buf.resize(whole + 7);  // cut inside the second header
  std::vector<InotifyRecord> out;
  auto r = InotifyDecoder::decode(buf, out);
  EXPECT_TRUE(r.malformed);
  EXPECT_EQ(r.consumed, whole);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].name, "a");
  EXPECT_NE(r.error.find("truncated inotify record header at offset " + std::to_string(whole)),
            std::string::npos)
      << r.error;
}

TEST(InotifyDecoder, TruncatedNameIsMalformed) {
  std::vector<std::uint8_t> buf;
  append_record(buf, 1, IN_CLOSE_WRITE, 0, "a-long-file-name.json");
  buf.resize(buf.size() - 3);
  std::vector<InotifyRecord> out;
  auto r = InotifyDecoder::decode(buf, out);
  EXPECT_TRUE(r.malformed);
  EXPECT_EQ(r.consumed, 0u);
  EXPECT_TRUE(out.empty());
  EXPECT_NE(r.error.find("truncated inotify record name"), std::string::npos) << r.error;
}

TEST(InotifyDecoder, AbsurdLengthIsMalformedNotAnAllocation) {
  std::vector<std::uint8_t> buf;
  append_record(buf, 1, IN_CLOSE_WRITE, 0, "", 0);
  struct inotify_event ev {};
  std::memcpy(&ev, buf.data(), sizeof ev);
  ev.len = 0xFFFFFFF0u;
  std::memcpy(buf.data(), &ev, sizeof ev);
  std::vector<InotifyRecord> out;
  auto r = InotifyDecoder::decode(buf, out);
  EXPECT_TRUE(r.malformed);
  EXPECT_NE(r.error.find("claims a name of"), std::string::npos) << r.error;
}

TEST(InotifyDecoder, NameWithoutNulIsMalformed) {
  std::vector<std::uint8_t> buf;
  append_record(buf, 1, IN_CLOSE_WRITE, 0, "abcdefgh", 8);  // exactly 8 bytes, no NUL
  std::vector<InotifyRecord> out;
  auto r = InotifyDecoder::decode(buf, out);
  EXPECT_TRUE(r.malformed);
  EXPECT_TRUE(out.empty());
}

TEST(InotifyDecoder, UnalignedBufferDecodes) {
  std::vector<std::uint8_t> buf;
  append_record(buf, 9, IN_ATTRIB, 0, "hook.sh");
  std::vector<std::uint8_t> shifted(buf.size() + 1);
  std::memcpy(shifted.data() + 1, buf.data(), buf.size());
  std::vector<InotifyRecord> out;
  auto r = InotifyDecoder::decode(std::span(shifted).subspan(1), out);
  ASSERT_FALSE(r.malformed);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].name, "hook.sh");
  EXPECT_EQ(out[0].wd, 9);
}

}  // namespace
}  // namespace aw
