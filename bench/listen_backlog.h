// The listen backlog of the benchmark's cpp-httplib servers (the floor, the FHIR responder).
// Debian 12's cpp-httplib listens with a backlog of 5, fixed in its shared library: when more
// clients connect at once (wrk opening 32 connections, a CRD call reading eight searches),
// the kernel drops the other SYNs and each of those clients waits a second for its retry,
// which shows in the benchmark's percentiles as the server's fault when it is only the
// queue's. Listening again on the bound socket deepens the queue (Linux keeps the socket and
// takes the new backlog).
//
//   httplib::Server server;
//   ListenSocket socket(server);       // before binding
//   server.bind_to_any_port(...);
//   socket.deepen_backlog();           // after binding
#pragma once

#include <httplib.h>
#include <sys/socket.h>

#include <memory>

class ListenSocket {
 public:
  explicit ListenSocket(httplib::Server& server) : fd_(std::make_shared<int>(-1)) {
    server.set_socket_options([fd = fd_](socket_t sock) {
      httplib::default_socket_options(sock);
      *fd = sock;
    });
  }

  // False when the socket was not seen or the kernel refused.
  bool deepen_backlog(int backlog = SOMAXCONN) const {
    return *fd_ >= 0 && ::listen(*fd_, backlog) == 0;
  }

 private:
  std::shared_ptr<int> fd_;
};
