// Issue 15 item 1: an error text that is not UTF-8 (a library quoting raw
// upload bytes) made nlohmann::json throw type_error.316 while the store
// built the webhook payload on a worker thread, and the process aborted.
#include <filesystem>

#include "absl/synchronization/notification.h"
#include "common/utf8.h"
#include "gtest/gtest.h"
#include "jobs/api_keys.h"
#include "jobs/blob_store.h"
#include "jobs/job_store.h"
#include "jobs/submit_committer.h"
#include "jobs/test_store.h"
#include "nlohmann/json.hpp"

namespace imagen::jobs {
namespace {

namespace fs = std::filesystem;

class Utf8SafetyTest : public testing::StoreTest {
 protected:
  Utf8SafetyTest() : StoreTest("utf8_safety") {}
};

TEST_F(Utf8SafetyTest, NonUtf8ErrorInWebhookPayloadDoesNotAbort) {
  auto c = store_->Create({.key_id = "key_a",
                           .operation = "copy",
                           .input_ref = "in",
                           .input_type = "image/png",
                           .webhook_url = "http://hooks.example/\xff"});
  ASSERT_TRUE(c.ok()) << c.status();
  auto leased = store_->Lease("w", absl::Seconds(30));
  ASSERT_TRUE(leased.ok() && leased->has_value());
  // What lcms quoted from another tenant's ICC profile, through libvips.
  std::string raw = "vips__icc_transform: bad profile \xff\xfe\xc3(\x80 end";
  ASSERT_TRUE(store_->Fail(c->job.id, "w", JobState::kFailed, "invalid\xff", raw).ok());

  auto job = store_->Get(c->job.id);
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->state, JobState::kFailed);
  EXPECT_TRUE(IsValidUtf8(job->error_message)) << job->error_message;
  EXPECT_TRUE(IsValidUtf8(job->error_code));
  EXPECT_TRUE(IsValidUtf8(job->webhook_url));
  EXPECT_EQ(job->error_message, ToValidUtf8(raw));

  auto d = store_->DeliveriesForJob(c->job.id);
  ASSERT_TRUE(d.ok() && d->size() == 1);
  EXPECT_TRUE(IsValidUtf8((*d)[0].payload));
  EXPECT_TRUE(IsValidUtf8((*d)[0].url));
  auto body = nlohmann::json::parse((*d)[0].payload, nullptr, false);
  ASSERT_FALSE(body.is_discarded()) << (*d)[0].payload;
  EXPECT_EQ(body["data"]["error"]["message"], ToValidUtf8(raw));
  // The answer a client gets serializes too.
  nlohmann::json answer = {{"error", job->error_message}, {"url", job->webhook_url}};
  EXPECT_NO_THROW(answer.dump());
}

TEST_F(Utf8SafetyTest, WebhookPayloadNeverThrows) {
  Job job;
  job.id = "job_\xff";
  job.state = JobState::kDead;
  job.operation = "op\xc3";
  job.error_code = "unavailable";
  job.error_message = std::string("\xed\xa0\x80 surrogate \xf4\x90\x80\x80 too big \xc0\xaf overlong", 37);
  std::string payload;
  ASSERT_NO_THROW(payload = WebhookPayload(job, absl::FromUnixSeconds(1)));
  EXPECT_TRUE(IsValidUtf8(payload));
  EXPECT_FALSE(nlohmann::json::parse(payload, nullptr, false).is_discarded());
}

TEST_F(Utf8SafetyTest, NonUtf8ParamsAndIdempotencyKeyAreStoredAsValidUtf8) {
  NewJob nj{.key_id = "key_a", .operation = "copy", .input_ref = "in", .input_type = "image/png"};
  nj.params_json = "{\"a\":\"\xff\"}";
  nj.idempotency_key = "k\xff";
  nj.request_hash = "h";
  auto first = store_->Create(nj);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(IsValidUtf8(first->job.params_json));
  EXPECT_TRUE(IsValidUtf8(first->job.idempotency_key));
  auto again = store_->Create(nj);  // the same (sanitized) key finds the job
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->job.id, first->job.id);
}

// A throwing submission callback must not take the committer thread down:
// the group's other members are still answered and later groups still run.
TEST_F(Utf8SafetyTest, CommitterSurvivesAThrowingCallback) {
  BlobStore blobs(Env::Default(), (dir_ / "blobs").string());
  ASSERT_TRUE(blobs.Init().ok());
  SubmitCommitter committer(store_.get(), &blobs);
  std::string input = "small";
  absl::Notification thrown;
  committer.Submit({.key_id = "key_a", .operation = "copy", .input_type = "image/png"}, input,
                   [&](absl::StatusOr<CreateResult>) {
                     thrown.Notify();
                     throw std::runtime_error("callback failed");
                   });
  thrown.WaitForNotification();
  auto later = committer.SubmitAndWait({.key_id = "key_a", .operation = "copy", .input_type = "image/png"}, input);
  EXPECT_TRUE(later.ok()) << later.status();
}

}  // namespace
}  // namespace imagen::jobs
