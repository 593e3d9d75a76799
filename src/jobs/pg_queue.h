// PgQueue: the job queue, API keys and webhook outbox on PostgreSQL, shared
// by any number of api and worker processes. Method names, arguments and
// semantics follow the SQLite JobStore (src/jobs/job_store.h) so that
// PgJobStore can wrap it; the differences are in docs/postgresql.md:
//  - Submit groups are one transaction with a multi-row INSERT and one
//    NOTIFY imagen_work per commit group; jobs get a fair-queuing virtual
//    time per key (start-time fair queuing by key weight), so a key that
//    queues thousands of jobs does not delay another key's first job.
//  - Lease is one `FOR UPDATE SKIP LOCKED` statement on the partial index of
//    runnable jobs; whose turn it is comes from the boost (a key's priority
//    up to its max_priority) and then the virtual time, and within that key
//    its own highest priority goes first. Lease and Heartbeat
//    commit asynchronously (a database crash may undo them: the job then
//    simply runs again). Every other change commits durably.
//  - Leases of dead processes are requeued by the reaper (Upkeep), which
//    exactly one process runs at a time (advisory-lock leader).
// Times come from `clock` (hosts must keep their clocks in sync to well
// within a lease). Thread-safe: every method takes a pooled connection.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "jobs/job.h"
#include "jobs/job_store.h"
#include "jobs/pg_conn.h"

namespace imagen::jobs::pg {

// The channel that wakes idle workers (no payload), and the one that tells a
// worker to stop a running job (payload: job id).
inline constexpr char kWorkChannel[] = "imagen_work";
inline constexpr char kCancelChannel[] = "imagen_cancel";
// Virtual-time distance between two consecutive jobs of a weight-1 key.
inline constexpr int64_t kVtQuantum = 1024;

struct PgQueueOptions {
  std::string uri;          // postgresql://...
  int pool_size = 4;        // durable-commit connections
  int async_pool_size = 4;  // lease / heartbeat connections
  Clock* clock = nullptr;   // default Clock::Real()
  bool migrate = true;      // run MigratePg on Open
};

struct UpkeepResult {
  bool leader = false;  // false: another process holds the upkeep lock
  int staged = 0;       // scheduled -> queued (run_after reached)
  int requeued = 0;     // expired leases back to queued
  int ended = 0;        // expired leases that went dead / failed
};

class PgQueue {
 public:
  static absl::StatusOr<std::unique_ptr<PgQueue>> Open(const PgQueueOptions& options);
  ~PgQueue();
  // Called after a commit that changed a job, in this process only (other
  // processes learn from NOTIFY). Must be set before the queue is shared.
  void SetListener(JobListener listener) { listener_ = std::move(listener); }
  // Queued jobs per key (ApiKey::max_queued overrides); set before sharing.
  void SetQueuePolicy(QueuePolicy policy) { queue_policy_ = policy; }
  Clock* clock() const { return clock_; }
  absl::Status Ping();

  // --- API keys ---
  absl::Status InsertKey(const ApiKey& key);
  // Unknown and revoked keys: nullopt.
  absl::StatusOr<std::optional<ApiKey>> FindKeyByHash(const std::string& key_hash);
  // As JobStore::RevokeKey: by id or a unique prefix of at least 4
  // characters; the admin key is refused; idempotent.
  absl::StatusOr<ApiKey> RevokeKey(const std::string& id_or_prefix);
  absl::StatusOr<std::optional<ApiKey>> FindKey(const std::string& id);
  absl::StatusOr<std::vector<ApiKey>> ListKeys();
  // Fair-share weight (1..1024, default 1): a key of weight 2 gets twice the
  // leases of a weight-1 key while both have work queued.
  absl::Status SetKeyWeight(const std::string& key_id, int weight);

  // --- jobs ---
  absl::StatusOr<CreateResult> Create(const NewJob& job);
  // One transaction for the whole group (outer status); members fail alone
  // only on an idempotency conflict, as in JobStore::CreateBatch.
  absl::StatusOr<std::vector<absl::StatusOr<CreateResult>>> CreateBatch(const std::vector<NewJob>& jobs);
  absl::StatusOr<Job> Get(const std::string& id);
  absl::StatusOr<std::optional<std::string>> GetInlineInput(const std::string& ref);
  absl::StatusOr<std::vector<Job>> List(const std::string& key_id, std::optional<JobState> state, int limit,
                                        int64_t before_seq);
  absl::StatusOr<std::map<std::string, int64_t>> CountByState();
  absl::StatusOr<int64_t> QueueDepth();
  absl::StatusOr<bool> InputReferenced(const std::string& input_ref);

  // Leases the next runnable job: boosted jobs first (ApiKey::max_priority),
  // then fair order between keys (weighted start-time fair queuing), and
  // within the key whose turn it is, its highest priority, oldest job. Jobs whose deadline passed fail instead (and the
  // next one is tried). nullopt when nothing is runnable. Not synced.
  absl::StatusOr<std::optional<Job>> Lease(const std::string& owner, absl::Duration lease);
  // Extends one job's lease and records progress; FailedPrecondition when the
  // lease is no longer `owner`'s. Not synced.
  absl::Status Heartbeat(const std::string& id, const std::string& owner, absl::Duration lease, double progress);
  // The per-process heartbeat: records `process_id` as alive and extends the
  // lease of every job whose owner is "<process_id>/..." (one statement for
  // all of a process' jobs). Returns the ids of those of its jobs that have a
  // cancel request. Not synced.
  absl::StatusOr<std::vector<std::string>> HeartbeatProcess(const std::string& process_id, const std::string& role,
                                                            absl::Duration lease);
  absl::Status Complete(const std::string& id, const std::string& owner, const std::string& result_ref,
                        const std::string& result_type);
  // Requeues after a retryable failure to run at `run_after` (state
  // 'scheduled' until then). A job that has used all its attempts goes dead
  // instead (dead letter), with the webhook queued.
  absl::Status Retry(const std::string& id, const std::string& owner, absl::Time run_after,
                     const std::string& error_code, const std::string& message);
  // Ends the job in `state` (failed, dead or canceled) with an error.
  absl::Status Fail(const std::string& id, const std::string& owner, JobState state, const std::string& error_code,
                    const std::string& message);
  // Queued: canceled at once. Running: marked, and NOTIFY imagen_cancel
  // tells its worker. Finished: unchanged. Idempotent.
  absl::StatusOr<Job> Cancel(const std::string& id);
  // Returns `owner`'s running jobs to the queue without counting the attempt
  // (clean shutdown).
  absl::StatusOr<int> ReleaseLeases(const std::string& owner);
  absl::StatusOr<std::vector<Job>> ListDead(int limit);
  absl::StatusOr<Job> Replay(const std::string& id);
  absl::StatusOr<SweptBlobs> SweepFinished(absl::Time cutoff, int limit);

  // --- upkeep (one process at a time) ---
  // Tries to become (or stay) the upkeep leader; when it is, moves due
  // 'scheduled' jobs to the queue and requeues running jobs whose lease
  // expired (dead / failed when no attempt or no time is left).
  absl::StatusOr<UpkeepResult> Upkeep(int limit = 1000);
  // The two steps of Upkeep, without the leader check (tests, single process).
  absl::StatusOr<int> StageDue(int limit = 1000);
  absl::StatusOr<std::pair<int, int>> ReapExpired(int limit = 1000);  // {requeued, ended}
  // True while this process holds the upkeep lock.
  bool IsLeader() const;
  // Gives the upkeep lock up (shutdown).
  void ResignLeader();

  // --- webhook outbox (several dispatchers may run at once) ---
  // Claims due deliveries: their next_attempt_at moves `claim` ahead, so
  // another dispatcher does not take them while this one sends.
  absl::StatusOr<std::vector<WebhookDelivery>> DueDeliveries(int limit, const std::vector<std::string>& skip_keys = {},
                                                             absl::Duration claim = absl::Seconds(60));
  absl::Status RecordDelivery(int64_t id, DeliveryState state, int attempts, absl::Time next_attempt_at,
                              int last_status, const std::string& last_error);
  absl::StatusOr<std::vector<WebhookDelivery>> DeliveriesForJob(const std::string& job_id);
  absl::StatusOr<std::map<std::string, int64_t>> CountDeliveriesByState();

 private:
  PgQueue(std::unique_ptr<PgPool> pool, std::unique_ptr<PgPool> apool, std::string uri, Clock* clock)
      : pool_(std::move(pool)), apool_(std::move(apool)), uri_(std::move(uri)), clock_(clock) {}
  int64_t NowUs() const;
  // Moves `id` from running (leased by `owner`) to `to` in one durable
  // transaction, queueing the webhook when `to` is terminal.
  absl::Status Finish(const std::string& id, const std::string& owner, JobState to, const std::string& result_ref,
                      const std::string& result_type, const std::string& error_code, const std::string& message,
                      std::optional<int64_t> run_after_us);
  void Notify(const Job& job);

  std::unique_ptr<PgPool> pool_;   // synchronous commits
  std::unique_ptr<PgPool> apool_;  // synchronous_commit = off
  std::string uri_;
  Clock* clock_;
  JobListener listener_;
  QueuePolicy queue_policy_;
  // The upkeep lock is a session advisory lock on a connection of its own:
  // it is released when this process (or its session) dies.
  absl::StatusOr<bool> AcquireLeader();
  mutable absl::Mutex leader_mu_;
  std::unique_ptr<PgConn> leader_conn_ ABSL_GUARDED_BY(leader_mu_);
  bool leader_ ABSL_GUARDED_BY(leader_mu_) = false;
  int leader_reconnects_ ABSL_GUARDED_BY(leader_mu_) = 0;
};

// Wakes a waiting worker: a dedicated connection that LISTENs on
// kWorkChannel and kCancelChannel. Thread-compatible (one waiter).
class PgWakeup {
 public:
  static absl::StatusOr<std::unique_ptr<PgWakeup>> Open(const std::string& uri);
  // Waits up to `timeout` for work or cancel notifications; returns the
  // cancelled job ids seen and whether work was announced. After a lost
  // connection it reconnects and reports work (the caller polls once,
  // because notifications sent meanwhile are gone).
  struct Wake {
    bool work = false;
    std::vector<std::string> canceled;
  };
  absl::StatusOr<Wake> Wait(absl::Duration timeout);

 private:
  explicit PgWakeup(std::unique_ptr<PgConn> conn) : conn_(std::move(conn)) {}
  std::unique_ptr<PgConn> conn_;
};

}  // namespace imagen::jobs::pg
