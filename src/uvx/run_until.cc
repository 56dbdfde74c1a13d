#include "src/uvx/run_until.h"

namespace aw::uvx {

namespace {

using Condition = std::function<bool()>;

template <typename H>
void stop_if_done(H* h) {
  if ((*static_cast<const Condition*>(h->data))()) uv_stop(h->loop);
}

// Heap-allocated: a handle must live until its close callback, which runs in a
// later iteration (the next uv_run of whoever owns the loop).
template <typename H>
void close_and_free(H* h) {
  h->data = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(h),
           [](uv_handle_t* c) noexcept { delete reinterpret_cast<H*>(c); });
}

}  // namespace

bool run_until(uv_loop_t* loop, const Condition& done) {
  if (done()) return true;
  // Checked twice per iteration: before the poll (after timers, pending and
  // idle callbacks) and right after it (after I/O callbacks), so no phase runs
  // once the condition holds.
  auto* before_poll = new uv_prepare_t;
  auto* after_poll = new uv_check_t;
  uv_prepare_init(loop, before_poll);
  uv_check_init(loop, after_poll);
  before_poll->data = const_cast<Condition*>(&done);
  after_poll->data = const_cast<Condition*>(&done);
  uv_prepare_start(before_poll, [](uv_prepare_t* h) noexcept { stop_if_done(h); });
  uv_check_start(after_poll, [](uv_check_t* h) noexcept { stop_if_done(h); });
  // They watch; they must not keep a loop with nothing else to do alive.
  uv_unref(reinterpret_cast<uv_handle_t*>(before_poll));
  uv_unref(reinterpret_cast<uv_handle_t*>(after_poll));
  // One run: it returns when `done()` stopped it, when the loop has nothing
  // left, or when another uv_stop came first.
  uv_run(loop, UV_RUN_DEFAULT);
  close_and_free(before_poll);
  close_and_free(after_poll);
  return done();
}

}  // namespace aw::uvx
