// pg_queue_bench: PgQueue on a throwaway PostgreSQL 15 (fsync on, or the
// server in $IMAGEN_TEST_PG_URI). Prints the machine and three figures:
//   1. lease+complete cycles/s with W workers over a pre-filled queue;
//   2. submit latency p50/p99 (one job per transaction) at R submits/s;
//   3. wake latency p50/p99: submit start -> a worker blocked in
//      PgWakeup::Wait wakes, and -> that worker holds the job's lease.
// Usage: pg_queue_bench [--workers 8] [--seconds 10] [--rate 200] [--wakes 300]
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/logging.h"
#include "jobs/pg_queue.h"
#include "pg/pg_test_server.h"

namespace imagen::jobs::pg {
namespace {

struct Args {
  int workers = 8;
  int seconds = 10;
  int rate = 200;
  int wakes = 300;
};

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  return v[i];
}

std::string Uptime() {
  std::ifstream f("/proc/loadavg");
  std::string s;
  std::getline(f, s);
  return s;
}

// CPU seconds used so far by the server whose cluster is in `dir` (the
// postmaster, its live backends and the backends it has reaped); -1 when
// unknown (a server this benchmark did not start).
double ServerCpuSeconds(const std::string& dir) {
  if (dir.empty()) return -1;
  std::ifstream pidf(dir + "/data/postmaster.pid");
  long postmaster = 0;
  if (!(pidf >> postmaster)) return -1;
  const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  double total = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    long pid = std::atol(e.path().filename().c_str());
    if (pid <= 0) continue;
    std::ifstream f(e.path() / "stat");
    std::string line;
    if (!std::getline(f, line)) continue;
    size_t close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 2));
    std::string state;
    long ppid = 0, skip = 0;
    double ut = 0, st = 0, cut = 0, cst = 0;
    rest >> state >> ppid;
    for (int i = 0; i < 9; ++i) rest >> skip;  // pgrp .. cmajflt
    rest >> ut >> st >> cut >> cst;
    if (pid == postmaster) {
      total += (ut + st + cut + cst) / tick;
    } else if (ppid == postmaster) {
      total += (ut + st) / tick;
    }
  }
  return total;
}

// Median time of a 8 KiB write + fdatasync in `dir` (what each durable
// commit waits for at least), in ms.
double FdatasyncMs(const std::string& dir) {
  std::string path = (dir.empty() ? std::string("/tmp") : dir) + "/fsync_probe";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return -1;
  std::vector<double> ms;
  std::string block(8192, 'x');
  for (int i = 0; i < 50; ++i) {
    absl::Time t = absl::Now();
    if (::pwrite(fd, block.data(), block.size(), 0) != static_cast<ssize_t>(block.size()) || ::fdatasync(fd) != 0)
      break;
    ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - t));
  }
  ::close(fd);
  ::unlink(path.c_str());
  return Percentile(ms, 0.5);
}

double ClientCpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

NewJob BenchJob(int i) {
  NewJob j;
  j.key_id = absl::StrCat("key_", i % 8);
  j.operation = "echo";
  j.input_ref = absl::StrCat("in_", i % 64);
  j.input_type = "image/png";
  return j;
}

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "pg_queue_bench: %s\n", s.ToString().c_str());
  return 1;
}

int Run(const Args& a) {
  spdlog::set_level(spdlog::level::warn);
  utsname u{};
  uname(&u);
  std::printf("machine: %s %s, %u cores; load before: %s\n", u.nodename, u.machine, std::thread::hardware_concurrency(),
              Uptime().c_str());
  auto server = testing::PgTestServer::Start(IMAGEN_PG_SCRIPTS);
  if (!server.ok()) return Fail(server.status());
  auto db = (*server)->NewDatabase();
  if (!db.ok()) return Fail(db.status());
  std::printf(
      "server: %s (PostgreSQL 15, fsync on, synchronous_commit on; leases async); disk: 8 KiB write+fdatasync "
      "p50 %.2f ms\n",
      (*server)->uri().c_str(), FdatasyncMs((*server)->dir()));
  PgQueueOptions o;
  o.uri = *db;
  o.pool_size = a.workers + 2;
  o.async_pool_size = a.workers + 2;
  auto q = PgQueue::Open(o);
  if (!q.ok()) return Fail(q.status());
  PgQueue& queue = **q;

  // 1. lease + complete, W workers, queue pre-filled well beyond what they
  // can drain in the run.
  const int prefill = std::max(20000, a.seconds * 4000);
  for (int done = 0; done < prefill;) {
    std::vector<NewJob> batch;
    for (int i = 0; i < 500; ++i) batch.push_back(BenchJob(done + i));
    auto r = queue.CreateBatch(batch);
    if (!r.ok()) return Fail(r.status());
    done += 500;
  }
  std::atomic<bool> stop{false};
  std::atomic<int64_t> cycles{0};
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  absl::Time start = absl::Now();
  double client0 = ClientCpuSeconds(), server0 = ServerCpuSeconds((*server)->dir());
  for (int w = 0; w < a.workers; ++w) {
    threads.emplace_back([&, w] {
      std::string owner = absl::StrCat("bench/w", w);
      while (!stop.load(std::memory_order_relaxed)) {
        auto j = queue.Lease(owner, absl::Seconds(60));
        if (!j.ok() || !j->has_value()) {
          ++errors;
          return;
        }
        if (!queue.Complete((*j)->id, owner, "res", "image/png").ok()) ++errors;
        cycles.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  absl::SleepFor(absl::Seconds(a.seconds));
  stop = true;
  for (auto& t : threads) t.join();
  double secs = absl::ToDoubleSeconds(absl::Now() - start);
  double client_cpu = ClientCpuSeconds() - client0, server_cpu = ServerCpuSeconds((*server)->dir()) - server0;
  double n = static_cast<double>(std::max<int64_t>(1, cycles.load()));
  std::printf("lease+complete: %d workers, %.0f cycles/s (%lld cycles in %.1f s, %d errors); load: %s\n", a.workers,
              static_cast<double>(cycles.load()) / secs, static_cast<long long>(cycles.load()), secs, errors.load(),
              Uptime().c_str());
  if (server0 >= 0) {
    double per = (client_cpu + server_cpu) / n;
    std::printf("  CPU per cycle: client %.0f us + server %.0f us = %.0f us -> %.0f cycles/s per idle core\n",
                client_cpu / n * 1e6, server_cpu / n * 1e6, per * 1e6, 1.0 / per);
  }

  // 2. submit latency at a fixed rate, open loop (a late submit does not
  // push the schedule back), from 4 client threads as the API would.
  {
    constexpr int kClients = 4;
    const int n = a.rate * a.seconds;
    absl::Duration gap = absl::Seconds(1) / a.rate;
    std::vector<std::vector<double>> ms(kClients);
    std::atomic<int> failed{0};
    absl::Time t0 = absl::Now() + absl::Milliseconds(10);
    std::vector<std::thread> clients;
    for (int c = 0; c < kClients; ++c) {
      clients.emplace_back([&, c] {
        for (int i = c; i < n; i += kClients) {
          absl::Time due = t0 + gap * i;
          absl::Time now = absl::Now();
          if (due > now) absl::SleepFor(due - now);
          absl::Time s = absl::Now();
          if (!queue.Create(BenchJob(i)).ok()) ++failed;
          ms[c].push_back(absl::ToDoubleMilliseconds(absl::Now() - s));
        }
      });
    }
    for (auto& t : clients) t.join();
    double took = absl::ToDoubleSeconds(absl::Now() - t0);
    std::vector<double> all;
    for (auto& v : ms) all.insert(all.end(), v.begin(), v.end());
    std::printf(
        "submit at %d/s (%d clients, 1 job per txn): %d submits in %.1f s (%d failed), p50 %.2f ms, "
        "p99 %.2f ms, max %.2f ms; load: %s\n",
        a.rate, kClients, n, took, failed.load(), Percentile(all, 0.5), Percentile(all, 0.99), Percentile(all, 1.0),
        Uptime().c_str());
  }

  // 3. wake latency: an empty queue, one worker blocked on LISTEN.
  {
    auto fresh = (*server)->NewDatabase();
    if (!fresh.ok()) return Fail(fresh.status());
    PgQueueOptions o2 = o;
    o2.uri = *fresh;
    auto q2 = PgQueue::Open(o2);
    if (!q2.ok()) return Fail(q2.status());
    auto wake = PgWakeup::Open(*fresh);
    if (!wake.ok()) return Fail(wake.status());
    std::vector<double> wake_ms, start_ms;
    std::atomic<int64_t> submit_at_us{0};
    std::atomic<bool> done{false};
    std::atomic<int> seen{0};
    std::thread worker([&] {
      while (!done.load()) {
        auto w = (*wake)->Wait(absl::Seconds(1));
        if (!w.ok() || !w->work) continue;
        int64_t woke = absl::ToUnixMicros(absl::Now());
        auto j = (*q2)->Lease("bench/w0", absl::Seconds(60));
        int64_t leased = absl::ToUnixMicros(absl::Now());
        if (!j.ok() || !j->has_value()) continue;
        int64_t t0 = submit_at_us.load();
        wake_ms.push_back(static_cast<double>(woke - t0) / 1000.0);
        start_ms.push_back(static_cast<double>(leased - t0) / 1000.0);
        (void)(*q2)->Complete((*j)->id, "bench/w0", "r", "t");
        ++seen;
      }
    });
    for (int i = 0; i < a.wakes; ++i) {
      absl::SleepFor(absl::Milliseconds(20));  // the worker is idle in poll()
      int before = seen.load();
      submit_at_us = absl::ToUnixMicros(absl::Now());
      auto r = (*q2)->Create(BenchJob(i));
      if (!r.ok()) return Fail(r.status());
      for (int k = 0; k < 2000 && seen.load() == before; ++k) absl::SleepFor(absl::Milliseconds(1));
    }
    done = true;
    worker.join();
    std::printf(
        "wake (submit start -> idle worker woken by NOTIFY): %zu samples, p50 %.2f ms, p99 %.2f ms; "
        "-> job leased: p50 %.2f ms, p99 %.2f ms; load: %s\n",
        wake_ms.size(), Percentile(wake_ms, 0.5), Percentile(wake_ms, 0.99), Percentile(start_ms, 0.5),
        Percentile(start_ms, 0.99), Uptime().c_str());
  }
  return 0;
}

}  // namespace
}  // namespace imagen::jobs::pg

int main(int argc, char** argv) {
  imagen::jobs::pg::Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    int v = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--workers")) a.workers = v;
    if (!std::strcmp(argv[i], "--seconds")) a.seconds = v;
    if (!std::strcmp(argv[i], "--rate")) a.rate = v;
    if (!std::strcmp(argv[i], "--wakes")) a.wakes = v;
  }
  return imagen::jobs::pg::Run(a);
}
