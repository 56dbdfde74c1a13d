// What every libuv stream reader and writer of this project shares: one read
// buffer per thread, and the write request that owns the bytes it sends.
#pragma once

#include <uv.h>

#include <cstddef>
#include <memory>
#include <string>

namespace aw::uvx {

inline constexpr std::size_t kReadChunk = 64 * 1024;

// One read buffer per thread: libuv reads one stream at a time, and what a
// read leaves unused is copied out before its callback returns.
inline char* shared_read_buffer() {
  thread_local std::unique_ptr<char[]> buf(new char[kReadChunk]);
  return buf.get();
}

// A queued write: the request and the bytes it points at live and die
// together (`req` first: the request's address is the object's).
struct WriteRequest {
  uv_write_t req{};
  std::string text;
};

}  // namespace aw::uvx
