// RAII ownership of libuv handles (STYLE §2).
//
// libuv's rule: once init succeeds the handle must be closed, and its memory may
// be freed only in the close callback. A Handle<H> heap-allocates the uv struct so
// the owning C++ object can die before the close completes: the destructor clears
// `data` (no callback can reach a dead owner) and calls uv_close, whose callback
// deletes the struct. All of this happens on the loop thread.
//
// A Handle cannot be moved: `data` points at whatever owns it, and a move would
// leave that pointer behind. Hold it in place, or behind a unique_ptr.
#pragma once

#include <uv.h>

#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <utility>

namespace aw::uvx {

template <class H>
class Handle {
 public:
  Handle() : h_(new H{}) {}
  ~Handle() { reset(); }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  Handle(Handle&&) = delete;
  Handle& operator=(Handle&&) = delete;

  H* get() const { return h_; }
  uv_handle_t* base() const { return reinterpret_cast<uv_handle_t*>(h_); }
  // Call after the uv_*_init succeeded: from then on the handle must be closed.
  void initialized(void* data) {
    live_ = true;
    h_->data = data;
  }
  bool live() const { return live_; }

  void reset() {
    if (!h_) return;
    if (live_) {
      h_->data = nullptr;
      if (!uv_is_closing(base()))
        uv_close(base(), [](uv_handle_t* h) { delete reinterpret_cast<H*>(h); });
    } else {
      delete h_;
    }
    h_ = nullptr;
    live_ = false;
  }

 private:
  H* h_;
  bool live_ = false;
};

// Callback trampolines are noexcept and catch everything (STYLE §2): an
// exception must never unwind through libuv's C frames. `where` names the
// callback's owner in the report ("notify", "control", ...).
void report_uncaught(const char* where, const char* what) noexcept;
template <class F>
void guarded(const char* where, F&& f) noexcept {
  try {
    f();
  } catch (const std::exception& e) {
    report_uncaught(where, e.what());
  } catch (...) {
    report_uncaught(where, nullptr);
  }
}

// The wrappers below own their callback in a shared box that the handle's
// `data` points at. The trampoline holds the box while the callback runs, so:
//   - a wrapper may be destroyed from inside its own callback (the callback and
//     what it captured stay alive until it returns; no further call comes);
//   - a wrapper may be moved: `data` follows the box, not the wrapper. A
//     moved-from wrapper may only be destroyed.
template <class... Args>
struct CallbackBox : std::enable_shared_from_this<CallbackBox<Args...>> {
  explicit CallbackBox(std::function<void(Args...)> f) : fn(std::move(f)) {}
  std::function<void(Args...)> fn;
};

// A one-shot or repeating timer calling a std::function. Idle means idle: a
// stopped Timer causes no wake-ups.
class Timer {
 public:
  Timer(uv_loop_t* loop, std::function<void()> on_fire);
  // Fires once after `delay_ms` (then every `repeat_ms` if non-zero).
  void start(std::uint64_t delay_ms, std::uint64_t repeat_ms = 0);
  void stop();
  bool active() const;
  // Keeps the loop from staying alive for this timer alone (see uv_unref).
  void unref() { uv_unref(h_->base()); }

 private:
  // The box outlives the handle's `data` pointing at it (h_ goes first).
  std::shared_ptr<CallbackBox<>> box_;
  std::unique_ptr<Handle<uv_timer_t>> h_;
};

// Readiness of a file descriptor the caller owns (inotify fd, pidfd, socket).
class Poll {
 public:
  // `on_ready(status, events)`: status < 0 is a libuv error; events are UV_READABLE etc.
  Poll(uv_loop_t* loop, int fd, std::function<void(int status, int events)> on_ready);
  int start(int events);
  void stop();
  int init_status() const { return init_status_; }

 private:
  // The box outlives the handle's `data` pointing at it (h_ goes first).
  std::shared_ptr<CallbackBox<int, int>> box_;
  std::unique_ptr<Handle<uv_poll_t>> h_;
  int init_status_ = 0;
};

// Runs its callback once per loop iteration while started, after I/O has been
// polled (without blocking). For work done in slices: unlike a zero-delay timer
// re-armed from its own callback, which libuv 1.44 runs again in the same timer
// pass (starving I/O), an idle handle yields to I/O between slices.
class Idle {
 public:
  Idle(uv_loop_t* loop, std::function<void()> on_idle);
  void start();
  void stop();
  bool active() const { return uv_is_active(h_->base()) != 0; }

 private:
  // The box outlives the handle's `data` pointing at it (h_ goes first).
  std::shared_ptr<CallbackBox<>> box_;
  std::unique_ptr<Handle<uv_idle_t>> h_;
};

class Signal {
 public:
  Signal(uv_loop_t* loop, int signum, std::function<void()> on_signal);
  void unref() { uv_unref(h_->base()); }

 private:
  // The box outlives the handle's `data` pointing at it (h_ goes first).
  std::shared_ptr<CallbackBox<>> box_;
  std::unique_ptr<Handle<uv_signal_t>> h_;
};

// Runs `work` on libuv's thread pool, then `done` on the loop thread. `work` must
// touch nothing the loop thread uses; it communicates only through what it
// captures by value (or owns) and `done` reads afterwards. Returns a negative
// errno if the request could not be queued (then neither function runs).
//
// This form is for work whose completion owns what it touches (it captures
// shared_ptrs: a store's journal link, a persister): it always runs. Work whose
// completion calls back into an object takes that object's WorkOwner below.
int queue_work(uv_loop_t* loop, std::function<void()> work, std::function<void()> done);

// The owner token of thread-pool work: the object whose methods a completion
// calls holds one (as a member, so it dies with the object). A job queued with
// it runs its `done` only while the owner lives; once the owner is destroyed,
// the job's `orphaned` runs instead (to undo what `work` left behind, such as
// a temp file), or nothing. `work` itself always runs: the pool cannot be
// cancelled once it has started, and `work` must not touch the owner anyway.
// Loop thread only; neither copyable nor movable (jobs hold its address' fate).
class WorkOwner {
 public:
  WorkOwner() = default;
  ~WorkOwner() { *alive_ = false; }
  WorkOwner(const WorkOwner&) = delete;
  WorkOwner& operator=(const WorkOwner&) = delete;

  bool alive() const { return *alive_; }

 private:
  friend int queue_work(uv_loop_t*, const WorkOwner&, std::function<void()>, std::function<void()>,
                        std::function<void()>);
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

int queue_work(uv_loop_t* loop, const WorkOwner& owner, std::function<void()> work,
               std::function<void()> done, std::function<void()> orphaned = {});

}  // namespace aw::uvx
