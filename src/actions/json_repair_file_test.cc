#include "src/actions/json_repair_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/json/json_check.h"
#include "src/os/test_support.h"

namespace aw {
namespace {

using aw::testing::exists;
using aw::testing::make_dirs;
using aw::testing::read_file;
using aw::testing::TempDir;
using aw::testing::write_file;

constexpr const char* kTruncated = R"({"agent": "a1", "status": "done", "items": [1, 2)";
constexpr const char* kGarbage = "Traceback (most recent call last):\n";

mode_t mode_of(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? (st.st_mode & 07777) : 0;
}

class RepairJsonFileTest : public ::testing::Test {
 protected:
  void SetUp() override { make_dirs(root_ / "temp/s1"); }
  RepairJsonSpec spec(const std::string& source) {
    RepairJsonSpec s;
    s.source = source;
    s.root = root_.path();
    s.rule = "r";
    s.cause_seq = 7;
    return s;
  }
  TempDir root_;
};

TEST(RepairedName, InsertsBeforeTheLastExtension) {
  EXPECT_EQ(detail::repaired_name("a1.json"), "a1.repaired.json");
  EXPECT_EQ(detail::repaired_name("a1"), "a1.repaired");
  EXPECT_EQ(detail::repaired_name(".hidden"), ".hidden.repaired");
  EXPECT_EQ(detail::repaired_name("v1.2.json"), "v1.2.repaired.json");
}

TEST_F(RepairJsonFileTest, ATruncatedResultGetsAValidCopyBesideItAndIsKept) {
  const std::string src = root_ / "temp/s1/a1.json";
  write_file(src, kTruncated);
  ActionOutcome o = repair_json_file(spec(src));
  ASSERT_TRUE(o.ok) << o.message;
  EXPECT_EQ(o.fields.get_string("result"), "repaired");
  const std::string copy = root_ / "temp/s1/a1.repaired.json";
  EXPECT_EQ(o.fields.get_string("repaired"), copy);
  EXPECT_EQ(o.fields.get_int("error_offset"), static_cast<std::int64_t>(strlen(kTruncated)));
  EXPECT_FALSE(o.fields.get_string("changes").value_or("").empty());
  EXPECT_EQ(check_json(read_file(copy)), std::nullopt) << read_file(copy);
  EXPECT_EQ(mode_of(copy), 0600u);
  EXPECT_EQ(read_file(src), kTruncated) << "the original is kept as it was";
}

TEST_F(RepairJsonFileTest, WithToAndQuarantineTheCopyGoesThereAndTheOriginalIsQuarantined) {
  const std::string src = root_ / "temp/s1/a1.json";
  write_file(src, kTruncated);
  RepairJsonSpec s = spec(src);
  s.to = root_ / "completed";
  s.quarantine = root_ / "quarantine/s1";
  ActionOutcome o = repair_json_file(s);
  ASSERT_TRUE(o.ok) << o.message;
  const std::string copy = root_ / "completed/a1.repaired.json";
  EXPECT_TRUE(exists(copy));
  EXPECT_FALSE(exists(src));
  const std::string kept = root_ / "quarantine/s1/a1.json";
  EXPECT_EQ(read_file(kept), kTruncated);
  EXPECT_EQ(o.fields.get_string("quarantined"), kept);
  const std::string reason = read_file(kept + ".reason");
  EXPECT_NE(reason.find("repaired into " + copy), std::string::npos) << reason;
  EXPECT_NE(reason.find("\"error_offset\":" + std::to_string(strlen(kTruncated))),
            std::string::npos)
      << reason;
}

TEST_F(RepairJsonFileTest, AnUnrepairableResultIsQuarantinedWithTheParsersErrorAndOffset) {
  const std::string src = root_ / "temp/s1/a1.json";
  write_file(src, kGarbage);
  RepairJsonSpec s = spec(src);
  s.quarantine = root_ / "quarantine";
  ActionOutcome o = repair_json_file(s);
  ASSERT_TRUE(o.ok) << o.message;
  EXPECT_EQ(o.fields.get_string("result"), "quarantined");
  EXPECT_EQ(o.fields.get_int("error_offset"), 0);
  EXPECT_FALSE(exists(root_ / "temp/s1/a1.repaired.json"));
  const std::string reason = read_file(root_ / "quarantine/a1.json.reason");
  EXPECT_NE(reason.find("not valid JSON at byte 0"), std::string::npos) << reason;
  EXPECT_NE(reason.find("\"error_offset\":0"), std::string::npos) << reason;
  EXPECT_EQ(read_file(root_ / "quarantine/a1.json"), kGarbage);
}

TEST_F(RepairJsonFileTest, AnUnrepairableResultWithoutAQuarantineFailsAndStays) {
  const std::string src = root_ / "temp/s1/a1.json";
  write_file(src, "");
  ActionOutcome o = repair_json_file(spec(src));
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.category, outcome_category::kExecution);
  EXPECT_NE(o.message.find("not repairable"), std::string::npos) << o.message;
  EXPECT_TRUE(exists(src));
}

TEST_F(RepairJsonFileTest, AValidFileIsLeftAlone) {
  const std::string src = root_ / "temp/s1/a1.json";
  write_file(src, R"({"ok": true})");
  RepairJsonSpec s = spec(src);
  s.quarantine = root_ / "quarantine";
  ActionOutcome o = repair_json_file(s);
  ASSERT_TRUE(o.ok) << o.message;
  EXPECT_EQ(o.fields.get_string("result"), "valid");
  EXPECT_TRUE(exists(src));
  EXPECT_FALSE(exists(root_ / "temp/s1/a1.repaired.json"));
  EXPECT_FALSE(exists(root_ / "quarantine"));
}

TEST_F(RepairJsonFileTest, RunningAgainReusesTheSameCopyAndNeverOverwritesAnother) {
  const std::string src = root_ / "temp/s1/a1.json";
  write_file(src, kTruncated);
  ASSERT_TRUE(repair_json_file(spec(src)).ok);
  ActionOutcome again = repair_json_file(spec(src));
  ASSERT_TRUE(again.ok) << again.message;
  EXPECT_EQ(again.fields.get_string("repaired"), root_ / "temp/s1/a1.repaired.json");
  EXPECT_FALSE(exists(root_ / "temp/s1/a1.repaired.1.json"));

  write_file(root_ / "temp/s1/b1.repaired.json", "someone else's");
  write_file(root_ / "temp/s1/b1.json", kTruncated);
  ActionOutcome other = repair_json_file(spec(root_ / "temp/s1/b1.json"));
  ASSERT_TRUE(other.ok) << other.message;
  EXPECT_EQ(other.fields.get_string("repaired"), root_ / "temp/s1/b1.repaired.1.json");
  EXPECT_EQ(read_file(root_ / "temp/s1/b1.repaired.json"), "someone else's");
}

TEST_F(RepairJsonFileTest, AResumedRunFindsTheOriginalAlreadyQuarantined) {
  const std::string src = root_ / "temp/s1/a1.json";
  write_file(src, kGarbage);
  RepairJsonSpec s = spec(src);
  s.quarantine = root_ / "quarantine";
  ASSERT_TRUE(repair_json_file(s).ok);
  s.resumed = true;
  ActionOutcome o = repair_json_file(s);
  ASSERT_TRUE(o.ok) << o.message;
  EXPECT_EQ(o.fields.get_string("result"), "quarantined");
  EXPECT_FALSE(exists(root_ / "quarantine/a1.1.json")) << "quarantined once";
  s.resumed = false;
  EXPECT_EQ(repair_json_file(s).category, outcome_category::kNotFound);
}

TEST_F(RepairJsonFileTest, AResumedRunFinishesTheCopyOfAnOriginalAlreadyQuarantined) {
  // The killed attempt moved the original and died before writing the copy.
  make_dirs(root_ / "quarantine");
  write_file(root_ / "quarantine/a1.json", kTruncated);
  RepairJsonSpec s = spec(root_ / "temp/s1/a1.json");
  s.quarantine = root_ / "quarantine";
  s.resumed = true;
  ActionOutcome o = repair_json_file(s);
  ASSERT_TRUE(o.ok) << o.message;
  EXPECT_EQ(o.fields.get_string("result"), "repaired");
  EXPECT_EQ(check_json(read_file(root_ / "temp/s1/a1.repaired.json")), std::nullopt);
  EXPECT_EQ(read_file(root_ / "quarantine/a1.json"), kTruncated);
  EXPECT_FALSE(exists(root_ / "quarantine/a1.1.json"));
}

TEST_F(RepairJsonFileTest, AResumedRunWhoseSessionMovedOnNeverRecreatesItsDirectory) {
  // The killed attempt quarantined the original and wrote the copy; the copy
  // completed the session, which moved to completed/.
  make_dirs(root_ / "quarantine");
  write_file(root_ / "quarantine/a1.json", kTruncated);
  ASSERT_EQ(::rename((root_ / "temp/s1").c_str(), (root_ / "temp/moved").c_str()), 0);
  RepairJsonSpec s = spec(root_ / "temp/s1/a1.json");
  s.quarantine = root_ / "quarantine";
  s.resumed = true;
  ActionOutcome o = repair_json_file(s);
  ASSERT_TRUE(o.ok) << o.message;
  EXPECT_EQ(o.fields.get_string("result"), "repaired");
  EXPECT_FALSE(exists(root_ / "temp/s1"));
  s.resumed = false;
  EXPECT_EQ(repair_json_file(s).category, outcome_category::kNotFound);
}

TEST_F(RepairJsonFileTest, NeverFollowsASymlinkNorLeavesTheRoot) {
  TempDir outside;
  write_file(outside / "secret.json", kTruncated);
  ASSERT_EQ(::symlink((outside / "secret.json").c_str(), (root_ / "temp/s1/a1.json").c_str()), 0);
  ActionOutcome link = repair_json_file(spec(root_ / "temp/s1/a1.json"));
  EXPECT_FALSE(link.ok);
  EXPECT_EQ(link.category, outcome_category::kPermission) << link.message;
  ActionOutcome out = repair_json_file(spec(outside / "secret.json"));
  EXPECT_FALSE(out.ok);
  EXPECT_EQ(out.category, outcome_category::kPermission) << out.message;
  RepairJsonSpec s = spec(root_ / "temp/s1/b.json");
  write_file(root_ / "temp/s1/b.json", kTruncated);
  s.to = outside.path();
  EXPECT_EQ(repair_json_file(s).category, outcome_category::kPermission);
  EXPECT_FALSE(exists(outside / "b.repaired.json"));
}

TEST_F(RepairJsonFileTest, ALargerFileThanTheLimitIsRefused) {
  const std::string src = root_ / "temp/s1/a1.json";
  write_file(src, std::string(4096, '['));
  RepairJsonSpec s = spec(src);
  s.max_bytes = 1024;
  ActionOutcome o = repair_json_file(s);
  EXPECT_FALSE(o.ok);
  EXPECT_NE(o.message.find("larger than 1024 bytes"), std::string::npos) << o.message;
  EXPECT_TRUE(exists(src));
}

}  // namespace
}  // namespace aw
