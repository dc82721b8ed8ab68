#include <cstdint>
#include <string>

#include "extension/src/pg/guard.hpp"
#include "extension/src/pg/remote.hpp"

extern "C" {
#include "miscadmin.h"
#include "storage/latch.h"
#include "utils/wait_event.h"
}

namespace dbsync::pg {

namespace {

// The backend's SocketWait: the socket, the latch (interrupts) and the deadline.
Status backend_socket_wait(int fd, bool for_read, bool for_write, int64_t deadline_ms) {
  for (;;) {
    int events = WL_LATCH_SET | WL_EXIT_ON_PM_DEATH;
    if (for_read) events |= WL_SOCKET_READABLE;
    if (for_write) events |= WL_SOCKET_WRITEABLE;
    long timeout = -1;
    if (deadline_ms >= 0) {
      int64_t left = deadline_ms - steady_clock_ms();
      if (left <= 0) return error(ErrorCode::kUnavailable, "timeout");
      timeout = static_cast<long>(left);
      events |= WL_TIMEOUT;
    }
    int rc =
        pg_call([&] { return WaitLatchOrSocket(MyLatch, events, fd, timeout, PG_WAIT_EXTENSION); });
    if (rc & WL_LATCH_SET)
      pg_call([] {
        ResetLatch(MyLatch);
        CHECK_FOR_INTERRUPTS();
      });
    if (rc & (WL_SOCKET_READABLE | WL_SOCKET_WRITEABLE)) return Status::ok();
  }
}

}  // namespace

void use_backend_socket_wait() { set_socket_wait(&backend_socket_wait); }

bool caller_is_superuser() {
  return pg_call([] { return superuser_arg(GetOuterUserId()); });
}

}  // namespace dbsync::pg
