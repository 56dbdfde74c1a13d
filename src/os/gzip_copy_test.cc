#include "src/os/gzip_copy.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <string>

#include "src/os/unique_fd.h"

namespace aw {
namespace {

class GzipCopyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/aw-gzip-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    for (const char* f : {"/in", "/out.gz"}) unlink((dir_ + f).c_str());
    rmdir(dir_.c_str());
  }
  void write_input(const std::string& text) {
    UniqueFd fd(open((dir_ + "/in").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    ASSERT_TRUE(fd.valid());
    ASSERT_EQ(write(fd.get(), text.data(), text.size()), static_cast<ssize_t>(text.size()));
  }
  std::string gunzip_output() {
    gzFile gz = gzopen((dir_ + "/out.gz").c_str(), "rb");
    if (!gz) return "<cannot open>";
    std::string out;
    char buf[65536];
    for (int n; (n = gzread(gz, buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
    gzclose(gz);
    return out;
  }
  UniqueFd open_in() { return UniqueFd(open((dir_ + "/in").c_str(), O_RDONLY | O_CLOEXEC)); }
  UniqueFd open_out() {
    return UniqueFd(
        open((dir_ + "/out.gz").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  }
  std::string dir_;
};

TEST_F(GzipCopyTest, CompressesEveryByteAndLeavesTheOutputOpen) {
  // More than one 256 KiB buffer, with bytes of every value.
  std::string text;
  for (unsigned i = 0; i < 700'000; ++i) text += static_cast<char>((i * 7919u) % 251u);
  write_input(text);
  UniqueFd in = open_in(), out = open_out();
  auto copied = gzip_copy(in.get(), out.get(), "in", "out.gz");
  ASSERT_TRUE(copied) << copied.error().message;
  EXPECT_EQ(*copied, text.size());
  EXPECT_EQ(fcntl(out.get(), F_GETFD), FD_CLOEXEC) << "the caller's fd was closed";
  EXPECT_EQ(fsync(out.get()), 0);
  EXPECT_EQ(gunzip_output(), text);
}

TEST_F(GzipCopyTest, StartsAtTheInputsCurrentOffset) {
  write_input("skip me|keep me\n");
  UniqueFd in = open_in(), out = open_out();
  ASSERT_EQ(lseek(in.get(), 8, SEEK_SET), 8);
  auto copied = gzip_copy(in.get(), out.get(), "in", "out.gz");
  ASSERT_TRUE(copied) << copied.error().message;
  EXPECT_EQ(*copied, 8u);
  EXPECT_EQ(gunzip_output(), "keep me\n");
}

TEST_F(GzipCopyTest, AnEmptyInputIsAValidEmptyGzip) {
  write_input("");
  UniqueFd in = open_in(), out = open_out();
  auto copied = gzip_copy(in.get(), out.get(), "in", "out.gz");
  ASSERT_TRUE(copied) << copied.error().message;
  EXPECT_EQ(*copied, 0u);
  EXPECT_EQ(gunzip_output(), "");
}

TEST_F(GzipCopyTest, AnUnreadableInputNamesItWithErrno) {
  UniqueFd out = open_out();
  UniqueFd dir(open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));  // read() gives EISDIR
  auto copied = gzip_copy(dir.get(), out.get(), "the-input", "out.gz");
  ASSERT_FALSE(copied);
  EXPECT_EQ(copied.error().message.rfind("cannot read the-input: ", 0), 0u)
      << copied.error().message;
  EXPECT_EQ(copied.error().code, -EISDIR);
}

TEST_F(GzipCopyTest, AnUnwritableOutputNamesIt) {
  write_input("some text\n");
  UniqueFd in = open_in();
  UniqueFd read_only(open((dir_ + "/in").c_str(), O_RDONLY | O_CLOEXEC));
  auto copied = gzip_copy(in.get(), read_only.get(), "in", "the-output");
  ASSERT_FALSE(copied);
  EXPECT_NE(copied.error().message.find("the-output"), std::string::npos) << copied.error().message;
  EXPECT_LT(copied.error().code, 0);
}

}  // namespace
}  // namespace aw
