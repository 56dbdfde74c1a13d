#include "src/tmux/tmux_watch.h"

#include <algorithm>
#include <optional>

namespace aw {

TmuxWatch::TmuxWatch(uv_loop_t* loop, const Clock& clock, TmuxClient& client, EmitFn emit,
                     SnapshotFn on_snapshot, TmuxWatchOptions options)
    : clock_(clock),
      client_(client),
      emit_(std::move(emit)),
      on_snapshot_(std::move(on_snapshot)),
      options_(options),
      retry_(loop, [this] { reconcile("retry"); }) {}

TmuxWatch::~TmuxWatch() = default;

void TmuxWatch::reconcile(std::string reason) {
  if (in_flight_) {
    if (!queued_) queued_reason_ = std::move(reason);
    queued_ = true;
    return;
  }
  retry_.stop();
  start(std::move(reason));
}

void TmuxWatch::start(std::string reason) {
  in_flight_ = true;
  ++queries_;
  std::weak_ptr<char> alive = alive_;
  client_.run(list_panes_args(), [this, alive, reason = std::move(reason)](Result<TmuxReply> r) {
    if (alive.expired()) return;
    on_reply(reason, std::move(r));
  });
}

void TmuxWatch::on_reply(const std::string& reason, Result<TmuxReply> reply) {
  in_flight_ = false;
  std::optional<TmuxSnapshot> fresh;
  std::string error;
  if (!reply) {
    error = reply.error().message;
  } else if (reply->ok()) {
    auto parsed = parse_list_panes(reply->out);
    if (parsed)
      fresh = std::move(*parsed);
    else
      error = parsed.error().message;
  } else if (reply->no_server()) {
    fresh = TmuxSnapshot{};  // known: no sessions
  } else {
    error = reply_status(reply, "tmux list-panes").error().message;
  }

  std::vector<Event> events;
  if (fresh) {
    events = diff_snapshots(last_, *fresh, clock_.wall());
    last_ = std::move(*fresh);
    failures_ = 0;
    for (Event& e : events) e.fields.set("reason", FieldValue(reason));
  } else {
    ++failures_;
    Event e;
    e.kind = "tmux.reconcile.failed";
    e.source = "tmux";
    e.time = clock_.wall();
    e.fields.set("reason", FieldValue(reason));
    e.fields.set("error", FieldValue(error));
    e.fields.set("failures", FieldValue(std::int64_t{failures_}));
    if (!queued_ && failures_ <= options_.max_retries) {
      Duration delay = options_.first_retry;
      for (int i = 1; i < failures_ && delay < options_.max_retry; ++i) delay *= 2;
      delay = std::min(delay, options_.max_retry);
      e.fields.set("retry_ms", FieldValue(to_ms(delay)));
      retry_.start(static_cast<std::uint64_t>(std::max<std::int64_t>(0, to_ms(delay))));
    }
    events.push_back(std::move(e));
  }

  // The follow-up starts before any callback runs, so a reconcile() from
  // inside one is queued behind it instead of starting a second query.
  if (queued_) {
    queued_ = false;
    start(std::move(queued_reason_));
  }
  std::weak_ptr<char> alive = alive_;
  for (Event& e : events) {
    if (emit_) emit_(std::move(e));
    if (alive.expired()) return;
  }
  if (on_snapshot_) on_snapshot_(last_, fresh.has_value());
}

}  // namespace aw
