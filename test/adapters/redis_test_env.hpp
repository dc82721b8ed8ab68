// The Redis tests' servers: the local stack's Redis (REDIS_URL from `test/stack/stack env`), and
// a private redis-server a test starts itself when it needs to stop, pause or password-protect
// one. Without REDIS_URL the stack tests skip with a message saying how to start the stack
// (test/run-suites counts a skip as a failure).
#pragma once

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "adapters/redis/redis_connection.hpp"

namespace dbsync::redis::testing {

inline const char* kStartTheStack =
    "REDIS_URL is not set: start the local stack and load its environment: "
    "test/stack/stack start && eval \"$(test/stack/stack env)\"";

inline std::optional<std::string> stack_redis_url() {
  const char* u = std::getenv("REDIS_URL");
  if (!u || !*u) return std::nullopt;
  return std::string(u);
}

// A TCP port on 127.0.0.1 with nothing listening (at the time of the call).
inline int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof(a);
  int port = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

// A unique job id per test in this process.
inline std::string test_job(const char* what) {
  static std::atomic<int> counter{0};
  return std::string("t") + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" +
         what;
}

// A redis-server of the test's own on a free port, its data in a temporary directory with an
// append-only file (so a stop and a start keep what was written).
class LocalRedis {
 public:
  explicit LocalRedis(std::optional<std::string> password = std::nullopt)
      : password_(std::move(password)) {
    char tmpl[] = "/tmp/dbsync-redis-test-XXXXXX";
    if (::mkdtemp(tmpl)) dir_ = tmpl;
    port_ = free_port();
  }
  ~LocalRedis() {
    stop();
    if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }
  LocalRedis(const LocalRedis&) = delete;
  LocalRedis& operator=(const LocalRedis&) = delete;

  int port() const { return port_; }
  std::string url(int db = 0) const {
    return "redis://127.0.0.1:" + std::to_string(port_) + "/" + std::to_string(db);
  }

  // Starts the server and waits (up to 10 s) until it answers.
  bool start() {
    if (pid_ > 0 || dir_.empty() || port_ <= 0) return pid_ > 0;
    std::vector<std::string> args{"redis-server",
                                  "--port",
                                  std::to_string(port_),
                                  "--bind",
                                  "127.0.0.1",
                                  "--save",
                                  "",
                                  "--appendonly",
                                  "yes",
                                  "--appendfsync",
                                  "always",
                                  "--dir",
                                  dir_,
                                  "--daemonize",
                                  "no",
                                  "--logfile",
                                  dir_ + "/redis.log"};
    if (password_) {
      args.push_back("--requirepass");
      args.push_back(*password_);
    }
    pid_t pid = ::fork();
    if (pid < 0) return false;
    if (pid == 0) {
      int null = ::open("/dev/null", O_RDWR);
      if (null >= 0) {
        ::dup2(null, 0);
        ::dup2(null, 1);
        ::dup2(null, 2);
      }
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execvp("redis-server", argv.data());
      ::_exit(127);
    }
    pid_ = pid;
    for (int i = 0; i < 200; ++i) {
      Status st = check_redis(url(), password_);
      if (st.is_ok()) return true;
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  // SIGTERM (Redis flushes its append-only file) and wait.
  // Kills the server (SIGKILL) and deletes its data: the next start() is a Redis restarted
  // without persistence.
  void crash_and_forget() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
      pid_ = -1;
    }
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir_, ec))
      if (e.path().filename() != "redis.log") std::filesystem::remove_all(e.path(), ec);
  }
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGCONT);
    ::kill(pid_, SIGTERM);
    int status = 0;
    for (int i = 0; i < 200; ++i) {
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  // A server that stops answering without closing its connections.
  void pause() {
    if (pid_ > 0) ::kill(pid_, SIGSTOP);
  }
  void resume() {
    if (pid_ > 0) ::kill(pid_, SIGCONT);
  }

 private:
  std::optional<std::string> password_;
  std::string dir_;
  int port_ = -1;
  pid_t pid_ = -1;
};

}  // namespace dbsync::redis::testing
