// Serving one of the benchmark's cpp-httplib servers (the floor, the FHIR responder): bound
// with a deep listen backlog, "PORT=<n>" on stdout once it accepts connections, stopped by
// SIGINT or SIGTERM.
//
// The backlog: Debian 12's cpp-httplib listens with a backlog of 5, fixed in its shared
// library. When more clients connect at once (wrk opening 32 connections, a CRD call reading
// eight searches) the kernel drops the other SYNs, and each of those clients waits a second
// for its retry, which the benchmark's percentiles would show as the server's time when it is
// only the queue's. Listening again on the bound socket deepens the queue (Linux keeps the
// socket and takes the new backlog).
//
//   httplib::Server server;
//   ... handlers ...
//   return bench::serve(server, "127.0.0.1", port, "bench_floor_server");
#pragma once

#include <httplib.h>
#include <sys/socket.h>

#include <csignal>
#include <cstdio>
#include <memory>
#include <string>

namespace bench {

inline httplib::Server* g_serving = nullptr;

// Binds `server` to bind:port (port 0: any free port), prints the port and serves until a
// signal stops it. Returns the process's exit status.
inline int serve(httplib::Server& server, const std::string& bind, int port, const char* program) {
  auto fd = std::make_shared<int>(-1);
  server.set_socket_options([fd](socket_t sock) {
    httplib::default_socket_options(sock);
    *fd = sock;
  });
  int bound =
      port == 0 ? server.bind_to_any_port(bind) : (server.bind_to_port(bind, port) ? port : -1);
  if (bound < 0) {
    std::fprintf(stderr, "%s: cannot bind %s:%d\n", program, bind.c_str(), port);
    return 1;
  }
  if (*fd < 0 || ::listen(*fd, SOMAXCONN) != 0) {
    std::fprintf(stderr, "%s: cannot deepen the listen backlog\n", program);
    return 1;
  }
  g_serving = &server;
  auto stop = [](int) {
    if (g_serving) g_serving->stop();
  };
  std::signal(SIGINT, stop);
  std::signal(SIGTERM, stop);
  std::printf("PORT=%d\n", bound);
  std::fflush(stdout);
  server.listen_after_bind();
  return 0;
}

}  // namespace bench
