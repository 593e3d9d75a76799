// Issue 15 (also-fix list): jobs.db stored the webhook signing secrets in
// clear, and they could not be rotated. They are sealed with AES-256-GCM
// under IMAGEN_SECRET_KEY or DIR/secret.key; old plaintext rows are sealed on
// open; `imagen keys rotate-webhook-secret` signs with the new and the old
// secret for a grace period.
#include "jobs/secret_box.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>

#include "absl/strings/str_split.h"
#include "common/test_dir.h"
#include "gtest/gtest.h"
#include "jobs/api_keys.h"
#include "jobs/crypto.h"
#include "jobs/job_store.h"
#include "jobs/webhooks.h"

namespace imagen::jobs {
namespace {

namespace fs = std::filesystem;

SecretBox Box(char fill) { return *SecretBox::FromKey(std::string(32, fill)); }

TEST(SecretBoxTest, SealsAndOpensBoundToItsContext) {
  SecretBox box = Box('k');
  std::string sealed = box.Seal("whsec_abc", "key_1");
  EXPECT_TRUE(SecretBox::IsSealed(sealed));
  EXPECT_EQ(sealed.find("whsec_abc"), std::string::npos);
  EXPECT_NE(box.Seal("whsec_abc", "key_1"), sealed);  // a fresh nonce each time
  EXPECT_EQ(*box.Open(sealed, "key_1"), "whsec_abc");
  EXPECT_TRUE(absl::IsDataLoss(box.Open(sealed, "key_2").status()));       // moved to another row
  EXPECT_TRUE(absl::IsDataLoss(Box('x').Open(sealed, "key_1").status()));  // another key
  for (size_t i : {0, 12, 20}) {                                           // nonce, ciphertext, tag
    std::string raw = *Base64Decode(sealed.substr(7));
    raw[i] ^= 1;
    EXPECT_FALSE(box.Open("enc:v1:" + Base64Encode(raw), "key_1").ok()) << i;
  }
  EXPECT_FALSE(SecretBox::FromKey("short").ok());
}

class SecretStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::unsetenv("IMAGEN_SECRET_KEY");
    dir_ = imagen::testing::FreshTestDir("secret_box");
    Reopen();
  }
  void TearDown() override {
    ::unsetenv("IMAGEN_SECRET_KEY");
    store_.reset();
    fs::remove_all(dir_);
  }
  void Reopen() {
    store_.reset();
    store_ = std::move(*JobStore::Open((dir_ / "jobs.db").string(), &clock_));
  }
  // The webhook_secret column as stored, read behind the store.
  std::string RawSecret(const std::string& key_id) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open((dir_ / "jobs.db").c_str(), &db), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, "SELECT webhook_secret FROM api_keys WHERE id=?", -1, &st, nullptr);
    sqlite3_bind_text(st, 1, key_id.c_str(), -1, SQLITE_TRANSIENT);
    std::string out;
    if (sqlite3_step(st) == SQLITE_ROW) out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
  }

  FakeClock clock_{absl::FromUnixSeconds(1700000000)};
  fs::path dir_;
  std::unique_ptr<JobStore> store_;
};

TEST_F(SecretStoreTest, WebhookSecretsAreEncryptedAtRest) {
  ASSERT_TRUE(store_->UseSecretBox(Box('k')).ok());
  auto created = CreateApiKey(store_.get(), {.name = "a"});
  ASSERT_TRUE(created.ok());
  const std::string secret = created->record.webhook_secret;
  ASSERT_EQ(secret.rfind("whsec_", 0), 0u);
  std::string raw = RawSecret(created->record.id);
  EXPECT_TRUE(SecretBox::IsSealed(raw)) << raw;
  EXPECT_EQ(raw.find(secret.substr(6)), std::string::npos);
  EXPECT_EQ((*store_->FindKey(created->record.id))->webhook_secret, secret);
  EXPECT_EQ((*store_->FindKeyByHash(HashApiKey(created->token)))->webhook_secret, secret);
  // Reopened with the same key: still readable. With another: refused, not misread.
  Reopen();
  ASSERT_TRUE(store_->UseSecretBox(Box('k')).ok());
  EXPECT_EQ((*store_->FindKey(created->record.id))->webhook_secret, secret);
  Reopen();
  absl::Status wrong = store_->UseSecretBox(Box('x'));
  EXPECT_TRUE(absl::IsFailedPrecondition(wrong)) << wrong;
  EXPECT_NE(wrong.message().find(created->record.id), absl::string_view::npos) << wrong;
}

TEST_F(SecretStoreTest, PlaintextRowsKeepWorkingAndAreSealedOnOpen) {
  auto created = CreateApiKey(store_.get(), {.name = "old"});  // an older server: no box
  ASSERT_TRUE(created.ok());
  const std::string secret = created->record.webhook_secret;
  EXPECT_EQ(RawSecret(created->record.id), secret);
  EXPECT_EQ((*store_->FindKey(created->record.id))->webhook_secret, secret);
  Reopen();
  ASSERT_TRUE(store_->UseSecretBox(Box('k')).ok());
  EXPECT_TRUE(SecretBox::IsSealed(RawSecret(created->record.id)));
  EXPECT_EQ((*store_->FindKey(created->record.id))->webhook_secret, secret);
}

TEST_F(SecretStoreTest, KeyFileIsCreated0600AndReused) {
  std::string source;
  auto a = SecretBox::FromEnvOrFile(dir_.string(), &source);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(source, (dir_ / "secret.key").string());
  struct stat st {};
  ASSERT_EQ(::stat((dir_ / "secret.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto b = SecretBox::FromEnvOrFile(dir_.string());
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*b->Open(a->Seal("s", "c"), "c"), "s");
  // IMAGEN_SECRET_KEY wins over the file.
  std::string env_key(32, 'e');
  ::setenv("IMAGEN_SECRET_KEY", Base64Encode(env_key).c_str(), 1);
  auto c = SecretBox::FromEnvOrFile(dir_.string(), &source);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(source, "IMAGEN_SECRET_KEY");
  EXPECT_EQ(*Box('e').Open(c->Seal("s", "c"), "c"), "s");
  ::setenv("IMAGEN_SECRET_KEY", "not-32-bytes", 1);
  EXPECT_FALSE(SecretBox::FromEnvOrFile(dir_.string()).ok());
}

// Verifies `headers` as a Standard Webhooks receiver holding `secret` does.
bool Verifies(const std::map<std::string, std::string>& headers, const std::string& secret, const std::string& body) {
  auto expected = SignWebhook(secret, headers.at("webhook-id"), std::stoll(headers.at("webhook-timestamp")), body);
  for (absl::string_view sig : absl::StrSplit(headers.at("webhook-signature"), ' ')) {
    if (expected.ok() && sig == *expected) return true;
  }
  return false;
}

TEST_F(SecretStoreTest, RotateWebhookSecretSignsWithBothDuringTheGracePeriod) {
  ASSERT_TRUE(store_->UseSecretBox(Box('k')).ok());
  auto created = CreateApiKey(store_.get(), {.name = "a"});
  ASSERT_TRUE(created.ok());
  const std::string old_secret = created->record.webhook_secret;
  auto rotated = RotateWebhookSecret(store_.get(), created->record.id.substr(0, 8), absl::Hours(24));
  ASSERT_TRUE(rotated.ok()) << rotated.status();
  EXPECT_NE(rotated->webhook_secret, old_secret);
  EXPECT_EQ(rotated->previous_webhook_secret, old_secret);
  // Stored sealed, both secrets, and read back so.
  std::string raw = RawSecret(created->record.id);
  EXPECT_TRUE(SecretBox::IsSealed(raw));
  EXPECT_EQ(raw.find(old_secret.substr(6)), std::string::npos);
  auto key = **store_->FindKey(created->record.id);
  EXPECT_EQ(key.webhook_secret, rotated->webhook_secret);
  EXPECT_EQ(key.previous_webhook_secret, old_secret);

  const std::string body = R"({"type":"job.succeeded"})";
  auto during = WebhookHeaders(SigningSecrets(key, clock_.Now()), "msg_1", 1700000000, body);
  ASSERT_TRUE(during.ok());
  EXPECT_TRUE(Verifies(*during, rotated->webhook_secret, body));
  EXPECT_TRUE(Verifies(*during, old_secret, body));  // receivers not yet updated still verify
  clock_.Advance(absl::Hours(25));
  auto after = WebhookHeaders(SigningSecrets(key, clock_.Now()), "msg_2", 1700090000, body);
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(Verifies(*after, rotated->webhook_secret, body));
  EXPECT_FALSE(Verifies(*after, old_secret, body));
  EXPECT_EQ(after->at("webhook-signature").find(' '), std::string::npos);

  EXPECT_TRUE(absl::IsNotFound(RotateWebhookSecret(store_.get(), "key_nope", absl::Hours(1)).status()));
  ASSERT_TRUE(store_->RevokeKey(created->record.id).ok());
  EXPECT_TRUE(
      absl::IsFailedPrecondition(RotateWebhookSecret(store_.get(), created->record.id, absl::Hours(1)).status()));
}

TEST_F(SecretStoreTest, DeliveriesAreSignedWithTheRotatedSecrets) {
  ASSERT_TRUE(store_->UseSecretBox(Box('k')).ok());
  auto created = CreateApiKey(store_.get(), {.name = "a"});
  ASSERT_TRUE(created.ok());
  const std::string old_secret = created->record.webhook_secret;
  auto rotated = RotateWebhookSecret(store_.get(), created->record.id, absl::Hours(1));
  ASSERT_TRUE(rotated.ok());
  auto c = store_->Create({.key_id = created->record.id,
                           .operation = "copy",
                           .input_ref = "in",
                           .input_type = "image/png",
                           .webhook_url = "http://127.0.0.1:1/hook"});
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(store_->Lease("w", absl::Seconds(30)).ok());
  ASSERT_TRUE(store_->Complete(c->job.id, "w", c->job.id, "image/png").ok());
  std::map<std::string, std::string> seen_headers;
  std::string seen_body;
  WebhookOptions options;
  options.policy.allow_hosts = {"127.0.0.1:1"};
  options.post = [&](const Url&, const std::vector<std::string>&, const std::map<std::string, std::string>& headers,
                     const std::string& body, absl::Duration) -> absl::StatusOr<HttpResult> {
    seen_headers = headers;
    seen_body = body;
    return HttpResult{.status = 200};
  };
  WebhookDispatcher dispatcher(store_.get(), options);
  auto n = dispatcher.RunOnce();
  ASSERT_TRUE(n.ok()) << n.status();
  ASSERT_EQ(*n, 1);
  ASSERT_TRUE(seen_headers.count("webhook-signature"));
  EXPECT_TRUE(Verifies(seen_headers, rotated->webhook_secret, seen_body));
  EXPECT_TRUE(Verifies(seen_headers, old_secret, seen_body));
}

}  // namespace
}  // namespace imagen::jobs
