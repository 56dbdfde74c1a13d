#include "src/daemon/disk_monitor.h"

#include <spdlog/spdlog.h>

#include <memory>

#include "src/core/event_kinds.h"

namespace aw {

DiskMonitor::DiskMonitor(uv_loop_t* loop, std::vector<DiskWatch> watches, Submit submit)
    : loop_(loop), submit_(std::move(submit)) {
  for (DiskWatch& w : watches) states_.push_back(State{std::move(w)});
}

void DiskMonitor::on_event(const Event& e) {
  if (e.kind != kind::kFileLanded) return;
  const std::optional<std::string> watch = e.fields.get_string("watch");
  if (!watch) return;
  for (std::size_t i = 0; i < states_.size(); ++i) {
    State& s = states_[i];
    if (s.watch.name != *watch) continue;
    s.since_check +=
        static_cast<std::uint64_t>(std::max<std::int64_t>(0, e.fields.get_int("size").value_or(0)));
    if (s.since_check >= kCheckAfterBytes && !s.checking) check(i, nullptr, {});
    return;
  }
}

void DiskMonitor::check_all(const Event* cause, std::function<void(int low, int checked)> done) {
  struct Tally {
    int left = 0, low = 0, checked = 0;
    std::function<void(int, int)> done;
  };
  auto tally = std::make_shared<Tally>();
  tally->done = std::move(done);
  tally->left = static_cast<int>(states_.size());
  if (tally->left == 0) {
    if (tally->done) tally->done(0, 0);
    return;
  }
  for (std::size_t i = 0; i < states_.size(); ++i) {
    check(i, cause, [tally](bool low) {
      ++tally->checked;
      if (low) ++tally->low;
      if (--tally->left == 0 && tally->done) tally->done(tally->low, tally->checked);
    });
  }
}

void DiskMonitor::check(std::size_t index, const Event* cause,
                        const std::function<void(bool low)>& done) {
  State& s = states_[index];
  s.checking = true;
  s.since_check = 0;
  auto result = std::make_shared<Result<DiskSpace>>(make_error("not checked"));
  const std::uint64_t cause_seq = cause ? cause->seq : 0;
  const std::uint32_t depth = cause ? cause->depth + 1 : 0;
  const std::string rule = cause ? cause->rule : "";
  const int rc = uvx::queue_work(
      loop_, owner_, [result, root = s.watch.root] { *result = disk_space(root); },
      [this, index, result, cause_seq, depth, done] {
        State& st = states_[index];
        st.checking = false;
        if (!result->ok()) {
          spdlog::warn("disk check of {}: {}", st.watch.root, result->error().message);
          if (done) done(false);
          return;
        }
        const DiskSpace& d = **result;
        const bool low = below_threshold(d, st.watch.min_free);
        if (low || st.low) {
          Event e;
          e.kind = low ? kind::kDiskLow : kind::kDiskOk;
          e.source = "disk";
          e.cause = cause_seq;
          e.depth = depth;
          e.fields.set("watch", st.watch.name);
          e.fields.set("root", st.watch.root);
          e.fields.set("free_bytes", static_cast<std::int64_t>(d.free_bytes));
          e.fields.set("total_bytes", static_cast<std::int64_t>(d.total_bytes));
          e.fields.set("free_percent", d.total_bytes == 0
                                           ? 0.0
                                           : 100.0 * static_cast<double>(d.free_bytes) /
                                                 static_cast<double>(d.total_bytes));
          e.fields.set("min_free", st.watch.min_free_text);
          submit_(std::move(e));
        }
        st.low = low;
        if (done) done(low);
      });
  if (rc != 0) {
    s.checking = false;
    if (done) done(false);
  }
}

}  // namespace aw
