#include "src/daemon/agent_monitor.h"

#include <gtest/gtest.h>

#include <vector>

#include "src/core/event_kinds.h"
#include "src/os/test_support.h"

namespace aw {
namespace {

class AgentMonitorTest : public testing::LoopTest {
 protected:
  void SetUp() override {
    LoopTest::SetUp();
    monitor_ = std::make_unique<AgentMonitor>(&loop_, clock_,
                                              [this](Event e) { out_.push_back(std::move(e)); });
  }
  void TearDown() override {
    monitor_.reset();
    LoopTest::TearDown();
  }
  void hook(const std::string& event, const std::string& pane = "%3") {
    Event e;
    e.kind = "agent.hook";
    e.fields.set("agent", "claude");
    e.fields.set("event", event);
    e.fields.set("tmux_pane", pane);
    monitor_->observe(e);
  }
  void tmux(std::string_view kind, const std::string& pane, const std::string& session = "") {
    Event e;
    e.kind = std::string(kind);
    e.fields.set("pane", pane);
    if (!session.empty()) e.fields.set("session", session);
    monitor_->observe(e);
  }
  std::vector<std::string> tos() const {
    std::vector<std::string> v;
    for (const Event& e : out_) v.push_back(e.fields.get_string("to").value_or("?"));
    return v;
  }

  ManualClock clock_;
  std::unique_ptr<AgentMonitor> monitor_;
  std::vector<Event> out_;
};

TEST_F(AgentMonitorTest, APaneThatDiesIsExitedForGoodAndNamedByItsSession) {
  tmux(kind::kTmuxPaneAppeared, "%3", "worker-1");
  hook("UserPromptSubmit");
  tmux(kind::kTmuxPaneDied, "%3");
  ASSERT_EQ(tos(), (std::vector<std::string>{"working", "exited"}));
  EXPECT_EQ(out_.back().entity, "worker-1");
  EXPECT_EQ(out_.back().kind, kind::kAgentStatus);
  EXPECT_NE(out_.back().fields.get_string("evidence").value_or("").find("tmux.pane.died"),
            std::string::npos);
  // The process is gone: a late hook of it moves nothing.
  hook("Stop");
  EXPECT_EQ(out_.size(), 2u);
  EXPECT_NE(monitor_->agents_json().find(R"("status":"exited")"), std::string::npos);
}

TEST_F(AgentMonitorTest, OtherPanesAndUnknownHooksChangeNothing) {
  hook("UserPromptSubmit");
  tmux(kind::kTmuxPaneVanished, "%9");  // not an agent we know
  hook("SomeHookOfANewRelease");
  EXPECT_EQ(tos(), (std::vector<std::string>{"working"}));
  // A hook without a pane or a session id cannot be told apart: ignored.
  Event bare;
  bare.kind = "agent.hook";
  bare.fields.set("agent", "claude");
  bare.fields.set("event", "Stop");
  monitor_->observe(bare);
  EXPECT_EQ(monitor_->size(), 1u);
}

TEST_F(AgentMonitorTest, AgentsAreKeptApartByPane) {
  hook("UserPromptSubmit", "%1");
  hook("Stop", "%2");
  ASSERT_EQ(out_.size(), 2u);
  EXPECT_EQ(out_[0].fields.get_string("pane"), "%1");
  EXPECT_EQ(out_[1].fields.get_string("pane"), "%2");
  EXPECT_EQ(monitor_->size(), 2u);
}

}  // namespace
}  // namespace aw
