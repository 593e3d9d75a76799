#include "jobs/job_store.h"

#include <filesystem>

#include "common/test_dir.h"
#include "gtest/gtest.h"
#include "jobs/api_keys.h"

namespace imagen::jobs {
namespace {

class JobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = imagen::testing::FreshTestDir("jobstore_test");
    Reopen();
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Reopen() {
    store_.reset();
    auto s = JobStore::Open((dir_ / "jobs.db").string(), &clock_);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
  }
  NewJob Basic(const std::string& key = "key_a") {
    NewJob j;
    j.key_id = key;
    j.operation = "echo";
    j.input_ref = "abc";
    j.input_type = "image/png";
    j.max_attempts = 3;
    return j;
  }
  Job MustCreate(const NewJob& nj) {
    auto r = store_->Create(nj);
    EXPECT_TRUE(r.ok()) << r.status();
    return r->job;
  }

  FakeClock clock_;
  std::filesystem::path dir_;
  std::unique_ptr<JobStore> store_;
};

TEST_F(JobStoreTest, IdempotencyKeyReturnsTheSameJobOrConflicts) {
  NewJob nj = Basic();
  nj.idempotency_key = "idem-1";
  nj.request_hash = "h1";
  auto first = store_->Create(nj);
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(first->created);
  auto again = store_->Create(nj);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->job.id, first->job.id);
  nj.request_hash = "h2";
  auto conflict = store_->Create(nj);
  EXPECT_EQ(conflict.status().code(), absl::StatusCode::kAlreadyExists);
  // Keys are per API key: another key may reuse the same Idempotency-Key.
  NewJob other = Basic("key_b");
  other.idempotency_key = "idem-1";
  other.request_hash = "h2";
  auto b = store_->Create(other);
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(b->created);
  EXPECT_NE(b->job.id, first->job.id);
}

TEST_F(JobStoreTest, LeasesByPriorityThenAge) {
  Job low = MustCreate(Basic());
  NewJob hi = Basic();
  hi.priority = 5;
  Job high = MustCreate(hi);
  Job low2 = MustCreate(Basic());
  auto l1 = store_->Lease("w", absl::Seconds(30));
  ASSERT_TRUE(l1.ok() && l1->has_value());
  EXPECT_EQ((*l1)->id, high.id);
  EXPECT_EQ((*l1)->state, JobState::kRunning);
  EXPECT_EQ((*l1)->attempts, 1);
  auto l2 = store_->Lease("w", absl::Seconds(30));
  EXPECT_EQ((*l2)->id, low.id);
  auto l3 = store_->Lease("w", absl::Seconds(30));
  EXPECT_EQ((*l3)->id, low2.id);
  auto none = store_->Lease("w", absl::Seconds(30));
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TEST_F(JobStoreTest, MaxConcurrentPerKey) {
  auto key = CreateApiKey(store_.get(), {.name = "limited", .max_concurrent = 1});
  ASSERT_TRUE(key.ok());
  MustCreate(Basic(key->record.id));
  MustCreate(Basic(key->record.id));
  Job other = MustCreate(Basic("key_free"));
  auto a = store_->Lease("w", absl::Seconds(30));
  ASSERT_TRUE(a->has_value());
  EXPECT_EQ((*a)->key_id, key->record.id);
  auto b = store_->Lease("w", absl::Seconds(30));
  ASSERT_TRUE(b->has_value());
  EXPECT_EQ((*b)->id, other.id);  // the limited key's second job waits
  EXPECT_FALSE(store_->Lease("w", absl::Seconds(30))->has_value());
  ASSERT_TRUE(store_->Complete((*a)->id, "w", "r", "image/png").ok());
  EXPECT_TRUE(store_->Lease("w", absl::Seconds(30))->has_value());
}

TEST_F(JobStoreTest, ExpiredLeaseIsTakenOverAndTheOldOwnerCannotComplete) {
  Job j = MustCreate(Basic());
  ASSERT_TRUE(store_->Lease("dead-worker", absl::Seconds(30))->has_value());
  EXPECT_FALSE(store_->Lease("w2", absl::Seconds(30))->has_value());
  ASSERT_TRUE(store_->Heartbeat(j.id, "dead-worker", absl::Seconds(30), 0.5).ok());
  clock_.Advance(absl::Seconds(31));
  auto taken = store_->Lease("w2", absl::Seconds(30));
  ASSERT_TRUE(taken->has_value());
  EXPECT_EQ((*taken)->attempts, 2);
  EXPECT_EQ((*taken)->lease_owner, "w2");
  EXPECT_EQ(store_->Complete(j.id, "dead-worker", "r", "t").code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->Heartbeat(j.id, "dead-worker", absl::Seconds(30), 1).code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(store_->Complete(j.id, "w2", "r", "image/png").ok());
  auto done = store_->Get(j.id);
  EXPECT_EQ(done->state, JobState::kSucceeded);
  EXPECT_EQ(done->result_ref, "r");
  EXPECT_TRUE(done->finished_at.has_value());
}

TEST_F(JobStoreTest, LeaseExpiringOnTheLastAttemptGoesDead) {
  Job j = MustCreate(Basic());  // max_attempts 3
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(store_->Lease("w" + std::to_string(i), absl::Seconds(1))->has_value());
    clock_.Advance(absl::Seconds(2));
  }
  EXPECT_FALSE(store_->Lease("w", absl::Seconds(1))->has_value());
  EXPECT_EQ(store_->Get(j.id)->state, JobState::kDead);
  auto dead = store_->ListDead(10);
  ASSERT_EQ(dead->size(), 1u);
  auto replayed = store_->Replay(j.id);
  ASSERT_TRUE(replayed.ok());
  EXPECT_EQ(replayed->state, JobState::kQueued);
  EXPECT_EQ(replayed->attempts, 0);
  EXPECT_EQ(store_->Replay(j.id).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(JobStoreTest, RetryWaitsForRunAfter) {
  Job j = MustCreate(Basic());
  ASSERT_TRUE(store_->Lease("w", absl::Seconds(30))->has_value());
  ASSERT_TRUE(store_->Retry(j.id, "w", clock_.Now() + absl::Seconds(4), "unavailable", "down").ok());
  auto q = store_->Get(j.id);
  EXPECT_EQ(q->state, JobState::kQueued);
  EXPECT_EQ(q->error_code, "unavailable");
  EXPECT_FALSE(store_->Lease("w", absl::Seconds(30))->has_value());
  clock_.Advance(absl::Seconds(4));
  auto again = store_->Lease("w", absl::Seconds(30));
  ASSERT_TRUE(again->has_value());
  EXPECT_EQ((*again)->attempts, 2);
}

TEST_F(JobStoreTest, DeadlinePassedWhileQueuedFails) {
  NewJob nj = Basic();
  nj.deadline = clock_.Now() + absl::Seconds(5);
  Job j = MustCreate(nj);
  clock_.Advance(absl::Seconds(6));
  EXPECT_FALSE(store_->Lease("w", absl::Seconds(30))->has_value());
  auto f = store_->Get(j.id);
  EXPECT_EQ(f->state, JobState::kFailed);
  EXPECT_EQ(f->error_code, "deadline_exceeded");
}

TEST_F(JobStoreTest, CancelIsIdempotent) {
  Job q = MustCreate(Basic());
  auto c1 = store_->Cancel(q.id);
  EXPECT_EQ(c1->state, JobState::kCanceled);
  auto c2 = store_->Cancel(q.id);
  EXPECT_EQ(c2->state, JobState::kCanceled);
  Job r = MustCreate(Basic());
  ASSERT_TRUE(store_->Lease("w", absl::Seconds(30))->has_value());
  auto c3 = store_->Cancel(r.id);
  EXPECT_EQ(c3->state, JobState::kRunning);
  EXPECT_TRUE(c3->cancel_requested);
  ASSERT_TRUE(store_->Fail(r.id, "w", JobState::kCanceled, "canceled", "by client").ok());
  EXPECT_EQ(store_->Get(r.id)->state, JobState::kCanceled);
  EXPECT_EQ(store_->Cancel("job_nope").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(JobStoreTest, ReleaseAndRecoverLeases) {
  Job a = MustCreate(Basic());
  ASSERT_TRUE(store_->Lease("w1", absl::Seconds(30))->has_value());
  EXPECT_EQ(*store_->ReleaseLeases("w1"), 1);
  auto back = store_->Get(a.id);
  EXPECT_EQ(back->state, JobState::kQueued);
  EXPECT_EQ(back->attempts, 0);  // a released lease is not a failed attempt
  ASSERT_TRUE(store_->Lease("w2", absl::Seconds(30))->has_value());
  Reopen();  // a new process
  EXPECT_EQ(*store_->RecoverLeases(), 1);
  auto again = store_->Lease("w3", absl::Seconds(30));
  ASSERT_TRUE(again->has_value());
  EXPECT_EQ((*again)->id, a.id);
}

TEST_F(JobStoreTest, TerminalStatesQueueOneWebhookInTheSameTransaction) {
  NewJob nj = Basic();
  nj.webhook_url = "http://example.com/hook";
  Job j = MustCreate(nj);
  EXPECT_TRUE(store_->DueDeliveries(10)->empty());
  ASSERT_TRUE(store_->Lease("w", absl::Seconds(30))->has_value());
  ASSERT_TRUE(store_->Complete(j.id, "w", "r", "image/png").ok());
  auto due = store_->DueDeliveries(10);
  ASSERT_EQ(due->size(), 1u);
  EXPECT_EQ((*due)[0].event, "job.succeeded");
  EXPECT_NE((*due)[0].payload.find(j.id), std::string::npos);
  ASSERT_TRUE(
      store_->RecordDelivery((*due)[0].id, DeliveryState::kPending, 1, clock_.Now() + absl::Seconds(5), 500, "HTTP 500")
          .ok());
  EXPECT_TRUE(store_->DueDeliveries(10)->empty());
  clock_.Advance(absl::Seconds(5));
  EXPECT_EQ(store_->DueDeliveries(10)->size(), 1u);
  auto for_job = store_->DeliveriesForJob(j.id);
  ASSERT_EQ(for_job->size(), 1u);
  EXPECT_EQ((*for_job)[0].attempts, 1);
  EXPECT_EQ((*for_job)[0].last_status, 500);
}

TEST_F(JobStoreTest, SweepRemovesOldFinishedJobsAndReportsUnreferencedBlobs) {
  NewJob shared = Basic();
  shared.input_ref = "shared";
  Job old = MustCreate(shared);
  ASSERT_TRUE(store_->Lease("w", absl::Seconds(30))->has_value());
  ASSERT_TRUE(store_->Complete(old.id, "w", old.id, "image/png").ok());
  clock_.Advance(absl::Hours(2));
  Job young = MustCreate(shared);  // still references the input
  auto swept = store_->SweepFinished(clock_.Now() - absl::Hours(1), 100);
  ASSERT_TRUE(swept.ok());
  EXPECT_EQ(swept->job_ids, std::vector<std::string>{old.id});
  EXPECT_EQ(swept->result_refs, std::vector<std::string>{old.id});
  EXPECT_TRUE(swept->input_refs.empty());
  EXPECT_EQ(store_->Get(old.id).status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(store_->Cancel(young.id).ok());
  clock_.Advance(absl::Hours(2));
  swept = store_->SweepFinished(clock_.Now() - absl::Hours(1), 100);
  EXPECT_EQ(swept->input_refs, std::vector<std::string>{"shared"});
}

TEST_F(JobStoreTest, InlineInputsLiveWithTheirJobsAndGoWithTheLastOne) {
  const std::string bytes("small\0image", 11);
  NewJob nj = Basic();
  nj.input_ref = "inl";
  nj.inline_input = bytes;
  Job a = MustCreate(nj);
  Job b = MustCreate(nj);  // the same upload again: stored once
  Reopen();
  auto got = store_->GetInlineInput("inl");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ(**got, bytes);
  EXPECT_FALSE(store_->GetInlineInput("file_ref")->has_value());
  ASSERT_TRUE(store_->Cancel(a.id).ok());
  clock_.Advance(absl::Hours(2));
  ASSERT_TRUE(store_->SweepFinished(clock_.Now() - absl::Hours(1), 100).ok());
  EXPECT_TRUE(store_->GetInlineInput("inl")->has_value()) << "job b still needs it";
  ASSERT_TRUE(store_->Cancel(b.id).ok());
  clock_.Advance(absl::Hours(2));
  auto swept = store_->SweepFinished(clock_.Now() - absl::Hours(1), 100);
  ASSERT_TRUE(swept.ok());
  EXPECT_EQ(swept->input_refs, std::vector<std::string>{"inl"});
  EXPECT_FALSE(store_->GetInlineInput("inl")->has_value());
}

TEST_F(JobStoreTest, KeysAreStoredHashed) {
  auto k = CreateApiKey(store_.get(), {.name = "alice", .rate = 3});
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(k->token.rfind("imk_", 0), 0u);
  auto found = store_->FindKeyByHash(HashApiKey(k->token));
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->name, "alice");
  EXPECT_EQ((*found)->rate, 3);
  EXPECT_NE((*found)->key_hash, k->token);
  EXPECT_FALSE(store_->FindKeyByHash(HashApiKey("imk_wrong"))->has_value());
  Reopen();  // schema already at the current version
  EXPECT_TRUE(store_->FindKeyByHash(HashApiKey(k->token))->has_value());
}

TEST_F(JobStoreTest, ListsNewestFirstWithCursor) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(MustCreate(Basic()).id);
  MustCreate(Basic("someone_else"));
  auto page1 = store_->List("key_a", std::nullopt, 2, 0);
  ASSERT_EQ(page1->size(), 2u);
  EXPECT_EQ((*page1)[0].id, ids[4]);
  auto page2 = store_->List("key_a", std::nullopt, 10, (*page1)[1].seq);
  ASSERT_EQ(page2->size(), 3u);
  EXPECT_EQ((*page2)[2].id, ids[0]);
  EXPECT_EQ(store_->List("key_a", JobState::kRunning, 10, 0)->size(), 0u);
}

}  // namespace
}  // namespace imagen::jobs
