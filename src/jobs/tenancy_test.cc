// Issue 15, tenancy in the single-process store: one key could fill the
// whole queue and a client-chosen priority=100 jumped every other tenant;
// keys could not be revoked; listing a tenant's (empty) job list scanned the
// whole table when another tenant had 20k jobs.
#include <filesystem>
#include <set>

#include "gtest/gtest.h"
#include "jobs/api_keys.h"
#include "jobs/job_store.h"
#include "jobs/test_store.h"

namespace imagen::jobs {
namespace {

namespace fs = std::filesystem;

class TenancyTest : public testing::StoreTest {
 protected:
  TenancyTest() : StoreTest("tenancy_test") {}
  ApiKey Key(const std::string& name, KeyOptions o = {}) {
    o.name = name;
    auto k = CreateApiKey(store_.get(), o);
    EXPECT_TRUE(k.ok()) << k.status();
    tokens_[k->record.id] = k->token;
    return k->record;
  }
  static NewJob For(const ApiKey& k, int priority = 0) {
    return {.key_id = k.id, .operation = "copy", .input_ref = "in", .input_type = "image/png", .priority = priority};
  }
  absl::StatusOr<CreateResult> Submit(const ApiKey& k, int priority = 0) { return store_->Create(For(k, priority)); }
  Job MustSubmit(const ApiKey& k, int priority = 0) {
    auto r = Submit(k, priority);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->job : Job{};
  }
  Job MustLease() {
    auto l = store_->Lease("w", absl::Seconds(30));
    EXPECT_TRUE(l.ok() && l->has_value());
    return l.ok() && l->has_value() ? **l : Job{};
  }

  std::map<std::string, std::string> tokens_;
};

TEST_F(TenancyTest, OneKeyCannotFillTheQueue_PerKeyQuota) {
  store_->SetQueuePolicy({.max_queued_per_key = 3});
  ApiKey a = Key("a"), b = Key("b"), big = Key("big", {.max_queued = 5});
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Submit(a).ok());
  auto over = Submit(a);
  EXPECT_EQ(over.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(IsQueueQuotaError(over.status()));
  EXPECT_TRUE(Submit(b).ok());                                     // other tenants still get in
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(Submit(big).ok()) << i;  // the key's own quota
  EXPECT_TRUE(IsQueueQuotaError(Submit(big).status()));
  // Leasing frees a slot of the key's quota.
  while (MustLease().key_id != a.id) {
  }
  EXPECT_TRUE(Submit(a).ok());
}

TEST_F(TenancyTest, QuotaInsideOneGroupCommitFailsOnlyTheMembersOverIt) {
  store_->SetQueuePolicy({.max_queued_per_key = 2});
  ApiKey a = Key("a"), b = Key("b");
  auto batch = store_->CreateBatch({For(a), For(b), For(a), For(a), For(b)});
  ASSERT_TRUE(batch.ok()) << batch.status();
  ASSERT_EQ(batch->size(), 5u);
  EXPECT_TRUE((*batch)[0].ok());
  EXPECT_TRUE((*batch)[1].ok());
  EXPECT_TRUE((*batch)[2].ok());
  EXPECT_TRUE(IsQueueQuotaError((*batch)[3].status()));
  EXPECT_TRUE((*batch)[4].ok());
  auto counts = store_->CountByState();
  EXPECT_EQ((*counts)["queued"], 4);
}

TEST_F(TenancyTest, PriorityOnlyOrdersAKeysOwnJobs) {
  ApiKey a = Key("a"), b = Key("b");
  Job a_low = MustSubmit(a, 1);
  Job a_high = MustSubmit(a, 100);  // priority=100 from a key not allowed more
  Job a_mid = MustSubmit(a, 50);
  Job b_job = MustSubmit(b, 0);
  std::vector<std::string> order;
  for (int i = 0; i < 4; ++i) order.push_back(MustLease().id);
  // B is served within the first two leases: A's 100 does not jump it.
  EXPECT_TRUE(order[0] == b_job.id || order[1] == b_job.id);
  // A's own jobs still go by their priority.
  std::vector<std::string> a_order;
  for (const auto& id : order) {
    if (id != b_job.id) a_order.push_back(id);
  }
  EXPECT_EQ(a_order, (std::vector<std::string>{a_high.id, a_mid.id, a_low.id}));
}

TEST_F(TenancyTest, KeyAllowedMorePriorityGoesFirstUpToItsCeiling) {
  ApiKey a = Key("a"), vip = Key("vip", {.max_priority = 10}), c = Key("c", {.max_priority = 50});
  MustSubmit(a, 100);
  Job v = MustSubmit(vip, 100);  // boost clamped to 10
  Job cj = MustSubmit(c, 20);    // boost 20
  EXPECT_EQ(MustLease().id, cj.id);
  EXPECT_EQ(MustLease().id, v.id);
  EXPECT_EQ(MustLease().key_id, a.id);
}

TEST_F(TenancyTest, LeasesAreRoundRobinBetweenKeysWithQueuedWork) {
  ApiKey a = Key("a"), b = Key("b"), c = Key("c");
  for (int i = 0; i < 10; ++i) MustSubmit(a);
  for (int i = 0; i < 2; ++i) MustSubmit(b);
  for (int i = 0; i < 2; ++i) MustSubmit(c);
  std::vector<std::string> keys;
  for (int i = 0; i < 8; ++i) keys.push_back(MustLease().key_id);
  // Two full rounds over the three keys, then only A is left.
  EXPECT_EQ(std::set<std::string>(keys.begin(), keys.begin() + 3).size(), 3u);
  EXPECT_EQ(std::set<std::string>(keys.begin() + 3, keys.begin() + 6).size(), 3u);
  EXPECT_EQ(keys[6], a.id);
  EXPECT_EQ(keys[7], a.id);
}

TEST_F(TenancyTest, FairShareRespectsMaxConcurrent) {
  ApiKey a = Key("a", {.max_concurrent = 1}), b = Key("b");
  for (int i = 0; i < 3; ++i) MustSubmit(a);
  for (int i = 0; i < 3; ++i) MustSubmit(b);
  std::vector<std::string> keys;
  for (int i = 0; i < 4; ++i) keys.push_back(MustLease().key_id);
  EXPECT_EQ(std::count(keys.begin(), keys.end(), a.id), 1);  // A waits for its running job
}

TEST_F(TenancyTest, RevokedKeyIsRefusedAtOnce) {
  ApiKey a = Key("tenant-a");
  std::string hash = HashApiKey(tokens_[a.id]);
  ASSERT_TRUE(store_->FindKeyByHash(hash)->has_value());
  auto revoked = store_->RevokeKey(a.id.substr(0, 8));  // a unique prefix
  ASSERT_TRUE(revoked.ok()) << revoked.status();
  EXPECT_EQ(revoked->id, a.id);
  auto found = store_->FindKeyByHash(hash);
  ASSERT_TRUE(found.ok());
  EXPECT_FALSE(found->has_value());  // authentication sees no key
  auto listed = store_->ListKeys();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_TRUE((*listed)[0].revoked_at.has_value());
  EXPECT_TRUE(store_->RevokeKey(a.id).ok());  // idempotent
  // It stays revoked in a new process.
  store_.reset();
  auto s = JobStore::Open((dir_ / "jobs.db").string(), &clock_);
  ASSERT_TRUE(s.ok());
  store_ = std::move(*s);
  EXPECT_FALSE(store_->FindKeyByHash(hash)->has_value());
}

TEST_F(TenancyTest, RevokeRefusesUnknownAmbiguousAndAdminKeys) {
  Key("one");
  Key("two");
  ApiKey admin = Key("admin", {.admin = true});
  EXPECT_EQ(store_->RevokeKey("key_nothing").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->RevokeKey("key_").status().code(), absl::StatusCode::kInvalidArgument);  // all three
  EXPECT_EQ(store_->RevokeKey(admin.id).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->RevokeKey("k").status().code(), absl::StatusCode::kInvalidArgument);  // too short
}

TEST_F(TenancyTest, EmptyJobListOfOneTenantUsesTheKeyIndex) {
  ApiKey big = Key("big"), empty = Key("empty");
  for (int round = 0; round < 4; ++round) {
    std::vector<NewJob> batch(500, For(big));
    ASSERT_TRUE(store_->CreateBatch(batch).ok());
  }
  auto none = store_->List(empty.id, std::nullopt, 20, 0);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  EXPECT_EQ(store_->List(big.id, JobState::kQueued, 20, 0)->size(), 20u);
  auto db = Db::Open((dir_ / "jobs.db").string());
  ASSERT_TRUE(db.ok());
  struct Shape {
    bool by_state, cursor;
    const char* index;
  };
  for (const Shape& shape : {Shape{false, false, "jobs_by_key_seq"}, Shape{false, true, "jobs_by_key_seq"},
                             Shape{true, false, "jobs_by_key"}, Shape{true, true, "jobs_by_key"}}) {
    std::string sql = JobListSql(true, shape.by_state, shape.cursor);
    auto q = (*db)->Prepare("EXPLAIN QUERY PLAN " + sql);
    ASSERT_TRUE(q.ok()) << q.status();
    std::string plan;
    ASSERT_TRUE(q->ForEachRow([&](const Stmt& r) { plan += r.Text(3) + "\n"; }).ok());
    EXPECT_NE(plan.find(std::string("USING INDEX ") + shape.index + " (key_id=?"), std::string::npos) << sql << "\n"
                                                                                                      << plan;
    EXPECT_EQ(plan.find("SCAN"), std::string::npos) << plan;
    EXPECT_EQ(plan.find("TEMP B-TREE"), std::string::npos) << plan;
  }
}

// A database of schema version 2 (the tables as they were) gains the v3
// columns and indexes on open, keeping its keys and jobs.
TEST_F(TenancyTest, UpgradesAVersion2Database) {
  store_.reset();
  fs::remove_all(dir_);
  fs::create_directories(dir_);
  {
    auto db = Db::Open((dir_ / "jobs.db").string());
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)
                    ->Exec(R"sql(
CREATE TABLE api_keys(
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  key_hash TEXT NOT NULL UNIQUE,
  webhook_secret TEXT NOT NULL,
  rate REAL NOT NULL DEFAULT 0,
  max_concurrent INTEGER NOT NULL DEFAULT 0,
  admin INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL);
CREATE TABLE jobs(
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  key_id TEXT NOT NULL,
  operation TEXT NOT NULL,
  params TEXT NOT NULL,
  input_ref TEXT NOT NULL,
  input_type TEXT NOT NULL,
  state TEXT NOT NULL,
  priority INTEGER NOT NULL DEFAULT 0,
  attempts INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  run_after INTEGER NOT NULL,
  started_at INTEGER,
  finished_at INTEGER,
  deadline_at INTEGER,
  lease_owner TEXT,
  lease_expires_at INTEGER,
  cancel_requested INTEGER NOT NULL DEFAULT 0,
  progress REAL NOT NULL DEFAULT 0,
  error_code TEXT,
  error_message TEXT,
  result_ref TEXT,
  result_type TEXT,
  webhook_url TEXT,
  idempotency_key TEXT,
  request_hash TEXT);
CREATE UNIQUE INDEX jobs_idempotency ON jobs(key_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX jobs_runnable ON jobs(state, priority DESC, seq);
CREATE INDEX jobs_by_key ON jobs(key_id, state, seq);
CREATE INDEX jobs_input ON jobs(input_ref);
CREATE TABLE webhook_deliveries(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  msg_id TEXT NOT NULL UNIQUE,
  job_id TEXT NOT NULL,
  key_id TEXT NOT NULL,
  event TEXT NOT NULL,
  url TEXT NOT NULL,
  payload TEXT NOT NULL,
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_status INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL);
CREATE INDEX deliveries_due ON webhook_deliveries(state, next_attempt_at);
CREATE INDEX deliveries_job ON webhook_deliveries(job_id);

CREATE TABLE inline_inputs(
  ref TEXT PRIMARY KEY,
  data BLOB NOT NULL);
CREATE TABLE schema_version(version INTEGER NOT NULL);
INSERT INTO schema_version VALUES(2);
INSERT INTO api_keys(id,name,key_hash,webhook_secret,created_at) VALUES('key_old','old','hash_old','whsec_x',1);
INSERT INTO jobs(id,key_id,operation,params,input_ref,input_type,state,priority,max_attempts,created_at,updated_at,
  run_after) VALUES('job_old','key_old','copy','{}','in','image/png','queued',100,3,1,1,1);
)sql")
                    .ok());
  }
  auto s = JobStore::Open((dir_ / "jobs.db").string(), &clock_);
  ASSERT_TRUE(s.ok()) << s.status();
  store_ = std::move(*s);
  auto key = store_->FindKeyByHash("hash_old");
  ASSERT_TRUE(key.ok() && key->has_value()) << key.status();
  EXPECT_EQ((*key)->max_priority, 0);
  EXPECT_FALSE((*key)->revoked_at.has_value());
  EXPECT_EQ(MustLease().id, "job_old");
  EXPECT_TRUE(store_->RevokeKey("key_old").ok());
}

}  // namespace
}  // namespace imagen::jobs
