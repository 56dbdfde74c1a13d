#include "src/uvx/handle.h"

#include <cstdio>
#include <exception>

namespace aw::uvx {
void report_uncaught(const char* where, const char* what) noexcept {
  if (what)
    std::fprintf(stderr, "agentwatch: uncaught exception in %s callback: %s\n", where, what);
  else
    std::fprintf(stderr, "agentwatch: uncaught exception in %s callback\n", where);
}

namespace {

// Calls the box a handle's `data` points at, holding it for the call: the
// wrapper may be destroyed inside (its `data` is then cleared, and the box
// lives until the call returns).
template <class... Args, class... CallArgs>
void call_box(void* data, CallArgs... args) noexcept {
  auto* box = static_cast<CallbackBox<Args...>*>(data);
  if (!box) return;
  std::shared_ptr<CallbackBox<Args...>> keep = box->shared_from_this();
  guarded("loop", [&] { keep->fn(args...); });
}

}  // namespace

Timer::Timer(uv_loop_t* loop, std::function<void()> on_fire)
    : box_(std::make_shared<CallbackBox<>>(std::move(on_fire))),
      h_(std::make_unique<Handle<uv_timer_t>>()) {
  if (uv_timer_init(loop, h_->get()) == 0) h_->initialized(box_.get());
}

void Timer::start(std::uint64_t delay_ms, std::uint64_t repeat_ms) {
  uv_timer_start(
      h_->get(), [](uv_timer_t* t) noexcept { call_box<>(t->data); }, delay_ms, repeat_ms);
}

void Timer::stop() {
  uv_timer_stop(h_->get());
}
bool Timer::active() const {
  return uv_is_active(h_->base()) != 0;
}

Poll::Poll(uv_loop_t* loop, int fd, std::function<void(int, int)> on_ready)
    : box_(std::make_shared<CallbackBox<int, int>>(std::move(on_ready))),
      h_(std::make_unique<Handle<uv_poll_t>>()) {
  init_status_ = uv_poll_init(loop, h_->get(), fd);
  if (init_status_ == 0) h_->initialized(box_.get());
}

int Poll::start(int events) {
  if (init_status_ != 0) return init_status_;
  return uv_poll_start(h_->get(), events, [](uv_poll_t* p, int status, int ready) noexcept {
    call_box<int, int>(p->data, status, ready);
  });
}

void Poll::stop() {
  if (init_status_ == 0) uv_poll_stop(h_->get());
}

Idle::Idle(uv_loop_t* loop, std::function<void()> on_idle)
    : box_(std::make_shared<CallbackBox<>>(std::move(on_idle))),
      h_(std::make_unique<Handle<uv_idle_t>>()) {
  if (uv_idle_init(loop, h_->get()) == 0) h_->initialized(box_.get());
}

void Idle::start() {
  if (!h_->live() || active()) return;
  uv_idle_start(h_->get(), [](uv_idle_t* h) noexcept { call_box<>(h->data); });
}

void Idle::stop() {
  if (h_->live()) uv_idle_stop(h_->get());
}

Signal::Signal(uv_loop_t* loop, int signum, std::function<void()> on_signal)
    : box_(std::make_shared<CallbackBox<>>(std::move(on_signal))),
      h_(std::make_unique<Handle<uv_signal_t>>()) {
  if (uv_signal_init(loop, h_->get()) != 0) return;
  h_->initialized(box_.get());
  uv_signal_start(
      h_->get(), [](uv_signal_t* s, int) noexcept { call_box<>(s->data); }, signum);
}

namespace {
struct WorkRequest {
  uv_work_t req{};
  std::function<void()> work;
  std::function<void()> done;
};
}  // namespace

int queue_work(uv_loop_t* loop, std::function<void()> work, std::function<void()> done) {
  auto* r = new WorkRequest{};
  r->work = std::move(work);
  r->done = std::move(done);
  r->req.data = r;
  int rc = uv_queue_work(
      loop, &r->req,
      [](uv_work_t* w) noexcept {
        guarded("loop", [&] { static_cast<WorkRequest*>(w->data)->work(); });
      },
      [](uv_work_t* w, int) noexcept {
        auto* req = static_cast<WorkRequest*>(w->data);
        guarded("loop", [&] {
          if (req->done) req->done();
        });
        delete req;
      });
  if (rc != 0) delete r;
  return rc;
}

int queue_work(uv_loop_t* loop, const WorkOwner& owner, std::function<void()> work,
               std::function<void()> done, std::function<void()> orphaned) {
  return queue_work(loop, std::move(work),
                    [alive = owner.alive_, done = std::move(done), orphaned = std::move(orphaned)] {
                      if (*alive) {
                        if (done) done();
                      } else if (orphaned) {
                        orphaned();
                      }
                    });
}

}  // namespace aw::uvx
