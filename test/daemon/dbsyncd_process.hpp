// Runs the real dbsyncd binary as a child process for the tests: its own environment, stdout
// and stderr in files, the port read from its "listening" log line, stopped with a signal.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace dbsync::daemon::testing {

inline std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class DaemonProcess {
 public:
  DaemonProcess() = default;
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;
  ~DaemonProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      int st = 0;
      ::waitpid(pid_, &st, 0);
    }
    forget_output();
  }

  // Starts dbsyncd with exactly `env` (plus PATH) and `args`.
  void start(const std::map<std::string, std::string>& env, const std::vector<std::string>& args,
             const std::string& cwd = "") {
    forget_output();
    static int counter = 0;
    std::string base =
        "/tmp/dbsyncd-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
    out_path_ = base + ".out";
    err_path_ = base + ".err";
    std::vector<std::string> env_strings;
    for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
    if (const char* path = std::getenv("PATH")) env_strings.push_back(std::string("PATH=") + path);
    std::vector<std::string> argv_strings{DBSYNCD_PATH};
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    // Created (emptied) here, before the child exists: a file of the same name left by an
    // earlier process with this pid is never read as this daemon's output.
    int out = ::open(out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err = ::open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_ = ::fork();
    if (pid_ != 0) {
      ::close(out);
      ::close(err);
    }
    if (pid_ == 0) {
      ::dup2(out, 1);
      ::dup2(err, 2);
      if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) ::_exit(127);
      std::vector<char*> argv, envp;
      for (auto& a : argv_strings) argv.push_back(a.data());
      argv.push_back(nullptr);
      for (auto& e : env_strings) envp.push_back(e.data());
      envp.push_back(nullptr);
      ::execve(argv[0], argv.data(), envp.data());
      ::_exit(127);
    }
  }

  // Waits for the "listening" line; returns its port, or -1 when the process ended or 15 s
  // passed.
  int wait_listening() {
    for (int i = 0; i < 300; ++i) {
      std::string err = stderr_text();
      size_t at = err.find("\"event\":\"listening\"");
      // Only a whole line: the file may be read while the line is half written ("port":2 of
      // "port":25678).
      size_t line_end = at == std::string::npos ? std::string::npos : err.find('\n', at);
      if (line_end != std::string::npos) {
        size_t line_start = err.rfind('\n', at);
        line_start = line_start == std::string::npos ? 0 : line_start;
        size_t p = err.find("\"port\":", line_start);
        if (p != std::string::npos && p < line_end) return std::atoi(err.c_str() + p + 7);
      }
      if (exited()) return -1;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return -1;
  }

  // Whether the process has ended (reaps it and keeps its status).
  bool exited() {
    if (pid_ <= 0) return true;
    int st = 0;
    pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      status_ = st;
      pid_ = -1;
      return true;
    }
    return false;
  }

  void signal(int sig) {
    if (pid_ > 0) ::kill(pid_, sig);
  }

  // Waits for the exit (up to `seconds`); the exit code, 128+signal, or -1 on timeout.
  int wait_exit(int seconds = 15) {
    for (int i = 0; i < seconds * 20; ++i) {
      if (exited()) {
        if (WIFEXITED(status_)) return WEXITSTATUS(status_);
        if (WIFSIGNALED(status_)) return 128 + WTERMSIG(status_);
        return -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return -1;
  }

  std::string stdout_text() const { return read_file(out_path_); }
  std::string stderr_text() const { return read_file(err_path_); }

 private:
  // The output files go once the process is done with, unless the test failed (then they are
  // left for a look, and named).
  void forget_output() {
    if (out_path_.empty()) return;
    if (::testing::Test::HasFailure()) {
      std::fprintf(stderr, "dbsyncd output kept: %s %s\n", out_path_.c_str(), err_path_.c_str());
    } else {
      ::unlink(out_path_.c_str());
      ::unlink(err_path_.c_str());
    }
    out_path_.clear();
    err_path_.clear();
  }

  pid_t pid_ = -1;
  int status_ = 0;
  std::string out_path_, err_path_;
};

}  // namespace dbsync::daemon::testing
