#include "src/uvx/handle.h"

#include <cstdio>
#include <exception>

namespace aw::uvx {
namespace {

// Callback trampolines are noexcept and catch everything (STYLE §2): an exception
// must never unwind through libuv's C frames.
template <class F>
void guarded(F&& f) noexcept {
  try {
    f();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "agentwatch: uncaught exception in loop callback: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "agentwatch: uncaught exception in loop callback\n");
  }
}

}  // namespace

Timer::Timer(uv_loop_t* loop, std::function<void()> on_fire) : on_fire_(std::move(on_fire)) {
  if (uv_timer_init(loop, h_.get()) == 0) h_.initialized(this);
}

void Timer::start(std::uint64_t delay_ms, std::uint64_t repeat_ms) {
  uv_timer_start(
      h_.get(),
      [](uv_timer_t* t) noexcept {
        auto* self = static_cast<Timer*>(t->data);
        if (self) guarded([&] { self->on_fire_(); });
      },
      delay_ms, repeat_ms);
}

void Timer::stop() {
  uv_timer_stop(h_.get());
}
bool Timer::active() const {
  return uv_is_active(h_.base()) != 0;
}

Poll::Poll(uv_loop_t* loop, int fd, std::function<void(int, int)> on_ready)
    : on_ready_(std::move(on_ready)) {
  init_status_ = uv_poll_init(loop, h_.get(), fd);
  if (init_status_ == 0) h_.initialized(this);
}

int Poll::start(int events) {
  if (init_status_ != 0) return init_status_;
  return uv_poll_start(h_.get(), events, [](uv_poll_t* p, int status, int events) noexcept {
    auto* self = static_cast<Poll*>(p->data);
    if (self) guarded([&] { self->on_ready_(status, events); });
  });
}

void Poll::stop() {
  if (init_status_ == 0) uv_poll_stop(h_.get());
}

Idle::Idle(uv_loop_t* loop, std::function<void()> on_idle) : on_idle_(std::move(on_idle)) {
  if (uv_idle_init(loop, h_.get()) == 0) h_.initialized(this);
}

void Idle::start() {
  if (!h_.live() || active()) return;
  uv_idle_start(h_.get(), [](uv_idle_t* h) noexcept {
    auto* self = static_cast<Idle*>(h->data);
    if (self) guarded([&] { self->on_idle_(); });
  });
}

void Idle::stop() {
  if (h_.live()) uv_idle_stop(h_.get());
}

Signal::Signal(uv_loop_t* loop, int signum, std::function<void()> on_signal)
    : on_signal_(std::move(on_signal)) {
  if (uv_signal_init(loop, h_.get()) != 0) return;
  h_.initialized(this);
  uv_signal_start(
      h_.get(),
      [](uv_signal_t* s, int) noexcept {
        auto* self = static_cast<Signal*>(s->data);
        if (self) guarded([&] { self->on_signal_(); });
      },
      signum);
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
      [](uv_work_t* w) noexcept { guarded([&] { static_cast<WorkRequest*>(w->data)->work(); }); },
      [](uv_work_t* w, int) noexcept {
        auto* req = static_cast<WorkRequest*>(w->data);
        guarded([&] {
          if (req->done) req->done();
        });
        delete req;
      });
  if (rc != 0) delete r;
  return rc;
}

}  // namespace aw::uvx
