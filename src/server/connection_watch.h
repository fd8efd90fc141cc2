// Noticing a client that went away while its request is still being generated, so the engine can
// stop working for it (a dropped stream cancels the request within one step).
//
// cpp-httplib gives a handler neither the socket nor a "closed" callback, and a write only fails
// after the peer's reset has come back. The watch finds the connection's socket once (the one
// whose local and peer addresses are the request's), then asks the kernel with a zero-timeout
// poll whether the peer has hung up (POLLRDHUP): a closed browser tab or a killed curl shows at
// the next check, whether or not anything is being written.
#pragma once

#include <string>

namespace httplib {
struct Request;
}

namespace medassist::server {

class ConnectionWatch {
 public:
  ConnectionWatch() = default;
  explicit ConnectionWatch(const httplib::Request& request);
  // True once the peer has closed or reset the connection. Never true when the socket was not
  // found (then the next failed write is what notices).
  bool PeerClosed() const;
  bool found() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

}  // namespace medassist::server
