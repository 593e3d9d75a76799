// Integration: webhook deliveries from the store's outbox to a receiver on
// 127.0.0.1 that is down, slow, failing then healthy, or gone (410);
// signatures verified with the Standard Webhooks algorithm.
#include <filesystem>

#include "common/test_dir.h"
#include "gtest/gtest.h"
#include "jobs/api_keys.h"
#include "jobs/crypto.h"
#include "jobs/job_store.h"
#include "jobs/webhooks.h"
#include "nlohmann/json.hpp"
#include "webhook_receiver.h"

namespace imagen::jobs {
namespace {

namespace fs = std::filesystem;

class WebhookDeliveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = imagen::testing::FreshTestDir("jobs_webhook");
    auto s = JobStore::Open((dir_ / "jobs.db").string(), &clock_);
    ASSERT_TRUE(s.ok());
    store_ = std::move(*s);
    auto k = CreateApiKey(store_.get(), {.name = "hooks"});
    ASSERT_TRUE(k.ok());
    key_ = k->record;
    ASSERT_TRUE(receiver_.Start().ok());
    options_.policy.allow_hosts = {"127.0.0.1:*"};
    options_.retry = {.max_attempts = 4, .base_delay = absl::Seconds(1), .max_delay = absl::Seconds(60)};
    options_.timeout = absl::Milliseconds(300);
  }
  void TearDown() override {
    receiver_.Stop();
    store_.reset();
    fs::remove_all(dir_);
  }
  // A job that finished with a webhook to `url`.
  std::string FinishedJob(const std::string& url) {
    auto c = store_->Create(
        {.key_id = key_.id, .operation = "copy", .input_ref = "in", .input_type = "image/png", .webhook_url = url});
    EXPECT_TRUE(c.ok());
    EXPECT_TRUE(store_->Lease("w", absl::Seconds(30))->has_value());
    EXPECT_TRUE(store_->Complete(c->job.id, "w", c->job.id, "image/png").ok());
    return c->job.id;
  }
  void ExpectVerified(const testing::Received& r) {
    // Standard Webhooks verification, written out independently.
    auto secret = Base64Decode(key_.webhook_secret.substr(6));
    ASSERT_TRUE(secret.ok());
    std::string expected = "v1," + Base64Encode(HmacSha256(*secret, r.id + "." + r.timestamp + "." + r.body));
    EXPECT_EQ(r.signature, expected);
  }
  WebhookDelivery Delivery(const std::string& job_id) {
    auto d = store_->DeliveriesForJob(job_id);
    EXPECT_TRUE(d.ok() && d->size() == 1);
    return (*d)[0];
  }

  FakeClock clock_{absl::Now()};
  fs::path dir_;
  std::unique_ptr<JobStore> store_;
  ApiKey key_;
  testing::WebhookReceiver receiver_;
  WebhookOptions options_;
};

TEST_F(WebhookDeliveryTest, FailingThenHealthyReceiverGetsOneSignedEvent) {
  std::string id = FinishedJob(receiver_.url());
  receiver_.Script({500, 503});
  std::vector<std::string> outcomes;
  WebhookDispatcher d(store_.get(), options_, [&](const std::string& o) { outcomes.push_back(o); });
  ASSERT_EQ(*d.RunOnce(), 1);
  WebhookDelivery del = Delivery(id);
  EXPECT_EQ(del.state, DeliveryState::kPending);
  EXPECT_EQ(del.attempts, 1);
  EXPECT_EQ(del.last_status, 500);
  EXPECT_EQ(*d.RunOnce(), 0);  // backing off
  clock_.Advance(absl::Seconds(1));
  ASSERT_EQ(*d.RunOnce(), 1);
  EXPECT_EQ(Delivery(id).last_status, 503);
  clock_.Advance(absl::Seconds(2));
  ASSERT_EQ(*d.RunOnce(), 1);
  del = Delivery(id);
  EXPECT_EQ(del.state, DeliveryState::kDelivered);
  EXPECT_EQ(del.attempts, 3);
  EXPECT_EQ(outcomes, (std::vector<std::string>{"retry", "retry", "delivered"}));
  auto got = receiver_.received();
  ASSERT_EQ(got.size(), 3u);
  for (const auto& r : got) {
    ExpectVerified(r);
    EXPECT_EQ(r.id, got[0].id);  // the same message id on every retry
    auto body = nlohmann::json::parse(r.body);
    EXPECT_EQ(body["type"], "job.succeeded");
    EXPECT_EQ(body["data"]["job_id"], id);
  }
}

TEST_F(WebhookDeliveryTest, ReceiverDownRetriesUntilAttemptsRunOut) {
  // A port with nothing listening.
  testing::WebhookReceiver gone;
  ASSERT_TRUE(gone.Start().ok());
  std::string url = gone.url();
  gone.Stop();
  std::string id = FinishedJob(url);
  WebhookDispatcher d(store_.get(), options_);
  for (int attempt = 1; attempt <= 4; ++attempt) {
    ASSERT_EQ(*d.RunOnce(), 1) << attempt;
    clock_.Advance(absl::Seconds(60));
  }
  WebhookDelivery del = Delivery(id);
  EXPECT_EQ(del.state, DeliveryState::kFailed);
  EXPECT_EQ(del.attempts, 4);
  EXPECT_FALSE(del.last_error.empty());
  EXPECT_EQ(*d.RunOnce(), 0);
}

TEST_F(WebhookDeliveryTest, SlowReceiverTimesOutThenSucceeds) {
  std::string id = FinishedJob(receiver_.url());
  receiver_.Script({200}, /*delay_ms=*/1500);
  WebhookDispatcher d(store_.get(), options_);
  ASSERT_EQ(*d.RunOnce(), 1);
  WebhookDelivery del = Delivery(id);
  EXPECT_EQ(del.state, DeliveryState::kPending);
  EXPECT_NE(del.last_error.find("timed out"), std::string::npos) << del.last_error;
  receiver_.Script({200}, 0);
  clock_.Advance(absl::Seconds(1));
  ASSERT_EQ(*d.RunOnce(), 1);
  EXPECT_EQ(Delivery(id).state, DeliveryState::kDelivered);
}

TEST_F(WebhookDeliveryTest, GoneStopsRetrying) {
  std::string id = FinishedJob(receiver_.url());
  receiver_.Script({410});
  WebhookDispatcher d(store_.get(), options_);
  ASSERT_EQ(*d.RunOnce(), 1);
  WebhookDelivery del = Delivery(id);
  EXPECT_EQ(del.state, DeliveryState::kGone);
  EXPECT_EQ(del.last_status, 410);
  clock_.Advance(absl::Hours(1));
  EXPECT_EQ(*d.RunOnce(), 0);
}

TEST_F(WebhookDeliveryTest, PrivateTargetsAreRefusedUnlessAllowed) {
  std::string id = FinishedJob(receiver_.url());
  options_.policy = {};
  WebhookDispatcher d(store_.get(), options_);
  ASSERT_EQ(*d.RunOnce(), 1);
  WebhookDelivery del = Delivery(id);
  EXPECT_EQ(del.state, DeliveryState::kFailed);
  EXPECT_NE(del.last_error.find("not allowed"), std::string::npos);
  EXPECT_TRUE(receiver_.received().empty());
}

}  // namespace
}  // namespace imagen::jobs
