// Integration: PgQueue and its adapter against a real, throwaway PostgreSQL 15
// (tests/jobs/pg/start_pg.sh; fsync on). Each test gets a database of its
// own. Time is a FakeClock: lease expiry and retry backoff never sleep.
// Without PostgreSQL the tests skip with the reason, except under CI=true,
// where a missing server is a failure.
#include "jobs/pg_queue.h"

#include <atomic>
#include <cstdlib>
#include <set>
#include <thread>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/clock.h"
#include "common/logging.h"
#include "gtest/gtest.h"
#include "jobs/pg_conn.h"
#include "jobs/pg_schema.h"
#include "jobs/retry_policy.h"
#include "pg/pg_test_server.h"

namespace imagen::jobs::pg {
namespace {

using testing::PgTestServer;

bool InCi() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string(ci) == "true";
}

PgTestServer* server = nullptr;
std::string* server_error = nullptr;

class PgEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    spdlog::set_level(spdlog::level::warn);  // one "job transition" line per change otherwise
    auto s = PgTestServer::Start(IMAGEN_PG_SCRIPTS);
    if (s.ok()) {
      server = s->release();
      return;
    }
    server_error = new std::string(s.status().ToString());
    if (InCi()) {
      FAIL() << "CI=true and PostgreSQL is missing (install postgresql-15; ./run does): " << *server_error;
    }
  }
  void TearDown() override {
    delete server;
    server = nullptr;
  }
};

[[maybe_unused]] const ::testing::Environment* const kEnv = ::testing::AddGlobalTestEnvironment(new PgEnvironment);

class PgQueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (server == nullptr) {
      if (InCi()) FAIL() << "PostgreSQL unavailable: " << (server_error ? *server_error : "?");
      GTEST_SKIP() << "PostgreSQL unavailable (install postgresql-15): " << (server_error ? *server_error : "?");
    }
    auto uri = server->NewDatabase();
    ASSERT_TRUE(uri.ok()) << uri.status();
    uri_ = *uri;
    q_ = OpenQueue();
    ASSERT_NE(q_, nullptr);
    ApiKey k;
    k.id = "key_a";
    k.name = "a";
    k.key_hash = "hash_a";
    k.webhook_secret = "whsec_a";
    k.created_at = clock_.Now();
    ASSERT_TRUE(q_->InsertKey(k).ok());
  }

  std::unique_ptr<PgQueue> OpenQueue(int pool = 4) {
    PgQueueOptions o;
    o.uri = uri_;
    o.clock = &clock_;
    o.pool_size = pool;
    o.async_pool_size = pool;
    auto q = PgQueue::Open(o);
    EXPECT_TRUE(q.ok()) << q.status();
    return q.ok() ? std::move(*q) : nullptr;
  }

  static NewJob MakeJob(const std::string& key = "key_a", int priority = 0) {
    NewJob j;
    j.key_id = key;
    j.operation = "echo";
    j.params_json = R"({"n":"1"})";
    j.input_ref = "in_1";
    j.input_type = "image/png";
    j.priority = priority;
    return j;
  }

  Job MustCreate(const NewJob& nj) {
    auto r = q_->Create(nj);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->job : Job();
  }

  Job MustLease(const std::string& owner = "p1/w1") {
    auto r = q_->Lease(owner, absl::Seconds(30));
    EXPECT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(r.ok() && r->has_value()) << "nothing to lease";
    return r.ok() && r->has_value() ? **r : Job();
  }

  FakeClock clock_;
  std::string uri_;
  std::unique_ptr<PgQueue> q_;
};

TEST_F(PgQueueTest, SubmitLeaseComplete) {
  NewJob nj = MakeJob();
  nj.webhook_url = "http://127.0.0.1:1/hook";
  std::string bytes("\x89PNG\0\x01\xff", 7);
  nj.input_ref = "sha_inline";
  nj.inline_input = bytes;
  Job j = MustCreate(nj);
  EXPECT_EQ(j.state, JobState::kQueued);
  EXPECT_EQ(j.params_json, R"({"n":"1"})");
  EXPECT_EQ(j.created_at, clock_.Now());
  auto inl = q_->GetInlineInput("sha_inline");
  ASSERT_TRUE(inl.ok() && inl->has_value());
  EXPECT_EQ(**inl, bytes);

  Job l = MustLease();
  EXPECT_EQ(l.id, j.id);
  EXPECT_EQ(l.state, JobState::kRunning);
  EXPECT_EQ(l.attempts, 1);
  EXPECT_EQ(l.lease_owner, "p1/w1");
  EXPECT_EQ(*l.lease_expires_at, clock_.Now() + absl::Seconds(30));
  auto none = q_->Lease("p1/w2", absl::Seconds(30));
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());

  EXPECT_TRUE(q_->Heartbeat(j.id, "p1/w1", absl::Seconds(30), 0.5).ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(q_->Heartbeat(j.id, "p1/other", absl::Seconds(30), 0.5)));
  clock_.Advance(absl::Seconds(2));
  ASSERT_TRUE(q_->Complete(j.id, "p1/w1", "res_1", "image/png").ok());
  auto done = q_->Get(j.id);
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->state, JobState::kSucceeded);
  EXPECT_EQ(done->result_ref, "res_1");
  EXPECT_EQ(done->progress, 1.0);
  EXPECT_EQ(*done->finished_at, clock_.Now());
  EXPECT_TRUE(absl::IsFailedPrecondition(q_->Complete(j.id, "p1/w1", "res_1", "image/png")));
  EXPECT_TRUE(absl::IsNotFound(q_->Get("job_nope").status()));

  // The terminal state queued its webhook in the same transaction.
  auto d = q_->DeliveriesForJob(j.id);
  ASSERT_TRUE(d.ok());
  ASSERT_EQ(d->size(), 1u);
  EXPECT_EQ((*d)[0].event, "job.succeeded");
  auto due = q_->DueDeliveries(10);
  ASSERT_TRUE(due.ok());
  ASSERT_EQ(due->size(), 1u);
  // Claimed: a second dispatcher does not get it.
  auto again = q_->DueDeliveries(10);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->empty());
  EXPECT_TRUE(q_->RecordDelivery((*due)[0].id, DeliveryState::kDelivered, 1, clock_.Now(), 204, "").ok());
  EXPECT_EQ((*q_->CountDeliveriesByState())["delivered"], 1);
  EXPECT_EQ((*q_->CountByState())["succeeded"], 1);
}

TEST_F(PgQueueTest, CreateBatchIsOneGroup) {
  std::vector<NewJob> jobs;
  for (int i = 0; i < 50; ++i) jobs.push_back(MakeJob("key_a", i % 3));
  auto r = q_->CreateBatch(jobs);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 50u);
  std::set<std::string> ids;
  for (const auto& m : *r) {
    ASSERT_TRUE(m.ok()) << m.status();
    EXPECT_TRUE(m->created);
    ids.insert(m->job.id);
  }
  EXPECT_EQ(ids.size(), 50u);
  EXPECT_EQ(*q_->QueueDepth(), 50);
  auto listed = q_->List("key_a", JobState::kQueued, 100, 0);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), 50u);
  EXPECT_GT((*listed)[0].seq, (*listed)[49].seq);  // newest first
  // Priority first.
  EXPECT_EQ(MustLease().priority, 2);
}

TEST_F(PgQueueTest, SkipLockedEightLeasersLeaseEachJobOnce) {
  constexpr int kJobs = 400;
  std::vector<NewJob> batch;
  for (int i = 0; i < kJobs; ++i) batch.push_back(MakeJob());
  ASSERT_TRUE(q_->CreateBatch(batch).ok());
  auto q = OpenQueue(8);
  absl::Mutex mu;
  std::vector<std::string> leased;
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      std::string owner = absl::StrCat("p1/w", t);
      for (;;) {
        auto j = q->Lease(owner, absl::Seconds(30));
        if (!j.ok()) {
          ++errors;
          return;
        }
        if (!j->has_value()) return;
        {
          absl::MutexLock lock(&mu);
          leased.push_back((*j)->id);
        }
        if (!q->Complete((*j)->id, owner, "r", "image/png").ok()) ++errors;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(leased.size(), static_cast<size_t>(kJobs));
  EXPECT_EQ(std::set<std::string>(leased.begin(), leased.end()).size(), static_cast<size_t>(kJobs));
  EXPECT_EQ((*q_->CountByState())["succeeded"], kJobs);
}

TEST_F(PgQueueTest, ExpiredLeaseIsRequeuedByTheReaper) {
  Job j = MustCreate(MakeJob());
  MustLease("p1/w1");
  auto none = q_->ReapExpired();
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->first, 0);

  clock_.Advance(absl::Seconds(31));  // the worker process died: no heartbeat
  auto reaped = q_->ReapExpired();
  ASSERT_TRUE(reaped.ok()) << reaped.status();
  EXPECT_EQ(reaped->first, 1);
  EXPECT_EQ(q_->Get(j.id)->state, JobState::kQueued);
  Job again = MustLease("p2/w1");
  EXPECT_EQ(again.id, j.id);
  EXPECT_EQ(again.attempts, 2);  // the attempt that died counts
  // The dead worker's late completion is refused.
  EXPECT_TRUE(absl::IsFailedPrecondition(q_->Complete(j.id, "p1/w1", "r", "t")));

  // A process heartbeat keeps every lease of that process alive.
  auto hb = q_->HeartbeatProcess("p2", "worker", absl::Seconds(30));
  ASSERT_TRUE(hb.ok()) << hb.status();
  clock_.Advance(absl::Seconds(20));
  ASSERT_TRUE(q_->HeartbeatProcess("p2", "worker", absl::Seconds(30)).ok());
  clock_.Advance(absl::Seconds(20));
  EXPECT_EQ(q_->ReapExpired()->first, 0);
  EXPECT_TRUE(q_->Complete(j.id, "p2/w1", "r", "t").ok());
}

TEST_F(PgQueueTest, ExactlyOneProcessRunsUpkeep) {
  auto q2 = OpenQueue();
  auto a = q_->Upkeep();
  auto b = q2->Upkeep();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE(a->leader);
  EXPECT_FALSE(b->leader);
  EXPECT_TRUE(q_->Upkeep()->leader);  // stays leader
  q_->ResignLeader();                 // or dies: the session ends
  EXPECT_TRUE(q2->Upkeep()->leader);
  EXPECT_FALSE(q_->Upkeep()->leader);
}

TEST_F(PgQueueTest, RetriesWithBackoffThenDeadLetter) {
  NewJob nj = MakeJob();
  nj.max_attempts = 3;
  nj.webhook_url = "http://127.0.0.1:1/hook";
  Job j = MustCreate(nj);
  RetryPolicy policy(RetryOptions{.max_attempts = 3});
  for (int attempt = 1; attempt <= 3; ++attempt) {
    Job l = MustLease();
    ASSERT_EQ(l.attempts, attempt);
    absl::Status error = absl::UnavailableError("inference down");
    if (policy.ShouldRetry(error, l.attempts)) {
      absl::Duration backoff = policy.Backoff(l.attempts, 0.5);
      ASSERT_TRUE(q_->Retry(j.id, "p1/w1", clock_.Now() + backoff, "unavailable", "inference down").ok());
      Job waiting = *q_->Get(j.id);
      EXPECT_EQ(waiting.state, JobState::kQueued);  // stored as 'scheduled'
      EXPECT_EQ(waiting.attempts, attempt);
      EXPECT_FALSE(q_->Lease("p1/w1", absl::Seconds(30))->has_value()) << "leased before its backoff";
      EXPECT_EQ(*q_->StageDue(), 0);
      clock_.Advance(backoff);
      EXPECT_EQ(*q_->StageDue(), 1);
    } else {
      // The worker's decision; the store also enforces it: a Retry on the
      // last attempt dead-letters the job.
      ASSERT_TRUE(q_->Retry(j.id, "p1/w1", clock_.Now(), "unavailable", "inference down").ok());
    }
  }
  Job dead = *q_->Get(j.id);
  EXPECT_EQ(dead.state, JobState::kDead);
  EXPECT_EQ(dead.error_code, "unavailable");
  ASSERT_EQ(q_->ListDead(10)->size(), 1u);
  EXPECT_EQ((*q_->DeliveriesForJob(j.id))[0].event, "job.failed");
  Job replayed = *q_->Replay(j.id);
  EXPECT_EQ(replayed.state, JobState::kQueued);
  EXPECT_EQ(replayed.attempts, 0);
  EXPECT_TRUE(absl::IsFailedPrecondition(q_->Replay(j.id).status()));

  // A worker that dies on the last attempt: the reaper dead-letters it.
  for (int attempt = 1; attempt <= 3; ++attempt) {
    MustLease();
    clock_.Advance(absl::Seconds(31));
    ASSERT_TRUE(q_->ReapExpired().ok());
  }
  dead = *q_->Get(j.id);
  EXPECT_EQ(dead.state, JobState::kDead);
  EXPECT_EQ(dead.error_code, "lease_expired");
}

TEST_F(PgQueueTest, DeadlinePassedFailsInsteadOfRunning) {
  NewJob nj = MakeJob();
  nj.deadline = clock_.Now() + absl::Seconds(5);
  Job j = MustCreate(nj);
  clock_.Advance(absl::Seconds(6));
  auto l = q_->Lease("p1/w1", absl::Seconds(30));
  ASSERT_TRUE(l.ok());
  EXPECT_FALSE(l->has_value());
  Job failed = *q_->Get(j.id);
  EXPECT_EQ(failed.state, JobState::kFailed);
  EXPECT_EQ(failed.error_code, "deadline_exceeded");
}

TEST_F(PgQueueTest, CancelQueuedRunningFinished) {
  Job queued = MustCreate(MakeJob());
  auto c = q_->Cancel(queued.id);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->state, JobState::kCanceled);
  EXPECT_FALSE(q_->Lease("p1/w1", absl::Seconds(30))->has_value());

  Job running = MustCreate(MakeJob());
  MustLease("p7/w1");
  auto wake = PgWakeup::Open(uri_);
  ASSERT_TRUE(wake.ok()) << wake.status();
  c = q_->Cancel(running.id);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->state, JobState::kRunning);
  EXPECT_TRUE(c->cancel_requested);
  // Its worker hears of it at once (NOTIFY), and at its next heartbeat.
  auto w = (*wake)->Wait(absl::Seconds(5));
  ASSERT_TRUE(w.ok()) << w.status();
  ASSERT_EQ(w->canceled.size(), 1u);
  EXPECT_EQ(w->canceled[0], running.id);
  auto hb = q_->HeartbeatProcess("p7", "worker", absl::Seconds(30));
  ASSERT_TRUE(hb.ok());
  EXPECT_EQ(*hb, std::vector<std::string>{running.id});
  ASSERT_TRUE(q_->Fail(running.id, "p7/w1", JobState::kCanceled, "canceled", "canceled by the client").ok());
  c = q_->Cancel(running.id);  // finished: unchanged, idempotent
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->state, JobState::kCanceled);
  EXPECT_TRUE(absl::IsNotFound(q_->Cancel("job_nope").status()));
}

TEST_F(PgQueueTest, ReleaseLeasesDoesNotCountTheAttempt) {
  Job j = MustCreate(MakeJob());
  MustLease("p1/w1");
  EXPECT_EQ(*q_->ReleaseLeases("p1/w1"), 1);
  Job back = *q_->Get(j.id);
  EXPECT_EQ(back.state, JobState::kQueued);
  EXPECT_EQ(back.attempts, 0);
}

TEST_F(PgQueueTest, IdempotencyKeyIsUniquePerApiKey) {
  NewJob nj = MakeJob();
  nj.idempotency_key = "order-1";
  nj.request_hash = "h1";
  auto first = q_->Create(nj);
  ASSERT_TRUE(first.ok() && first->created);
  auto again = q_->Create(nj);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->job.id, first->job.id);
  NewJob other = nj;
  other.request_hash = "h2";
  EXPECT_TRUE(absl::IsAlreadyExists(q_->Create(other).status()));
  NewJob other_key = nj;
  other_key.key_id = "key_b";
  auto b = q_->Create(other_key);
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(b->created);
  EXPECT_NE(b->job.id, first->job.id);

  // Within one group: the twin returns the first member's job.
  NewJob n2 = MakeJob();
  n2.idempotency_key = "order-2";
  n2.request_hash = "h";
  NewJob n2diff = n2;
  n2diff.request_hash = "other";
  auto group = q_->CreateBatch({n2, n2, n2diff, MakeJob()});
  ASSERT_TRUE(group.ok());
  ASSERT_TRUE((*group)[0].ok() && (*group)[0]->created);
  ASSERT_TRUE((*group)[1].ok());
  EXPECT_FALSE((*group)[1]->created);
  EXPECT_EQ((*group)[1]->job.id, (*group)[0]->job.id);
  EXPECT_TRUE(absl::IsAlreadyExists((*group)[2].status()));
  EXPECT_TRUE((*group)[3].ok() && (*group)[3]->created);

  // Concurrent submits of one key from 4 processes: one job.
  NewJob n3 = MakeJob();
  n3.idempotency_key = "order-3";
  n3.request_hash = "h";
  std::vector<std::unique_ptr<PgQueue>> queues;
  for (int i = 0; i < 4; ++i) queues.push_back(OpenQueue(1));
  std::atomic<int> created{0};
  std::set<std::string> ids;
  absl::Mutex mu;
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      auto r = queues[i]->Create(n3);
      ASSERT_TRUE(r.ok()) << r.status();
      if (r->created) ++created;
      absl::MutexLock lock(&mu);
      ids.insert(r->job.id);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(created.load(), 1);
  EXPECT_EQ(ids.size(), 1u);
}

TEST_F(PgQueueTest, MigrationsConcurrentFromFourThreads) {
  auto fresh = server->NewDatabase();
  ASSERT_TRUE(fresh.ok());
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  std::vector<std::string> errors(4);
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      auto c = PgConn::Connect(*fresh);
      if (!c.ok()) {
        errors[i] = c.status().ToString();
        return;
      }
      absl::Status s = MigratePg(**c);
      if (s.ok()) {
        ++ok;
      } else {
        errors[i] = s.ToString();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 4) << errors[0] << errors[1] << errors[2] << errors[3];
  auto c = PgConn::Connect(*fresh);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*PgSchemaVersion(**c), kPgSchemaVersion);
  auto rows = (*c)->Exec("SELECT count(*) FROM schema_version");
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows->Int(0, 0), 1);
  // A database from a newer imagen is refused, not downgraded.
  ASSERT_TRUE((*c)->ExecScript("UPDATE schema_version SET version = version + 1").ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(MigratePg(**c)));
}

TEST_F(PgQueueTest, SqlStateMapping) {
  ApiKey k;
  k.id = "key_a";  // exists
  k.name = "dup";
  k.key_hash = "hash_other";
  k.webhook_secret = "s";
  absl::Status dup = q_->InsertKey(k);
  EXPECT_TRUE(absl::IsAlreadyExists(dup)) << dup;
  EXPECT_EQ(SqlStateOf(dup), "23505");

  auto c1 = PgConn::Connect(uri_);
  auto c2 = PgConn::Connect(uri_);
  ASSERT_TRUE(c1.ok() && c2.ok());
  PgConn& a = **c1;
  PgConn& b = **c2;
  ASSERT_TRUE(
      a.ExecScript("CREATE TABLE acct(id int PRIMARY KEY, v int); INSERT INTO acct VALUES (1, 0), (2, 0)").ok());
  // Write skew under SERIALIZABLE: each reads the other's row, then writes.
  ASSERT_TRUE(a.ExecScript("BEGIN ISOLATION LEVEL SERIALIZABLE").ok());
  ASSERT_TRUE(b.ExecScript("BEGIN ISOLATION LEVEL SERIALIZABLE").ok());
  ASSERT_TRUE(a.Exec("SELECT sum(v) FROM acct").ok());
  ASSERT_TRUE(b.Exec("SELECT sum(v) FROM acct").ok());
  ASSERT_TRUE(a.Exec("UPDATE acct SET v = 1 WHERE id = 1").ok());
  ASSERT_TRUE(b.Exec("UPDATE acct SET v = 1 WHERE id = 2").ok());
  absl::Status ca = a.ExecScript("COMMIT");
  absl::Status cb = b.ExecScript("COMMIT");
  EXPECT_TRUE(ca.ok());
  EXPECT_TRUE(absl::IsAborted(cb)) << cb;
  EXPECT_EQ(SqlStateOf(cb), "40001");

  absl::Status syntax = a.Exec("SELEC 1").status();
  EXPECT_TRUE(absl::IsInternal(syntax)) << syntax;
  EXPECT_EQ(SqlStateOf(syntax), "42601");
  absl::Status bad = a.Exec("SELECT $1::int", PgParams().Text("x")).status();
  EXPECT_TRUE(absl::IsInvalidArgument(bad)) << bad;

  // The transaction guard rolls back unless committed, and a failed
  // transaction does not pretend to commit.
  {
    PgTx tx(&a);
    ASSERT_TRUE(tx.Begin().ok());
    ASSERT_TRUE(a.Exec("UPDATE acct SET v = 42").ok());
  }
  EXPECT_EQ(a.Exec("SELECT max(v) FROM acct")->Int(0, 0), 1);
  {
    PgTx tx(&a);
    ASSERT_TRUE(tx.Begin().ok());
    EXPECT_FALSE(a.Exec("INSERT INTO acct VALUES (1, 1)").ok());
    EXPECT_TRUE(absl::IsAborted(tx.Commit()));
  }
}

TEST_F(PgQueueTest, ReconnectsAfterTheServerDropsTheConnection) {
  auto c = PgConn::Connect(uri_);
  ASSERT_TRUE(c.ok());
  auto admin = PgConn::Connect(uri_);
  ASSERT_TRUE(admin.ok());
  ASSERT_TRUE((*admin)->Exec("SELECT pg_terminate_backend($1)", PgParams().Int((*c)->BackendPid())).ok());
  absl::Status lost = absl::OkStatus();
  for (int i = 0; i < 50 && lost.ok(); ++i) {
    lost = (*c)->Exec("SELECT 1").status();  // the backend may take a moment to exit
    if (lost.ok()) absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_TRUE(absl::IsUnavailable(lost)) << lost;
  auto r = (*c)->Exec("SELECT 1");  // reconnected
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*c)->reconnects(), 1);

  // The queue's pooled connections too: every statement after the first
  // failure works again.
  MustCreate(MakeJob());
  ASSERT_TRUE((*admin)
                  ->Exec("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                         "WHERE datname = current_database() AND pid <> pg_backend_pid()")
                  .ok());
  absl::SleepFor(absl::Milliseconds(100));
  int failures = 0;
  for (int i = 0; i < 12; ++i) {
    absl::Status s = q_->Get("job_nope").status();
    if (!absl::IsNotFound(s)) ++failures;
  }
  EXPECT_LE(failures, 4);  // at most once per pooled connection
  EXPECT_TRUE(absl::IsNotFound(q_->Get("job_nope").status()));
}

TEST_F(PgQueueTest, NotifyWakesAWaitingLeaser) {
  auto wake = PgWakeup::Open(uri_);
  ASSERT_TRUE(wake.ok());
  auto nothing = (*wake)->Wait(absl::Milliseconds(50));
  ASSERT_TRUE(nothing.ok());
  EXPECT_FALSE(nothing->work);

  absl::Notification waiting;
  std::optional<Job> got;
  absl::Duration woke_after;
  std::thread worker([&] {
    waiting.Notify();
    absl::Time start = absl::Now();
    auto w = (*wake)->Wait(absl::Seconds(20));
    woke_after = absl::Now() - start;
    ASSERT_TRUE(w.ok());
    EXPECT_TRUE(w->work);
    auto l = q_->Lease("p1/w1", absl::Seconds(30));
    ASSERT_TRUE(l.ok());
    got = *l;
  });
  waiting.WaitForNotification();
  absl::SleepFor(absl::Milliseconds(50));  // let it block in poll()
  Job j = MustCreate(MakeJob());
  worker.join();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->id, j.id);
  EXPECT_LT(woke_after, absl::Seconds(5));

  // One notification per commit group, however large.
  std::vector<NewJob> group(20, MakeJob());
  ASSERT_TRUE(q_->CreateBatch(group).ok());
  auto w = (*wake)->Wait(absl::Seconds(5));
  ASSERT_TRUE(w.ok());
  EXPECT_TRUE(w->work);
  auto more = (*wake)->Wait(absl::Milliseconds(200));
  ASSERT_TRUE(more.ok());
  EXPECT_FALSE(more->work) << "more than one NOTIFY for one commit group";
}

// Issue 10: a key with 2,000 queued jobs and a key submitting 10 afterwards:
// the small key's jobs all start within the first 40 leases.
TEST_F(PgQueueTest, FairnessSmallKeyIsNotStuckBehindABigBacklog) {
  for (int b = 0; b < 20; ++b) {
    std::vector<NewJob> batch(100, MakeJob("key_big"));
    ASSERT_TRUE(q_->CreateBatch(batch).ok());
  }
  // Some of the backlog already ran: the small key arrives mid-stream.
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(q_->Complete(MustLease().id, "p1/w1", "r", "t").ok());
  std::vector<NewJob> small;
  for (int i = 0; i < 10; ++i) small.push_back(MakeJob("key_small"));
  ASSERT_TRUE(q_->CreateBatch({small.begin(), small.begin() + 4}).ok());
  ASSERT_TRUE(q_->CreateBatch({small.begin() + 4, small.end()}).ok());
  int small_started = 0;
  int last_small = -1;
  for (int n = 0; n < 40; ++n) {
    Job l = MustLease();
    if (l.key_id == "key_small") {
      ++small_started;
      last_small = n;
    }
  }
  EXPECT_EQ(small_started, 10) << "the small key's last job started at lease " << last_small;
  EXPECT_LT(last_small, 25);

  // A key's priority orders its own jobs only: key_small's priority-9 job
  // waits for its key's turn, then goes before that key's older jobs.
  ASSERT_TRUE(q_->CreateBatch(std::vector<NewJob>(3, MakeJob("key_small"))).ok());
  ASSERT_TRUE(q_->Create(MakeJob("key_small", 9)).ok());
  std::vector<std::string> order;
  for (int n = 0; n < 4; ++n) {
    Job l = MustLease();
    order.push_back(absl::StrCat(l.key_id, ":", l.priority));
  }
  EXPECT_EQ(order, (std::vector<std::string>{"key_big:0", "key_small:9", "key_big:0", "key_small:0"}));
  // A key allowed to go first (max_priority) does, up to its ceiling.
  ApiKey vip;
  vip.id = "key_vip";
  vip.name = "vip";
  vip.key_hash = "hash_vip";
  vip.webhook_secret = "s";
  vip.max_priority = 3;
  ASSERT_TRUE(q_->InsertKey(vip).ok());
  ASSERT_TRUE(q_->Create(MakeJob("key_vip", 2)).ok());
  ASSERT_TRUE(q_->Create(MakeJob("key_vip", 50)).ok());  // boost 3, its ceiling
  EXPECT_EQ(MustLease().priority, 50);
  EXPECT_EQ(MustLease().priority, 2);
  EXPECT_EQ(MustLease().key_id, "key_big");

  // Weight 3: three leases per lease of a weight-1 key while both have work.
  auto db = server->NewDatabase();
  ASSERT_TRUE(db.ok());
  uri_ = *db;
  auto q = OpenQueue();
  for (const char* id : {"key_w1", "key_w3"}) {
    ApiKey k;
    k.id = id;
    k.name = id;
    k.key_hash = id;
    k.webhook_secret = "s";
    ASSERT_TRUE(q->InsertKey(k).ok());
  }
  ASSERT_TRUE(q->SetKeyWeight("key_w3", 3).ok());
  ASSERT_TRUE(q->CreateBatch(std::vector<NewJob>(200, MakeJob("key_w1"))).ok());
  ASSERT_TRUE(q->CreateBatch(std::vector<NewJob>(200, MakeJob("key_w3"))).ok());
  int w3 = 0;
  for (int n = 0; n < 100; ++n) {
    auto l = q->Lease("p1/w1", absl::Seconds(30));
    ASSERT_TRUE(l.ok() && l->has_value());
    if ((*l)->key_id == "key_w3") ++w3;
  }
  EXPECT_GE(w3, 70);
  EXPECT_LE(w3, 80);
}

TEST_F(PgQueueTest, SweepRemovesFinishedJobsAndUnreferencedInputs) {
  NewJob shared = MakeJob();
  shared.input_ref = "sha_shared";
  shared.inline_input = "bytes";
  MustCreate(shared);
  MustCreate(shared);
  Job l = MustLease();
  ASSERT_TRUE(q_->Complete(l.id, "p1/w1", "res_a", "t").ok());
  clock_.Advance(absl::Hours(25));
  auto swept = q_->SweepFinished(clock_.Now() - absl::Hours(24), 100);
  ASSERT_TRUE(swept.ok()) << swept.status();
  EXPECT_EQ(swept->job_ids, std::vector<std::string>{l.id});
  EXPECT_EQ(swept->result_refs, std::vector<std::string>{"res_a"});
  EXPECT_TRUE(swept->input_refs.empty());  // the other job still needs it
  EXPECT_TRUE(q_->GetInlineInput("sha_shared")->has_value());
  EXPECT_TRUE(*q_->InputReferenced("sha_shared"));

  Job l2 = MustLease();
  ASSERT_TRUE(q_->Complete(l2.id, "p1/w1", "res_b", "t").ok());
  clock_.Advance(absl::Hours(25));
  swept = q_->SweepFinished(clock_.Now() - absl::Hours(24), 100);
  ASSERT_TRUE(swept.ok());
  EXPECT_EQ(swept->input_refs, std::vector<std::string>{"sha_shared"});
  EXPECT_FALSE(q_->GetInlineInput("sha_shared")->has_value());
  EXPECT_FALSE(*q_->InputReferenced("sha_shared"));
}

TEST_F(PgQueueTest, KeysQuotaRevocationAndUtf8) {
  ApiKey k;
  k.id = "key_quota";
  k.name = "q";
  k.key_hash = "hash_quota";
  k.webhook_secret = "s";
  k.max_queued = 3;
  ASSERT_TRUE(q_->InsertKey(k).ok());
  auto r = q_->CreateBatch(std::vector<NewJob>(5, MakeJob("key_quota")));
  ASSERT_TRUE(r.ok()) << r.status();
  int created = 0;
  for (const auto& m : *r) {
    if (m.ok()) {
      ++created;
    } else {
      EXPECT_TRUE(IsQueueQuotaError(m.status())) << m.status();
    }
  }
  EXPECT_EQ(created, 3);
  q_->SetQueuePolicy(QueuePolicy{.max_queued_per_key = 1});  // keys without their own quota
  EXPECT_TRUE(q_->Create(MakeJob("key_a")).ok());
  EXPECT_TRUE(IsQueueQuotaError(q_->Create(MakeJob("key_a")).status()));

  EXPECT_TRUE(q_->FindKeyByHash("hash_quota")->has_value());
  auto revoked = q_->RevokeKey("key_q");  // a unique prefix
  ASSERT_TRUE(revoked.ok()) << revoked.status();
  EXPECT_TRUE(revoked->revoked_at.has_value());
  EXPECT_FALSE(q_->FindKeyByHash("hash_quota")->has_value());
  EXPECT_TRUE((*q_->FindKey("key_quota"))->revoked_at.has_value());
  EXPECT_TRUE(absl::IsNotFound(q_->RevokeKey("key_nope").status()));
  EXPECT_EQ((*q_->FindKey("key_quota"))->max_queued, 3);

  q_->SetQueuePolicy(QueuePolicy{});
  NewJob bad = MakeJob();
  bad.params_json = std::string("{\"t\":\"\xff\xfe\"}");
  auto stored = q_->Create(bad);
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->job.params_json, "{\"t\":\"\xEF\xBF\xBD\xEF\xBF\xBD\"}");
}

// Durability: what a method returned as committed survives a crash of the
// database server (immediate stop = no shutdown checkpoint; recovery replays
// the WAL, which fsync=on made durable). Leases are asynchronous commits: a
// crash may return a leased job to the queue, never lose it. The same
// PgQueue reconnects once the server is back on its port.
TEST_F(PgQueueTest, CommittedChangesSurviveADatabaseCrash) {
  auto own = PgTestServer::StartOwn(IMAGEN_PG_SCRIPTS);
  ASSERT_TRUE(own.ok()) << own.status();
  auto db = (*own)->NewDatabase();
  ASSERT_TRUE(db.ok());
  uri_ = *db;
  auto q = OpenQueue();
  ASSERT_NE(q, nullptr);
  ASSERT_TRUE(q->CreateBatch(std::vector<NewJob>(50, MakeJob())).ok());
  std::vector<std::string> done;
  for (int i = 0; i < 10; ++i) {
    auto l = q->Lease("p1/w1", absl::Seconds(30));
    ASSERT_TRUE(l.ok() && l->has_value());
    if (i % 2 == 0) {
      ASSERT_TRUE(q->Complete((*l)->id, "p1/w1", "r", "t").ok());
      done.push_back((*l)->id);
    }
  }
  ASSERT_TRUE((*own)->CrashAndRestart().ok());

  absl::StatusOr<std::map<std::string, int64_t>> counts = absl::UnavailableError("not yet");
  for (int i = 0; i < 20 && !counts.ok(); ++i) counts = q->CountByState();  // one failure per broken connection
  ASSERT_TRUE(counts.ok()) << counts.status();
  EXPECT_EQ((*counts)["succeeded"], 5);
  EXPECT_EQ((*counts)["queued"] + (*counts)["running"], 45);
  for (const std::string& id : done) EXPECT_EQ(q->Get(id)->state, JobState::kSucceeded);
  absl::StatusOr<std::optional<Job>> next = absl::UnavailableError("not yet");
  for (int i = 0; i < 20 && !next.ok(); ++i) next = q->Lease("p1/w1", absl::Seconds(30));
  ASSERT_TRUE(next.ok() && next->has_value()) << next.status();
}

}  // namespace
}  // namespace imagen::jobs::pg
