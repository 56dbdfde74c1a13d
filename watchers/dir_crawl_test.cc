// The crawl on a real directory tree (mkdtemp): order, classification, slices,
// symlinks never followed.
#include "watchers/dir_crawl.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace aw {
namespace {

namespace fs = std::filesystem;

class Recorder final : public DirCrawl::Visitor {
 public:
  bool live() const override { return alive; }
  void file(const std::string& rel, const struct stat&) override { seen.push_back("f " + rel); }
  bool dir(int parent_fd, const std::string& rel) override {
    EXPECT_GE(parent_fd, 0);
    seen.push_back("d " + rel);
    return rel != skip;
  }
  void symlink(int, const std::string& rel) override { seen.push_back("l " + rel); }

  bool alive = true;
  std::string skip;
  std::vector<std::string> seen;
};

class DirCrawlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/aw-crawl-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    root_ = dir_ + "/root";
    fs::create_directories(root_ + "/b/inner");
    fs::create_directories(root_ + "/a");
    fs::create_directories(dir_ + "/outside");
    for (const char* f : {"z.json", "a/1.json", "b/2.json", "b/inner/3.json"})
      std::ofstream(root_ + "/" + f) << "{}";
    std::ofstream(dir_ + "/outside/secret.json") << "{}";
    fs::create_symlink(dir_ + "/outside", root_ + "/link");
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string dir_, root_;
};

TEST_F(DirCrawlTest, DepthFirstInNameOrderAndSymlinksNotFollowed) {
  DirCrawl crawl(root_, "");
  Recorder v;
  std::size_t budget = 1000;
  ASSERT_TRUE(crawl.step(budget, v));
  EXPECT_EQ(v.seen, (std::vector<std::string>{"d a", "d b", "l link", "f z.json", "f a/1.json",
                                              "f b/2.json", "d b/inner", "f b/inner/3.json"}));
}

TEST_F(DirCrawlTest, AVisitorSaysWhichDirectoriesToEnter) {
  DirCrawl crawl(root_, "");
  Recorder v;
  v.skip = "b";
  std::size_t budget = 1000;
  ASSERT_TRUE(crawl.step(budget, v));
  for (const auto& s : v.seen) EXPECT_EQ(s.find(" b/"), std::string::npos) << s;
}

TEST_F(DirCrawlTest, RunsInSlicesOfTheBudget) {
  DirCrawl crawl(root_, "");
  Recorder v;
  int slices = 0;
  for (bool done = false; !done; ++slices) {
    std::size_t budget = 2;
    done = crawl.step(budget, v);
    ASSERT_LT(slices, 100);
  }
  EXPECT_GE(slices, 5);
  EXPECT_EQ(v.seen.size(), 8u);
}

TEST_F(DirCrawlTest, StopsAtOnceWhenTheVisitorIsNoLongerLive) {
  DirCrawl crawl(root_, "");
  Recorder v;
  v.alive = false;
  std::size_t budget = 1000;
  EXPECT_FALSE(crawl.step(budget, v));
  EXPECT_TRUE(v.seen.empty());
}

TEST_F(DirCrawlTest, StartsBelowTheRootAndSkipsWhatIsGone) {
  DirCrawl sub(root_, "b");
  Recorder v;
  std::size_t budget = 1000;
  ASSERT_TRUE(sub.step(budget, v));
  EXPECT_EQ(v.seen, (std::vector<std::string>{"f b/2.json", "d b/inner", "f b/inner/3.json"}));
  DirCrawl gone(root_, "nope");
  Recorder w;
  budget = 1000;
  EXPECT_TRUE(gone.step(budget, w));
  EXPECT_TRUE(w.seen.empty());
  DirCrawl through_link(root_, "link");
  budget = 1000;
  EXPECT_TRUE(through_link.step(budget, w));
  EXPECT_TRUE(w.seen.empty()) << "a symlinked directory is never entered";
}

}  // namespace
}  // namespace aw
