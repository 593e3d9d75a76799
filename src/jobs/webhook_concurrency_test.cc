// Issue 15: webhook delivery was one thread, one request at a time, so a
// tenant whose receiver never answers delayed another tenant's delivery by
// the whole timeout (39 s). Receivers are a seam here (WebhookPoster): A's
// never answers until the test ends, B's answers at once.
#include <filesystem>

#include "absl/synchronization/notification.h"
#include "common/test_dir.h"
#include "gtest/gtest.h"
#include "jobs/api_keys.h"
#include "jobs/job_store.h"
#include "jobs/webhooks.h"

namespace imagen::jobs {
namespace {

namespace fs = std::filesystem;

class WebhookConcurrencyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = imagen::testing::FreshTestDir("webhook_conc");
    auto s = JobStore::Open((dir_ / "jobs.db").string(), &clock_);
    ASSERT_TRUE(s.ok());
    store_ = std::move(*s);
    key_a_ = CreateApiKey(store_.get(), {.name = "a"})->record;
    key_b_ = CreateApiKey(store_.get(), {.name = "b"})->record;
    options_.policy.allow_hosts = {"127.0.0.1:1", "127.0.0.1:2"};
    options_.timeout = absl::Hours(1);  // A's receiver would hold a slot for this long
    options_.max_in_flight = 8;
    options_.max_in_flight_per_key = 2;
    options_.poll_interval = absl::Milliseconds(5);
    options_.post = [this](const Url& url, const std::vector<std::string>&, const std::map<std::string, std::string>&,
                           const std::string& body, absl::Duration) -> absl::StatusOr<HttpResult> {
      if (url.port == 1) {  // tenant A: never answers
        {
          absl::MutexLock lock(&mu_);
          ++a_in_flight_;
          a_max_in_flight_ = std::max(a_max_in_flight_, a_in_flight_);
        }
        release_a_.WaitForNotification();
        absl::MutexLock lock(&mu_);
        --a_in_flight_;
        return absl::DeadlineExceededError("webhook receiver timed out");
      }
      absl::MutexLock lock(&mu_);
      if (++b_delivered_ == 3) b_done_.Notify();
      return HttpResult{.status = 200};
    };
  }
  void TearDown() override {
    if (!release_a_.HasBeenNotified()) release_a_.Notify();
    store_.reset();
    fs::remove_all(dir_);
  }
  void FinishedJob(const ApiKey& key, const std::string& url) {
    auto c = store_->Create(
        {.key_id = key.id, .operation = "copy", .input_ref = "in", .input_type = "image/png", .webhook_url = url});
    ASSERT_TRUE(c.ok());
    auto l = store_->Lease("w", absl::Seconds(30));
    ASSERT_TRUE(l.ok() && l->has_value());
    ASSERT_TRUE(store_->Complete(c->job.id, "w", c->job.id, "image/png").ok());
  }

  FakeClock clock_{absl::Now()};
  fs::path dir_;
  std::unique_ptr<JobStore> store_;
  ApiKey key_a_, key_b_;
  WebhookOptions options_;
  absl::Notification release_a_, b_done_;
  absl::Mutex mu_;
  int a_in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  int a_max_in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  int b_delivered_ ABSL_GUARDED_BY(mu_) = 0;
};

TEST_F(WebhookConcurrencyTest, StuckReceiverOfOneTenantDoesNotDelayAnother) {
  // A's events are older, so a one-at-a-time dispatcher would take them first.
  for (int i = 0; i < 5; ++i) FinishedJob(key_a_, "http://127.0.0.1:1/a");
  clock_.Advance(absl::Seconds(1));
  for (int i = 0; i < 3; ++i) FinishedJob(key_b_, "http://127.0.0.1:2/b");
  WebhookDispatcher dispatcher(store_.get(), options_);
  dispatcher.Start();
  // B's three deliveries arrive while A's receiver still holds its requests
  // (A's are released only after this wait, so only concurrency passes it).
  EXPECT_TRUE(b_done_.WaitForNotificationWithTimeout(absl::Seconds(60)));
  {
    absl::MutexLock lock(&mu_);
    EXPECT_EQ(b_delivered_, 3);
    auto a_full = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return a_in_flight_ == 2; };
    EXPECT_TRUE(mu_.AwaitWithTimeout(absl::Condition(&a_full), absl::Seconds(60)));
    EXPECT_EQ(a_max_in_flight_, 2);  // A's in-flight cap: 2 of its 5 events at once
  }
  release_a_.Notify();
  dispatcher.Stop();  // waits for A's attempts to end
}

}  // namespace
}  // namespace imagen::jobs
