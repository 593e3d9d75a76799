// Integration: the REST API over real HTTP on 127.0.0.1 with the SQLite
// store, blob folder and a worker pool: submission, status, result, cancel,
// listing, SSE, idempotency, auth, limits and every kind of bad input.
#include <sqlite3.h>

#include <atomic>
#include <filesystem>

#include "absl/synchronization/notification.h"
#include "api/api_service.h"
#include "api/metrics_access.h"
#include "boost/beast/websocket.hpp"
#include "common/test_dir.h"
#include "common/utf8.h"
#include "gtest/gtest.h"
#include "http/server.h"
#include "imaging/test_images.h"
#include "imaging/vips_runtime.h"
#include "jobs/api_keys.h"
#include "jobs/blob_store.h"
#include "jobs/job_events.h"
#include "jobs/job_store.h"
#include "nlohmann/json.hpp"
#include "ops/style_comic.h"
#include "test_http_client.h"
#include "test_ops.h"
#include "worker/worker_pool.h"

namespace imagen::jobs {
namespace {

namespace fs = std::filesystem;
using boost::beast::http::verb;
using testing::HttpCall;
using testing::Multipart;
using testing::TinyPng;

class ApiHttpTest : public ::testing::Test {
 protected:
  void Start(api::ApiOptions options = {}, int workers = 1, uint64_t body_limit = 1 << 20) {
    dir_ = imagen::testing::FreshTestDir("jobs_api");
    store_ = std::move(*JobStore::Open((dir_ / "jobs.db").string(), Clock::Real()));
    store_->SetListener([this](const Job& j) { events_.Publish(j); });
    blobs_ = std::make_unique<BlobStore>(Env::Default(), (dir_ / "blobs").string());
    ASSERT_TRUE(blobs_->Init().ok());
    copy_ = new testing::CopyOp();
    gated_ = new testing::GatedOp();
    ASSERT_TRUE(registry_.Register(std::unique_ptr<ops::Operation>(copy_)).ok());
    ASSERT_TRUE(registry_.Register(std::unique_ptr<ops::Operation>(gated_)).ok());
    for (auto& op : extra_ops_) ASSERT_TRUE(registry_.Register(std::move(op)).ok());
    auto alice = CreateApiKey(store_.get(), {.name = "alice"});
    alice_ = alice->token;
    alice_id_ = alice->record.id;
    bob_ = CreateApiKey(store_.get(), {.name = "bob"})->token;
    admin_ = CreateApiKey(store_.get(), {.name = "admin", .admin = true})->token;
    options.webhook_policy.allow_hosts = {"127.0.0.1"};
    service_ = std::make_unique<api::ApiService>(store_.get(), blobs_.get(), &events_, &registry_, options);
    service_->Register(router_);
    http::ServerOptions so;
    so.port = 0;
    so.body_limit = body_limit;
    server_ = std::make_unique<http::Server>(so, [this](http::Request& r, http::RequestContext& c,
                                                        http::ResponseStream& s) { return router_.Route(r, c, s); });
    if (before_serve_) before_serve_();
    ASSERT_TRUE(server_->Start().ok());
    worker::PoolOptions po;
    po.threads = workers;
    po.idle_poll = absl::Milliseconds(20);
    pool_ = std::make_unique<worker::WorkerPool>(store_.get(), blobs_.get(), &registry_, nullptr, &events_, po);
    pool_->Start();
  }
  void TearDown() override {
    imaging::SetVipsHookForTesting(nullptr);
    if (gated_) gated_->Open();
    if (pool_) pool_->Stop(absl::Seconds(5));
    if (server_) server_->Stop(absl::Seconds(1));
    store_.reset();
    fs::remove_all(dir_);
  }
  std::vector<std::pair<std::string, std::string>> Auth(const std::string& key) {
    return {{"Authorization", "Bearer " + key}};
  }
  testing::HttpReply Submit(const std::string& key, const Multipart& form, const std::string& route = "test/copy",
                            std::vector<std::pair<std::string, std::string>> extra = {}) {
    auto h = Auth(key);
    h.emplace_back("Content-Type", form.content_type());
    for (auto& e : extra) h.push_back(e);
    return HttpCall(server_->port(), verb::post, "/api/v1/images/" + route, h, form.Finish());
  }
  testing::HttpReply Get(const std::string& key, const std::string& target,
                         std::vector<std::pair<std::string, std::string>> extra = {}) {
    auto h = Auth(key);
    for (auto& e : extra) h.push_back(e);
    return HttpCall(server_->port(), verb::get, target, h);
  }
  static std::string ErrorCode(const testing::HttpReply& r) {
    auto j = nlohmann::json::parse(r.body, nullptr, false);
    if (!j.is_object() || !j.contains("error")) return "(no JSON error: " + r.body + ")";
    return j["error"]["code"].get<std::string>() + ": " + j["error"]["message"].get<std::string>();
  }

  fs::path dir_;
  JobEvents events_;
  std::unique_ptr<JobStore> store_;
  std::unique_ptr<BlobStore> blobs_;
  ops::OpRegistry registry_;
  testing::CopyOp* copy_ = nullptr;
  testing::GatedOp* gated_ = nullptr;
  std::vector<std::unique_ptr<ops::Operation>> extra_ops_;  // registered by Start
  std::string alice_, bob_, admin_;
  std::string alice_id_;
  http::Router router_;
  std::unique_ptr<api::ApiService> service_;
  std::unique_ptr<http::Server> server_;
  std::unique_ptr<worker::WorkerPool> pool_;
  std::function<void()> before_serve_;  // runs after Register, before the server starts
};

TEST_F(ApiHttpTest, SubmitWaitAndFetchTheResult) {
  Start();
  std::string png = TinyPng("one");
  auto r = Submit(alice_, Multipart().File("image", "a.png", "image/png", png).Field("level", "2"));
  ASSERT_EQ(r.status, 202) << r.body;
  auto body = nlohmann::json::parse(r.body);
  std::string id = body["job_id"];
  EXPECT_EQ(body["status"], "queued");
  EXPECT_EQ(r.header("location"), "/api/v1/jobs/" + id);
  auto done = Get(alice_, "/api/v1/jobs/" + id, {{"Prefer", "wait=10"}});
  ASSERT_EQ(done.status, 200);
  auto job = nlohmann::json::parse(done.body);
  EXPECT_EQ(job["status"], "succeeded");
  EXPECT_EQ(job["attempts"], 1);
  EXPECT_EQ(job["parameters"]["level"], "2");
  EXPECT_EQ(job["result"]["url"], "/api/v1/jobs/" + id + "/result");
  auto result = Get(alice_, "/api/v1/jobs/" + id + "/result");
  ASSERT_EQ(result.status, 200);
  EXPECT_EQ(result.header("content-type"), "image/png");
  EXPECT_EQ(result.body, png);
  // Another key's job does not exist for it.
  EXPECT_EQ(Get(bob_, "/api/v1/jobs/" + id).status, 404);
  EXPECT_EQ(Get(bob_, "/api/v1/jobs/" + id + "/result").status, 404);
  EXPECT_EQ(HttpCall(server_->port(), verb::delete_, "/api/v1/jobs/" + id, Auth(bob_)).status, 404);
  // Prefer: wait on submit returns the finished job.
  auto waited = Submit(alice_, Multipart().File("image", "b.png", "image/png", TinyPng("two")), "test/copy",
                       {{"Prefer", "wait=10"}});
  ASSERT_EQ(waited.status, 200) << waited.body;
  EXPECT_EQ(nlohmann::json::parse(waited.body)["status"], "succeeded");
}

TEST_F(ApiHttpTest, AuthErrors) {
  Start();
  auto form = Multipart().File("image", "a.png", "image/png", TinyPng());
  auto none = HttpCall(server_->port(), verb::post, "/api/v1/images/test/copy", {{"Content-Type", form.content_type()}},
                       form.Finish());
  EXPECT_EQ(none.status, 401);
  EXPECT_NE(ErrorCode(none).find("unauthenticated"), std::string::npos);
  EXPECT_EQ(Submit("imk_wrong", form).status, 401);
  EXPECT_EQ(Get("imk_wrong", "/api/v1/jobs").status, 401);
  EXPECT_EQ(Get(alice_, "/api/v1/admin/dead-letter").status, 403);
  EXPECT_EQ(Get(admin_, "/api/v1/admin/dead-letter").status, 200);
}

TEST_F(ApiHttpTest, BadInputGetsAJsonErrorNamingTheProblem) {
  Start({}, 1, /*body_limit=*/64 * 1024);
  std::string png = TinyPng();
  struct Case {
    std::string name;
    Multipart form;
    int status;
    std::string expect;
  };
  std::vector<Case> cases = {
      {"missing image", Multipart().Field("level", "1"), 400, "missing_image"},
      {"not an image", Multipart().File("image", "a.txt", "text/plain", "hello"), 400, "not an image"},
      {"truncated", Multipart().File("image", "a.png", "image/png", png.substr(0, 40)), 400, "truncated"},
      {"unknown parameter", Multipart().File("image", "a.png", "image/png", png).Field("colour", "red"), 422,
       "unknown parameter 'colour'"},
      {"out of range", Multipart().File("image", "a.png", "image/png", png).Field("level", "9"), 422,
       "parameter 'level'"},
      {"not a number", Multipart().File("image", "a.png", "image/png", png).Field("level", "two"), 422,
       "parameter 'level'"},
      {"bad priority", Multipart().File("image", "a.png", "image/png", png).Field("priority", "high"), 422,
       "parameter 'priority'"},
      {"private webhook",
       Multipart().File("image", "a.png", "image/png", png).Field("webhook_url", "http://10.0.0.1/x"), 422,
       "not allowed"},
      {"bad webhook", Multipart().File("image", "a.png", "image/png", png).Field("webhook_url", "ftp://x"), 422,
       "scheme"},
  };
  for (auto& c : cases) {
    auto r = Submit(alice_, c.form);
    EXPECT_EQ(r.status, c.status) << c.name << ": " << r.body;
    EXPECT_NE(ErrorCode(r).find(c.expect), std::string::npos) << c.name << ": " << r.body;
  }
  auto h = Auth(alice_);
  h.emplace_back("Content-Type", "multipart/form-data; boundary=zz");
  auto malformed = HttpCall(server_->port(), verb::post, "/api/v1/images/test/copy", h, "--zz\r\nbroken");
  EXPECT_EQ(malformed.status, 400);
  EXPECT_NE(ErrorCode(malformed).find("malformed_multipart"), std::string::npos);
  auto big = Submit(alice_, Multipart().File("image", "a.png", "image/png", png + std::string(100000, 'x')));
  EXPECT_EQ(big.status, 413);
  // Nothing was half-written: no job exists, and the server still serves.
  auto list = nlohmann::json::parse(Get(alice_, "/api/v1/jobs").body);
  EXPECT_TRUE(list["jobs"].empty());
  EXPECT_EQ(Submit(alice_, Multipart().File("image", "a.png", "image/png", png)).status, 202);
}

TEST_F(ApiHttpTest, IdempotencyKey) {
  Start();
  auto form = Multipart().File("image", "a.png", "image/png", TinyPng("x"));
  auto a = Submit(alice_, form, "test/copy", {{"Idempotency-Key", "req-1"}});
  auto b = Submit(alice_, form, "test/copy", {{"Idempotency-Key", "req-1"}});
  ASSERT_EQ(a.status, 202);
  ASSERT_EQ(b.status, 202);
  EXPECT_EQ(nlohmann::json::parse(a.body)["job_id"], nlohmann::json::parse(b.body)["job_id"]);
  auto other = Multipart().File("image", "a.png", "image/png", TinyPng("y"));
  auto c = Submit(alice_, other, "test/copy", {{"Idempotency-Key", "req-1"}});
  EXPECT_EQ(c.status, 409);
  EXPECT_NE(ErrorCode(c).find("idempotency_conflict"), std::string::npos);
}

TEST_F(ApiHttpTest, RateLimitAndFullQueue) {
  api::ApiOptions o;
  o.default_rate = 1;
  o.burst_seconds = 3;  // 3 at once
  o.max_queue_depth = 100;
  Start(o, /*workers=*/0);
  auto form = Multipart().File("image", "a.png", "image/png", TinyPng());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Submit(alice_, form).status, 202) << i;
  auto limited = Submit(alice_, form);
  EXPECT_EQ(limited.status, 429);
  EXPECT_FALSE(limited.header("retry-after").empty());
  EXPECT_EQ(Submit(bob_, form).status, 202);  // per key
}

TEST_F(ApiHttpTest, BoundedQueueAnswers503) {
  api::ApiOptions o;
  o.max_queue_depth = 2;
  Start(o, /*workers=*/0);
  auto form = Multipart().File("image", "a.png", "image/png", TinyPng());
  EXPECT_EQ(Submit(alice_, form).status, 202);
  EXPECT_EQ(Submit(alice_, form).status, 202);
  auto full = Submit(alice_, form);
  EXPECT_EQ(full.status, 503);
  EXPECT_EQ(full.header("retry-after"), "5");
}

TEST_F(ApiHttpTest, CancelListEventsAndOperations) {
  Start();
  auto form = Multipart().File("image", "a.png", "image/png", TinyPng());
  // The gated job occupies the only worker; the next one stays queued.
  std::string running = nlohmann::json::parse(Submit(alice_, form, "test/gated").body)["job_id"];
  while (gated_->started.load() == 0) absl::SleepFor(absl::Milliseconds(2));
  std::string queued = nlohmann::json::parse(Submit(alice_, form).body)["job_id"];
  auto c1 = HttpCall(server_->port(), verb::delete_, "/api/v1/jobs/" + queued, Auth(alice_));
  EXPECT_EQ(c1.status, 200);
  EXPECT_EQ(nlohmann::json::parse(c1.body)["status"], "canceled");
  auto c2 = HttpCall(server_->port(), verb::delete_, "/api/v1/jobs/" + queued, Auth(alice_));
  EXPECT_EQ(c2.status, 200);  // idempotent
  auto page = nlohmann::json::parse(Get(alice_, "/api/v1/jobs?limit=1").body);
  ASSERT_EQ(page["jobs"].size(), 1u);
  EXPECT_EQ(page["jobs"][0]["job_id"], queued);
  std::string cursor = page["next_cursor"];
  auto page2 = nlohmann::json::parse(Get(alice_, "/api/v1/jobs?limit=1&cursor=" + cursor).body);
  EXPECT_EQ(page2["jobs"][0]["job_id"], running);
  EXPECT_TRUE(page2["next_cursor"].is_null());
  auto canceled = nlohmann::json::parse(Get(alice_, "/api/v1/jobs?status=canceled").body);
  EXPECT_EQ(canceled["jobs"].size(), 1u);
  EXPECT_EQ(Get(alice_, "/api/v1/jobs?status=bogus").status, 400);
  EXPECT_TRUE(nlohmann::json::parse(Get(bob_, "/api/v1/jobs").body)["jobs"].empty());
  // SSE: the stream ends with the terminal event once the gate opens.
  std::thread opener([&] {
    absl::SleepFor(absl::Milliseconds(200));
    gated_->Open();
  });
  auto sse = Get(alice_, "/api/v1/jobs/" + running + "/events");
  opener.join();
  EXPECT_EQ(sse.status, 200);
  EXPECT_EQ(sse.header("content-type"), "text/event-stream");
  EXPECT_NE(sse.body.find("event: state"), std::string::npos) << sse.body;
  EXPECT_NE(sse.body.find("event: done"), std::string::npos) << sse.body;
  EXPECT_NE(sse.body.find("\"status\":\"succeeded\""), std::string::npos) << sse.body;
  EXPECT_EQ(service_->stream_stats().open, 0u);
  auto ops = nlohmann::json::parse(HttpCall(server_->port(), verb::get, "/api/v1/operations").body);
  ASSERT_EQ(ops["operations"].size(), 2u);
  EXPECT_EQ(ops["operations"][0]["name"], "copy");
  EXPECT_EQ(ops["operations"][0]["parameters"][0]["name"], "level");
  // The platform's public routes answer even without their operation.
  auto missing = Submit(alice_, form, "upscale");
  EXPECT_EQ(missing.status, 404);
  EXPECT_NE(ErrorCode(missing).find("operation_unavailable"), std::string::npos);
}

// Issue 15 items 1-2: tenant A's PNG with a malformed ICC profile made lcms
// quote raw profile bytes into libvips's process-wide error buffer; tenant
// B's job failing on the other worker at that moment stored that text as
// its own error (another tenant's data, not UTF-8), and every JSON answer
// about B's job was a 500 (the webhook payload aborted the process). The
// hook forces the interleaving: B's worker has read B's header and waits;
// A's ICC transform fails and A's worker waits with its text in the
// buffer; B's decode fails.
TEST_F(ApiHttpTest, Issue15MalformedIccUploadDoesNotLeakIntoAnotherTenantsJob) {
  extra_ops_.push_back(ops::NewStyleComicOp(imaging::DecodeLimits{}));
  Start({}, /*workers=*/2);
  std::atomic<int> decodes{0};
  absl::Notification b_decoding, icc_failed, b_failed;
  imaging::SetVipsHookForTesting([&](std::string_view event) {
    if (event == "decode") {
      if (decodes.fetch_add(1) == 0) {  // B, submitted first
        b_decoding.Notify();
        icc_failed.WaitForNotificationWithTimeout(absl::Seconds(20));
      }
    } else if (event == "icc_transform") {  // A
      icc_failed.Notify();
      b_failed.WaitForNotificationWithTimeout(absl::Seconds(20));
    } else {  // B's decode failed
      b_failed.Notify();
    }
  });
  auto b = Submit(bob_, Multipart().File("image", "b.png", "image/png", imaging::testing::CorruptPixelsPng()),
                  "style/comic");
  ASSERT_EQ(b.status, 202) << b.body;
  ASSERT_TRUE(b_decoding.WaitForNotificationWithTimeout(absl::Seconds(20)));
  auto a = Submit(alice_, Multipart().File("image", "a.png", "image/png", imaging::testing::MalformedIccPng()),
                  "style/comic");
  ASSERT_EQ(a.status, 202) << a.body;
  const std::string b_id = nlohmann::json::parse(b.body)["job_id"];
  auto b_done = Get(bob_, "/api/v1/jobs/" + b_id, {{"Prefer", "wait=20"}});
  EXPECT_TRUE(icc_failed.HasBeenNotified());
  ASSERT_EQ(b_done.status, 200) << b_done.body;
  EXPECT_TRUE(IsValidUtf8(b_done.body));
  auto job = nlohmann::json::parse(b_done.body);
  EXPECT_EQ(job["status"], "failed") << b_done.body;
  const std::string msg = job["error"]["message"];
  EXPECT_NE(msg.find("corrupt or truncated"), std::string::npos) << msg;
  EXPECT_EQ(msg.find(imaging::testing::IccGarbageSignature()), std::string::npos) << msg;
  EXPECT_EQ(msg.find("\xEF\xBF\xBD"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("MPE"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("Icc"), std::string::npos) << msg;
  auto list = Get(bob_, "/api/v1/jobs");
  EXPECT_EQ(list.status, 200) << list.body;
  // A's broken profile is ignored: its job succeeds.
  const std::string a_id = nlohmann::json::parse(a.body)["job_id"];
  auto a_done = Get(alice_, "/api/v1/jobs/" + a_id, {{"Prefer", "wait=20"}});
  ASSERT_EQ(a_done.status, 200) << a_done.body;
  EXPECT_EQ(nlohmann::json::parse(a_done.body)["status"], "succeeded") << a_done.body;
}

// Issue 15 item 2 (boundary): whatever bytes the store holds (rows from
// before validation, another writer), GET, Prefer: wait, DELETE, lists,
// SSE, the result and the dead-letter queue answer valid UTF-8 JSON, never
// a 500.
TEST_F(ApiHttpTest, Issue15StoredNonUtf8TextNeverBreaksJobAnswers) {
  Start({}, /*workers=*/0);
  NewJob nj;
  nj.key_id = alice_id_;
  nj.operation = "copy";
  nj.params_json = "{\"level\":\"\xff\xfe\"}";
  nj.input_ref = "0000";
  nj.input_type = "image/png";
  nj.max_attempts = 1;
  nj.webhook_url = "http://127.0.0.1:9/h\xff\xfe";
  auto created = store_->Create(nj);
  if (!created.ok()) {  // a store that refuses such a URL itself is fine too
    nj.webhook_url.clear();
    created = store_->Create(nj);
  }
  ASSERT_TRUE(created.ok()) << created.status();
  const std::string id = created->job.id;
  auto leased = store_->Lease("test-worker", absl::Minutes(1));
  ASSERT_TRUE(leased.ok() && leased->has_value());
  ASSERT_TRUE(store_->Fail(id, "test-worker", JobState::kDead, "internal", "boom \xff\xfe\x80 end").ok());
  // The store may clean text itself: write the raw bytes behind its back.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ / "jobs.db").string().c_str(), &db), SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  const std::string sql =
      "UPDATE jobs SET error_message = CAST(X'626f6f6d20fffe8020656e64' AS TEXT), "
      "params = CAST(X'7b226c6576656c223a22fffe227d' AS TEXT), result_type = CAST(X'ff' AS TEXT) WHERE id = '" +
      id + "'";
  char* sql_error = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &sql_error), SQLITE_OK) << sql_error;
  sqlite3_free(sql_error);
  sqlite3_close(db);
  const std::string target = "/api/v1/jobs/" + id;
  for (const auto& [name, reply] : std::vector<std::pair<std::string, testing::HttpReply>>{
           {"get", Get(alice_, target)},
           {"wait", Get(alice_, target, {{"Prefer", "wait=1"}})},
           {"list", Get(alice_, "/api/v1/jobs")},
           {"list dead", Get(alice_, "/api/v1/jobs?status=dead")},
           {"dead letter", Get(admin_, "/api/v1/admin/dead-letter")},
           {"admin get", Get(admin_, target)},
           {"result", Get(alice_, target + "/result")},
           {"events", Get(alice_, target + "/events")},
           {"delete", HttpCall(server_->port(), verb::delete_, target, Auth(alice_))},
       }) {
    EXPECT_TRUE(reply.status == 200 || (name == "result" && reply.status == 409))
        << name << ": " << reply.status << " " << reply.body;
    EXPECT_TRUE(IsValidUtf8(reply.body)) << name;
  }
  auto job = nlohmann::json::parse(Get(alice_, target).body);
  const std::string msg = job["error"]["message"];
  EXPECT_EQ(msg.rfind("boom ", 0), 0u) << msg;
  EXPECT_NE(msg.find(" end"), std::string::npos) << msg;
}

// Issue 15 item 8: a webhook_url with bytes >= 0x80 was accepted (202), and
// then GET, DELETE and Prefer: wait on its job answered 500 forever. It is
// now refused at submit with a 400 naming the field; so is any field value
// that is not UTF-8.
TEST_F(ApiHttpTest, Issue15NonUtf8WebhookUrlIsRefusedAtSubmit) {
  Start();
  const std::string png = TinyPng();
  for (const std::string& url :
       {std::string("http://127.0.0.1/hook/\xff\xfe"), std::string("http://127.0.0.1/caf\xc3\xa9"),
        std::string("http://b\xc3\xbc"
                    "cher.example/")}) {
    auto r = Submit(alice_, Multipart().File("image", "a.png", "image/png", png).Field("webhook_url", url));
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_TRUE(IsValidUtf8(r.body));
    EXPECT_NE(ErrorCode(r).find("invalid_webhook_url: webhook_url must be ASCII"), std::string::npos) << r.body;
  }
  auto space =
      Submit(alice_, Multipart().File("image", "a.png", "image/png", png).Field("webhook_url", "http://127.0.0.1/a b"));
  EXPECT_EQ(space.status, 400) << space.body;
  auto field = Submit(alice_, Multipart().File("image", "a.png", "image/png", png).Field("level", "\xff"));
  EXPECT_EQ(field.status, 400) << field.body;
  EXPECT_TRUE(IsValidUtf8(field.body));
  EXPECT_NE(ErrorCode(field).find("parameter 'level'"), std::string::npos) << field.body;
  EXPECT_TRUE(nlohmann::json::parse(Get(alice_, "/api/v1/jobs").body)["jobs"].empty());
  // A well-formed, percent-encoded URL is still accepted.
  auto ok = Submit(
      alice_,
      Multipart().File("image", "a.png", "image/png", png).Field("webhook_url", "http://127.0.0.1/caf%C3%A9?x=1"));
  EXPECT_EQ(ok.status, 202) << ok.body;
  // Unknown ids and paths with odd bytes are echoed as valid UTF-8.
  auto missing = Get(alice_, "/api/v1/jobs/%ff%fe");
  EXPECT_EQ(missing.status, 404);
  EXPECT_TRUE(IsValidUtf8(missing.body)) << missing.body;
  auto nowhere = Get(alice_, "/api/v1/nowhere/\xff");
  EXPECT_EQ(nowhere.status, 404);
  EXPECT_TRUE(IsValidUtf8(nowhere.body)) << nowhere.body;
}

// Opens an SSE stream and reads its head and first event; the socket stays open.
struct OpenStream {
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket sock{io};
  std::string seen;
  int status = 0;
  OpenStream(uint16_t port, const std::string& key, const std::string& target) {
    sock.connect({boost::asio::ip::make_address("127.0.0.1"), port});
    std::string req = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + key + "\r\n\r\n";
    boost::asio::write(sock, boost::asio::buffer(req));
    ReadUntil("\r\n\r\n");
    if (seen.size() > 12) status = std::stoi(seen.substr(9, 3));
  }
  // Reads until `what` was received; false when the peer closed first.
  bool ReadUntil(const std::string& what) {
    char buf[4096];
    while (seen.find(what) == std::string::npos) {
      boost::system::error_code ec;
      size_t n = sock.read_some(boost::asio::buffer(buf), ec);
      if (ec) return false;
      seen.append(buf, n);
    }
    return true;
  }
};

TEST_F(ApiHttpTest, SseStreamCapAnswers429) {
  api::ApiOptions options;
  options.max_streams_per_key = 2;
  Start(options);
  auto form = Multipart().File("image", "a.png", "image/png", TinyPng());
  std::string id = nlohmann::json::parse(Submit(alice_, form, "test/gated").body)["job_id"];
  std::string target = "/api/v1/jobs/" + id + "/events";
  OpenStream s1(server_->port(), alice_, target);
  OpenStream s2(server_->port(), alice_, target);
  ASSERT_EQ(s1.status, 200) << s1.seen;
  ASSERT_EQ(s2.status, 200) << s2.seen;
  auto third = Get(alice_, target);
  EXPECT_EQ(third.status, 429);
  EXPECT_NE(ErrorCode(third).find("too_many_streams"), std::string::npos) << third.body;
  EXPECT_FALSE(third.header("retry-after").empty());
  EXPECT_EQ(service_->stream_stats().open, 2u);
  EXPECT_EQ(service_->stream_stats().refused, 1u);
  gated_->Open();
  EXPECT_TRUE(s1.ReadUntil("event: done"));
  EXPECT_TRUE(s2.ReadUntil("event: done"));
}

TEST_F(ApiHttpTest, SseEventArrivesPromptlyWithoutPolling) {
  api::ApiOptions options;
  options.stream_keep_alive = absl::Hours(1);
  Start(options);
  auto form = Multipart().File("image", "a.png", "image/png", TinyPng());
  std::string id = nlohmann::json::parse(Submit(alice_, form, "test/gated").body)["job_id"];
  while (gated_->started.load() == 0) absl::SleepFor(absl::Milliseconds(2));
  OpenStream s(server_->port(), alice_, "/api/v1/jobs/" + id + "/events");
  ASSERT_EQ(s.status, 200) << s.seen;
  ASSERT_TRUE(s.ReadUntil("event: state"));
  uint64_t before = service_->stream_stats().wakeups;
  absl::SleepFor(absl::Milliseconds(300));                  // the old loop: 12 wakeups here
  EXPECT_LE(service_->stream_stats().wakeups, before + 1);  // at most a late progress change
  absl::Time t0 = absl::Now();
  gated_->Open();
  ASSERT_TRUE(s.ReadUntil("event: done"));
  EXPECT_LT(absl::Now() - t0, absl::Seconds(2));
  EXPECT_NE(s.seen.find("\"status\":\"succeeded\""), std::string::npos) << s.seen;
}

// Issue 15 (also-fix list): /metrics can be restricted to the admin key
// (metrics.require_admin) ...
TEST_F(ApiHttpTest, MetricsRequireAdmin) {
  before_serve_ = [this] {
    api::RegisterMetrics(router_, {.require_admin = true}, service_.get(), [] { return "x_metric 1\n"; });
  };
  Start();
  auto anonymous = HttpCall(server_->port(), verb::get, "/metrics");
  EXPECT_EQ(anonymous.status, 401) << anonymous.body;
  auto tenant = Get(alice_, "/metrics");
  EXPECT_EQ(tenant.status, 403) << tenant.body;
  EXPECT_NE(ErrorCode(tenant).find("permission_denied"), std::string::npos);
  auto admin = Get(admin_, "/metrics");
  EXPECT_EQ(admin.status, 200);
  EXPECT_EQ(admin.body, "x_metric 1\n");
}

// ... or served on a listener of its own (metrics.listen), not the API's.
TEST_F(ApiHttpTest, MetricsOnSeparateListener) {
  Start();
  http::Router metrics_router;
  api::RegisterMetrics(metrics_router, {}, service_.get(), [] { return "x_metric 2\n"; });
  http::ServerOptions so;
  so.port = 0;
  http::Server metrics_server(so, [&](http::Request& r, http::RequestContext& c, http::ResponseStream& s) {
    return metrics_router.Route(r, c, s);
  });
  ASSERT_TRUE(metrics_server.Start().ok());
  EXPECT_EQ(HttpCall(server_->port(), verb::get, "/metrics").status, 404);
  auto scraped = HttpCall(metrics_server.port(), verb::get, "/metrics");
  EXPECT_EQ(scraped.status, 200);
  EXPECT_EQ(scraped.body, "x_metric 2\n");
  EXPECT_EQ(HttpCall(metrics_server.port(), verb::get, "/api/v1/jobs", Auth(alice_)).status, 404);
  metrics_server.Stop(absl::Seconds(1));
}

// Issue 15 (also-fix list): a WebSocket variant of the event stream. Each
// transition arrives as a text message; the socket closes normally after the
// terminal one.
TEST_F(ApiHttpTest, WebSocketMessagesForAJobsTransitions) {
  namespace websocket = boost::beast::websocket;
  api::ApiOptions options;
  options.stream_keep_alive = absl::Hours(1);
  Start(options);
  auto form = Multipart().File("image", "a.png", "image/png", TinyPng());
  std::string id = nlohmann::json::parse(Submit(alice_, form, "test/gated").body)["job_id"];
  while (gated_->started.load() == 0) absl::SleepFor(absl::Milliseconds(2));
  std::string target = "/api/v1/jobs/" + id + "/ws";
  EXPECT_EQ(Get(alice_, target).status, 400);  // no upgrade

  auto connect = [&](const std::string& key, websocket::stream<boost::asio::ip::tcp::socket>& ws,
                     boost::system::error_code& ec) {
    ws.next_layer().connect({boost::asio::ip::make_address("127.0.0.1"), server_->port()});
    ws.set_option(websocket::stream_base::decorator(
        [key](websocket::request_type& r) { r.set(boost::beast::http::field::authorization, "Bearer " + key); }));
    ws.handshake("127.0.0.1", target, ec);
  };
  boost::asio::io_context io;
  {
    websocket::stream<boost::asio::ip::tcp::socket> other(io);
    boost::system::error_code ec;
    connect(bob_, other, ec);
    EXPECT_TRUE(ec) << "another key's job must not upgrade";
  }
  websocket::stream<boost::asio::ip::tcp::socket> ws(io);
  boost::system::error_code ec;
  connect(alice_, ws, ec);
  ASSERT_FALSE(ec) << ec.message();
  auto next = [&]() -> nlohmann::json {
    boost::beast::flat_buffer buf;
    ws.read(buf, ec);
    if (ec) return nullptr;
    return nlohmann::json::parse(boost::beast::buffers_to_string(buf.data()));
  };
  nlohmann::json first = next();
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(first["event"], "state");
  EXPECT_EQ(first["job_id"], id);
  EXPECT_EQ(first["status"], "running");
  EXPECT_EQ(service_->stream_stats().open, 1u);
  absl::Time t0 = absl::Now();
  gated_->Open();
  nlohmann::json last;
  for (int i = 0; i < 20; ++i) {
    last = next();
    ASSERT_FALSE(ec) << ec.message();
    if (last["event"] == "done") break;
  }
  EXPECT_LT(absl::Now() - t0, absl::Seconds(2));
  EXPECT_EQ(last["event"], "done");
  EXPECT_EQ(last["status"], "succeeded");
  EXPECT_EQ(last["result_url"], "/api/v1/jobs/" + id + "/result");
  next();
  EXPECT_EQ(ec, websocket::error::closed) << ec.message();
  EXPECT_EQ(ws.reason().code, websocket::close_code::normal);
}

}  // namespace
}  // namespace imagen::jobs
