// JobStore: the durable job queue, API-key table and webhook outbox on SQLite
// (WAL). Every state change is one short IMMEDIATE transaction; nothing here
// runs user code, so a worker never holds a transaction while an operation
// runs. A method returns once its change is durable (survives power loss):
// commits only write the WAL under the write lock, then WalSyncer fsyncs it
// outside the lock, one fsync shared by all concurrent writers. Lease and
// Heartbeat are the exception: they are not synced (see their comments).
// Terminal transitions enqueue the job's webhook delivery in the same
// transaction (outbox), so no event is lost or sent for an uncommitted state.
// Thread-safe (a write connection and a read connection, each behind a
// mutex, so reads never wait for a commit's fsync; other processes, e.g.
// `imagen keys create`, may open the same file concurrently).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "jobs/job.h"
#include "jobs/secret_box.h"
#include "jobs/sqlite_db.h"
#include "jobs/wal_syncer.h"

namespace imagen::jobs {

inline constexpr int kSchemaVersion = 3;

struct ApiKey {
  std::string id;
  std::string name;
  std::string key_hash;        // sha256 hex of the bearer token
  std::string webhook_secret;  // "whsec_" + base64 of 32 random bytes (sealed at rest, see UseSecretBox)
  double rate = 0;             // requests per second; 0 = unlimited
  int max_concurrent = 0;      // running jobs at once; 0 = unlimited
  bool admin = false;
  absl::Time created_at;
  // Highest priority whose jobs go before other keys' jobs (0: this key's
  // priorities only order its own jobs).
  int max_priority = 0;
  int64_t max_queued = 0;                // queued jobs at once; 0 = the store's default
  std::optional<absl::Time> revoked_at;  // set: the key no longer authenticates
  // After a rotation: the secret before it, still signing deliveries (next
  // to webhook_secret) until previous_secret_until.
  std::string previous_webhook_secret;
  std::optional<absl::Time> previous_secret_until;
};

// The secrets a delivery at `now` is signed with: the current one, then the
// previous one during its grace period.
std::vector<std::string> SigningSecrets(const ApiKey& key, absl::Time now);

struct NewJob {
  std::string key_id;
  std::string operation;
  std::string params_json = "{}";
  std::string input_ref;
  std::string input_type;
  int priority = 0;
  int max_attempts = 5;
  std::optional<absl::Time> deadline;
  std::string webhook_url;
  std::string idempotency_key;
  std::string request_hash;
  // Non-empty: the input's bytes, stored with the row in the same transaction
  // (small uploads; see SubmitCommitter). Must stay valid during Create.
  std::string_view inline_input;
};

struct CreateResult {
  Job job;
  bool created = false;  // false: an earlier job with the same Idempotency-Key
};

enum class DeliveryState { kPending, kDelivered, kFailed, kGone };
const char* DeliveryStateName(DeliveryState s);

struct WebhookDelivery {
  int64_t id = 0;
  std::string msg_id;
  std::string job_id;
  std::string key_id;
  std::string event;
  std::string url;
  std::string payload;
  DeliveryState state = DeliveryState::kPending;
  int attempts = 0;
  absl::Time next_attempt_at;
  int last_status = 0;
  std::string last_error;
};

// Blobs a sweep made unreferenced; the caller removes them from the BlobStore.
struct SweptBlobs {
  std::vector<std::string> job_ids;
  std::vector<std::string> input_refs;
  std::vector<std::string> result_refs;
};

// Called after a transaction that changed a job commits (state or progress).
using JobListener = std::function<void(const Job&)>;

struct QueuePolicy {
  // Queued jobs one API key may have at once (ApiKey::max_queued overrides);
  // 0 = no limit. More submissions fail with IsQueueQuotaError.
  int64_t max_queued_per_key = 0;
};

// True for the error of a submission over its key's queue quota
// (ResourceExhausted; the API answers 429 with Retry-After).
bool IsQueueQuotaError(const absl::Status& status);

class JobStore {
 public:
  // Opens or creates the database and migrates it to kSchemaVersion.
  static absl::StatusOr<std::unique_ptr<JobStore>> Open(const std::string& path, Clock* clock);
  ~JobStore();
  // Must be set before the store is shared.
  void SetListener(JobListener listener) { listener_ = std::move(listener); }
  void SetQueuePolicy(QueuePolicy policy) { queue_policy_ = policy; }
  // From now on webhook secrets are written sealed under `box` (AES-256-GCM,
  // bound to the key id), and this seals every plaintext one already stored
  // (older databases). Fails, changing nothing, when a sealed secret does
  // not open with `box` (another IMAGEN_SECRET_KEY or secret.key). Plaintext
  // rows are read as before. Call before the store is shared.
  absl::Status UseSecretBox(SecretBox box);
  Clock* clock() const { return clock_; }
  absl::Status Ping();

  // --- API keys ---
  absl::Status InsertKey(const ApiKey& key);
  // Unknown and revoked keys: nullopt.
  absl::StatusOr<std::optional<ApiKey>> FindKeyByHash(const std::string& key_hash);
  absl::StatusOr<std::optional<ApiKey>> FindKey(const std::string& id);
  absl::StatusOr<std::vector<ApiKey>> ListKeys();
  // Revokes the key with this id, or the one key whose id starts with it
  // (at least 4 characters). Durable on return; idempotent. Admin keys are
  // refused (the admin key file is re-registered at every start).
  absl::StatusOr<ApiKey> RevokeKey(const std::string& id_or_prefix);
  // Makes `new_secret` the key's webhook secret (same id or prefix rule as
  // RevokeKey); the current one becomes previous_webhook_secret until
  // `previous_until`. Durable on return. Revoked keys are refused.
  absl::StatusOr<ApiKey> RotateWebhookSecret(const std::string& id_or_prefix, const std::string& new_secret,
                                             absl::Time previous_until);

  // --- jobs ---
  // With an idempotency key already used by `key_id`: the same request_hash
  // returns the earlier job (created=false); another one is AlreadyExists.
  absl::StatusOr<CreateResult> Create(const NewJob& job);
  // Creates several jobs in ONE transaction (one WAL fsync). The outer status
  // is the transaction's: on error nothing was created. Inside, each member
  // has its own result (an idempotency conflict fails only that member; a
  // repeated Idempotency-Key within the batch returns the first member's job).
  absl::StatusOr<std::vector<absl::StatusOr<CreateResult>>> CreateBatch(const std::vector<NewJob>& jobs);
  absl::StatusOr<Job> Get(const std::string& id);
  // The bytes of an input stored inline (NewJob::inline_input); nullopt when
  // `ref` is not stored inline (it is a file of the BlobStore).
  absl::StatusOr<std::optional<std::string>> GetInlineInput(const std::string& ref);
  // Newest first; `key_id` empty = all keys; `before_seq` 0 = from the newest.
  absl::StatusOr<std::vector<Job>> List(const std::string& key_id, std::optional<JobState> state, int limit,
                                        int64_t before_seq);
  absl::StatusOr<std::map<std::string, int64_t>> CountByState();
  // operation -> state -> count (every state present, 0 when none); job_store_counts.cc.
  absl::StatusOr<std::map<std::string, std::map<std::string, int64_t>>> CountByStateAndOperation();
  absl::StatusOr<int64_t> QueueDepth();

  // Leases the next runnable job (highest priority, oldest first; respecting
  // each key's max_concurrent), or a running job whose lease expired. Jobs
  // whose deadline passed fail instead; jobs whose lease expired after their
  // last attempt go dead. nullopt when nothing is runnable.
  absl::StatusOr<std::optional<Job>> Lease(const std::string& owner, absl::Duration lease);
  // Extends the lease and records progress. FailedPrecondition when the
  // lease is no longer `owner`'s (expired and taken, or job canceled).
  // Not synced, like Lease.
  absl::Status Heartbeat(const std::string& id, const std::string& owner, absl::Duration lease, double progress);
  absl::Status Complete(const std::string& id, const std::string& owner, const std::string& result_ref,
                        const std::string& result_type);
  // Requeues after a retryable failure, to run at `run_after`.
  absl::Status Retry(const std::string& id, const std::string& owner, absl::Time run_after,
                     const std::string& error_code, const std::string& message);
  // Ends the job in `state` (failed, dead or canceled) with an error.
  absl::Status Fail(const std::string& id, const std::string& owner, JobState state, const std::string& error_code,
                    const std::string& message);
  // Cancels a queued job at once; marks a running one for cancellation (its
  // worker stops it); leaves a finished one as it is. Idempotent.
  absl::StatusOr<Job> Cancel(const std::string& id);
  // Returns `owner`'s running jobs to the queue without counting the attempt.
  absl::StatusOr<int> ReleaseLeases(const std::string& owner);
  // Returns every running job to the queue (start-up of the only process that
  // owns this database: any lease left is from a process that died).
  absl::StatusOr<int> RecoverLeases();
  absl::StatusOr<std::vector<Job>> ListDead(int limit);
  // dead -> queued with a fresh attempt budget.
  absl::StatusOr<Job> Replay(const std::string& id);
  // Deletes finished jobs older than `cutoff`, their deliveries and inline
  // inputs nothing references any more; returns the blobs that nothing
  // references any more.
  absl::StatusOr<SweptBlobs> SweepFinished(absl::Time cutoff, int limit);
  // True when a committed job row names `input_ref` (any state).
  absl::StatusOr<bool> InputReferenced(const std::string& input_ref);

  // --- webhook outbox ---
  // Syncs the WAL before returning, so no event is sent for a commit that
  // power loss could still undo.
  // Oldest due first, skipping the deliveries of `skip_keys` (API keys whose
  // in-flight cap is reached).
  absl::StatusOr<std::vector<WebhookDelivery>> DueDeliveries(int limit, const std::vector<std::string>& skip_keys = {});
  absl::Status RecordDelivery(int64_t id, DeliveryState state, int attempts, absl::Time next_attempt_at,
                              int last_status, const std::string& last_error);
  absl::StatusOr<std::vector<WebhookDelivery>> DeliveriesForJob(const std::string& job_id);
  absl::StatusOr<std::map<std::string, int64_t>> CountDeliveriesByState();

 private:
  JobStore(std::unique_ptr<Db> db, Clock* clock) : db_(std::move(db)), clock_(clock) {}
  absl::Status Migrate();
  absl::Status InsertKeyLocked(const ApiKey& key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The one key whose id is `id_or_prefix` or starts with it, inside an open transaction.
  absl::StatusOr<ApiKey> MatchKeyLocked(const std::string& id_or_prefix) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The webhook_secret column of `key`: "current[,previous,until_us]", sealed when a box is set.
  std::string EncodeSecrets(const ApiKey& key) const;
  // Fills the secrets of a row read by RowToKey from its column text.
  void DecodeSecrets(ApiKey& key) const;
  absl::Status SweepLocked(absl::Time cutoff, int limit, SweptBlobs& out) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A key's limits and queued count, read once per batch.
  struct KeyState {
    int max_priority = 0;
    int64_t limit = 0;  // 0 = none
    int64_t queued = 0;
  };
  using BatchKeys = std::map<std::string, KeyState>;
  absl::StatusOr<KeyState*> KeyStateLocked(const std::string& key_id, BatchKeys& batch)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Inserts one job (or finds its idempotent twin) inside an open transaction.
  absl::StatusOr<CreateResult> CreateLocked(const NewJob& nj, BatchKeys& batch) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The next queued job to lease: boosted jobs first (highest boost, oldest),
  // then round robin over the keys with runnable jobs (the key served least
  // recently first), the key's own highest priority and oldest job; keys at
  // their max_concurrent are skipped.
  absl::StatusOr<std::optional<Job>> NextQueuedLocked(int64_t now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<bool> KeyHasCapacityLocked(const std::string& key_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  int64_t NowUs() const;
  absl::StatusOr<std::optional<Job>> GetLocked(const std::string& id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Moves a running job owned by `owner` to `to`; FailedPrecondition if the
  // lease is not `owner`'s. Queues the webhook when `to` is terminal.
  absl::Status FinishLocked(const std::string& id, const std::string& owner, JobState to, const std::string& result_ref,
                            const std::string& result_type, const std::string& error_code, const std::string& message,
                            std::optional<int64_t> run_after) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Inserts the terminal event's delivery if the job has a webhook URL.
  absl::Status EnqueueWebhookLocked(const Job& job) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status SetStateLocked(const std::string& id, JobState to, const std::string& error_code,
                              const std::string& message) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Notify(const Job& job, JobState from);

  absl::Mutex mu_;  // the write connection
  std::unique_ptr<Db> db_ ABSL_GUARDED_BY(mu_);
  absl::Mutex rmu_;  // the read connection
  std::unique_ptr<Db> rdb_ ABSL_GUARDED_BY(rmu_);
  Clock* clock_;
  JobListener listener_;
  QueuePolicy queue_policy_;
  std::optional<SecretBox> box_;  // set by UseSecretBox before sharing
  // Fair share: when each key was last served a lease (a counter, not a time).
  std::map<std::string, uint64_t> last_served_ ABSL_GUARDED_BY(mu_);
  uint64_t serve_counter_ ABSL_GUARDED_BY(mu_) = 0;
  std::unique_ptr<WalSyncer> wal_;  // set by Open

  // Checkpoints run on their own thread and connection (PASSIVE: writers go
  // on meanwhile) instead of inside whichever commit crossed the threshold.
  void CheckpointLoop();
  static int OnWalCommit(void* self, sqlite3* db, const char* name, int pages);
  std::unique_ptr<Db> ckpt_db_;  // used by the checkpoint thread only
  absl::Mutex ckpt_mu_;
  int wal_pages_ ABSL_GUARDED_BY(ckpt_mu_) = 0;
  bool stop_ckpt_ ABSL_GUARDED_BY(ckpt_mu_) = false;
  std::thread checkpointer_;
};

// The statement JobStore::List runs for a shape of list (parameters ?1 key,
// ?2 state, ?3 cursor seq, ?4 limit); public for the query-plan test.
std::string JobListSql(bool by_key, bool by_state, bool after_cursor);

// Builds the Standard Webhooks payload for a job's terminal event.
std::string WebhookPayload(const Job& job, absl::Time now);
// "job.succeeded", "job.failed" (failed or dead), "job.canceled".
std::string EventTypeFor(JobState state);

}  // namespace imagen::jobs
