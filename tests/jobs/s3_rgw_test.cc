// The S3 client against a real Ceph RADOS Gateway: rgw/start_rgw.sh starts a
// throwaway single-node Ceph once for the whole binary (a test environment),
// every case talks to it over 127.0.0.1. Under CI=true a missing Ceph fails
// the test, naming what is missing; elsewhere the cases are skipped with the
// same message.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "jobs/s3_client.h"

namespace imagen::jobs {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool InCi() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string(ci) == "true";
}

class RgwEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    // IMAGEN_RGW_ENV=DIR/env of an RGW started by hand: reuse it (edit loop).
    if (const char* env = std::getenv("IMAGEN_RGW_ENV"); env != nullptr && *env != '\0') {
      ParseEnv(env);
      return;
    }
    char tmpl[] = "/tmp/imagen-rgw-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) {
      error_ = "mkdtemp failed";
      return;
    }
    dir_ = tmpl;
    std::string log = dir_ + ".log";
    std::string cmd = absl::StrCat(IMAGEN_RGW_SCRIPTS, "/start_rgw.sh ", dir_, " >", log, " 2>&1");
    int rc = std::system(cmd.c_str());
    std::string output = ReadFile(log);
    std::remove(log.c_str());
    if (rc != 0) {
      missing_ = WIFEXITED(rc) && WEXITSTATUS(rc) == 3;
      error_ = absl::StrCat("Ceph RGW could not be started by tests/jobs/rgw/start_rgw.sh: ", output);
      return;
    }
    ParseEnv(dir_ + "/env");
    std::fprintf(stderr, "[rgw] %s up in %s\n", values_["S3_ENDPOINT"].c_str(), values_["RGW_STARTUP"].c_str());
  }

  void TearDown() override {
    if (dir_.empty()) return;
    std::string cmd = absl::StrCat(IMAGEN_RGW_SCRIPTS, "/stop_rgw.sh ", dir_);
    if (std::system(cmd.c_str()) != 0) std::fprintf(stderr, "[rgw] stop_rgw.sh failed for %s\n", dir_.c_str());
  }

  void ParseEnv(const std::string& path) {
    for (absl::string_view line : absl::StrSplit(ReadFile(path), '\n', absl::SkipEmpty())) {
      std::pair<std::string, std::string> kv = absl::StrSplit(line, absl::MaxSplits('=', 1));
      values_[kv.first] = kv.second;
    }
    if (values_["S3_ENDPOINT"].empty()) error_ = absl::StrCat("no S3_ENDPOINT in ", path);
  }

  const std::string& error() const { return error_; }
  bool missing() const { return missing_; }
  std::string value(const std::string& k) const { return values_.count(k) ? values_.at(k) : ""; }

 private:
  std::string dir_;
  std::string error_;
  bool missing_ = false;
  std::map<std::string, std::string> values_;
};

RgwEnvironment* rgw = nullptr;

class S3RgwTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!rgw->error().empty()) {
      if (rgw->missing() && !InCi()) GTEST_SKIP() << "skipped (outside CI): " << rgw->error();
      FAIL() << rgw->error();
    }
  }

  S3Config Config(std::string bucket = "") const {
    auto c =
        ParseS3Uri(absl::StrCat("s3://", bucket.empty() ? rgw->value("S3_BUCKET") : bucket,
                                "/itest?endpoint=", rgw->value("S3_ENDPOINT"), "&region=us-east-1&path_style=true"));
    EXPECT_TRUE(c.ok()) << c.status();
    c->credentials = {rgw->value("S3_ACCESS_KEY"), rgw->value("S3_SECRET_KEY"), ""};
    c->multipart_threshold = 8 << 20;
    c->part_size = 5 << 20;
    c->max_attempts = 2;
    return *c;
  }

  std::unique_ptr<S3Client> Client(S3Config c, Clock* clock = nullptr) const {
    auto client = S3Client::Create(std::move(c), nullptr, clock);
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? *std::move(client) : nullptr;
  }

  // The object's bytes, or the error as text (so a failure reads well).
  static std::string Body(S3Client& client, std::string_view key) {
    auto got = client.GetObject(key);
    return got.ok() ? got->body : absl::StrCat("<", got.status().ToString(), ">");
  }

  static std::string RandomBytes(size_t n, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::string s(n, '\0');
    for (char& c : s) c = static_cast<char>(rng());
    return s;
  }

  // Runs curl on `url`; returns the HTTP status and stores the body.
  static int Curl(const std::string& url, std::string* body) {
    char tmpl[] = "/tmp/imagen-s3-curl-XXXXXX";
    int fd = mkstemp(tmpl);
    if (fd >= 0) close(fd);
    std::string cmd = absl::StrCat("curl -s -o ", tmpl, " -w '%{http_code}' '", url, "'");
    FILE* p = popen(cmd.c_str(), "r");
    char buf[16] = {0};
    size_t n = p ? std::fread(buf, 1, sizeof(buf) - 1, p) : 0;
    if (p) pclose(p);
    *body = ReadFile(tmpl);
    std::remove(tmpl);
    return std::atoi(std::string(buf, n).c_str());
  }
};

TEST_F(S3RgwTest, RoundTripIsByteForByteIncludingEmptyAndMultipart) {
  auto client = Client(Config());
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->CheckBucket().ok()) << client->CheckBucket();
  struct Case {
    std::string key;
    size_t size;
  } cases[] = {{"rt/empty", 0}, {"rt/small with space/ሴ.bin", 1000}, {"rt/multipart-12MiB", 12 << 20}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.key);
    std::string body = RandomBytes(c.size, c.size + 1);
    ASSERT_TRUE(client->PutObject(c.key, body, {.content_type = "application/x-test"}).ok());
    auto head = client->HeadObject(c.key);
    ASSERT_TRUE(head.ok()) << head.status();
    EXPECT_EQ(head->size, c.size);
    EXPECT_EQ(head->content_type, "application/x-test");
    if (c.size > (8u << 20)) {
      EXPECT_TRUE(absl::EndsWith(head->etag, "-3\"")) << head->etag;  // 3 parts
    }
    auto got = client->GetObject(c.key);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->body.size(), body.size());
    EXPECT_TRUE(got->body == body);
    ASSERT_TRUE(client->DeleteObject(c.key).ok());
    EXPECT_EQ(client->GetObject(c.key).status().code(), absl::StatusCode::kNotFound);
    EXPECT_EQ(client->HeadObject(c.key).status().code(), absl::StatusCode::kNotFound);
  }
  EXPECT_TRUE(client->DeleteObject("rt/never-existed").ok());
  absl::Status missing = client->GetObject("rt/never-existed").status();
  EXPECT_TRUE(absl::StrContains(missing.message(), "object 'itest/rt/never-existed' in bucket")) << missing;
}

TEST_F(S3RgwTest, UnsignedPayloadAndPooledConnectionsFromManyThreads) {
  S3Config c = Config();
  c.sign_payload = false;
  auto client = Client(c);
  ASSERT_NE(client, nullptr);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        std::string key = absl::StrCat("mt/", t, "/", i);
        std::string body = RandomBytes(5000 + i, t * 100 + i);
        if (!client->PutObject(key, body).ok()) ++failures;
        auto got = client->GetObject(key);
        if (!got.ok() || got->body != body) ++failures;
        if (!client->DeleteObject(key).ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST_F(S3RgwTest, ConditionalCreateRefusesAnExistingKey) {
  auto client = Client(Config());
  ASSERT_NE(client, nullptr);
  client->DeleteObject("cc/k").IgnoreError();
  ASSERT_TRUE(client->PutObject("cc/k", "first", {.if_none_match = true}).ok());
  absl::Status again = client->PutObject("cc/k", "second", {.if_none_match = true});
  EXPECT_EQ(again.code(), absl::StatusCode::kAlreadyExists) << again;
  EXPECT_EQ(Body(*client, "cc/k"), "first");
  // Multipart bodies too.
  absl::Status big = client->PutObject("cc/k", std::string(9 << 20, 'z'), {.if_none_match = true});
  EXPECT_EQ(big.code(), absl::StatusCode::kAlreadyExists) << big;
  EXPECT_EQ(Body(*client, "cc/k"), "first");
  // Unconditional PUT replaces.
  ASSERT_TRUE(client->PutObject("cc/k", "third").ok());
  EXPECT_EQ(Body(*client, "cc/k"), "third");
  ASSERT_TRUE(client->DeleteObject("cc/k").ok());
}

TEST_F(S3RgwTest, ListByPrefixWithPaging) {
  auto client = Client(Config());
  ASSERT_NE(client, nullptr);
  for (int i = 0; i < 7; ++i) ASSERT_TRUE(client->PutObject(absl::StrCat("ls/a/", i), std::string(i, 'a')).ok());
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(client->PutObject(absl::StrCat("ls/b/", i), "b").ok());
  std::vector<std::string> keys;
  std::vector<size_t> page_sizes;
  std::string token;
  do {
    auto page = client->ListObjectsPage("ls/a/", token, 3);
    ASSERT_TRUE(page.ok()) << page.status();
    page_sizes.push_back(page->objects.size());
    for (const auto& o : page->objects) {
      keys.push_back(o.key);
      EXPECT_EQ(o.size, static_cast<uint64_t>(o.key.back() - '0'));
    }
    token = page->next_continuation_token;
  } while (!token.empty() && page_sizes.size() < 10);
  EXPECT_EQ(page_sizes, (std::vector<size_t>{3, 3, 1}));
  EXPECT_EQ(keys, (std::vector<std::string>{"ls/a/0", "ls/a/1", "ls/a/2", "ls/a/3", "ls/a/4", "ls/a/5", "ls/a/6"}));
  auto all = client->ListObjects("ls/");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 9u);
  auto none = client->ListObjects("ls/zzz");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  for (const auto& o : *all) ASSERT_TRUE(client->DeleteObject(o.key).ok());
}

TEST_F(S3RgwTest, WrongSecretIsAnAuthenticationErrorNamingTheKey) {
  S3Config c = Config();
  c.credentials.secret_access_key = "not-the-secret";
  auto client = Client(c);
  ASSERT_NE(client, nullptr);
  absl::Status put = client->PutObject("auth/k", "x");
  EXPECT_EQ(put.code(), absl::StatusCode::kUnauthenticated) << put;
  EXPECT_TRUE(absl::StrContains(put.message(),
                                "secret access key is wrong for access key id '" + rgw->value("S3_ACCESS_KEY") + "'"))
      << put;
  absl::Status check = client->CheckBucket();  // HEAD: no error body
  EXPECT_TRUE(absl::IsPermissionDenied(check) || absl::IsUnauthenticated(check)) << check;
  EXPECT_TRUE(absl::StrContains(check.message(), rgw->value("S3_ACCESS_KEY"))) << check;
  c.credentials.access_key_id = "NOSUCHKEY";
  absl::Status unknown = Client(c)->GetObject("auth/k").status();
  EXPECT_EQ(unknown.code(), absl::StatusCode::kUnauthenticated) << unknown;
  EXPECT_TRUE(absl::StrContains(unknown.message(), "'NOSUCHKEY' is not known")) << unknown;
}

TEST_F(S3RgwTest, MissingBucketIsNotFoundNamingTheBucket) {
  auto client = Client(Config("imagen-no-such-bucket"));
  ASSERT_NE(client, nullptr);
  absl::Status get = client->GetObject("k").status();
  EXPECT_EQ(get.code(), absl::StatusCode::kNotFound) << get;
  EXPECT_TRUE(absl::StrContains(get.message(), "bucket 'imagen-no-such-bucket' does not exist")) << get;
  EXPECT_TRUE(IsS3NoSuchBucket(get)) << get;
  EXPECT_FALSE(IsS3NoSuchBucket(Client(Config())->GetObject("no-such-key").status()));
  absl::Status put = client->PutObject("k", "x");
  EXPECT_EQ(put.code(), absl::StatusCode::kNotFound) << put;
  absl::Status check = client->CheckBucket();
  EXPECT_EQ(check.code(), absl::StatusCode::kNotFound) << check;
  EXPECT_TRUE(absl::StrContains(check.message(), "bucket 'imagen-no-such-bucket' does not exist")) << check;
  EXPECT_TRUE(IsS3NoSuchBucket(check)) << check;
}

TEST_F(S3RgwTest, PresignedGetWorksAndFailsWhenExpiredOrTampered) {
  auto client = Client(Config());
  ASSERT_NE(client, nullptr);
  std::string body = RandomBytes(70000, 7);
  ASSERT_TRUE(client->PutObject("ps/result.png", body).ok());
  auto url = client->PresignUrl("GET", "ps/result.png", absl::Minutes(5));
  ASSERT_TRUE(url.ok()) << url.status();
  std::string got;
  EXPECT_EQ(Curl(*url, &got), 200);
  EXPECT_TRUE(got == body);

  std::string flipped = *url;
  size_t sig = flipped.find("X-Amz-Signature=");
  ASSERT_NE(sig, std::string::npos) << flipped;
  char& digit = flipped[sig + std::string("X-Amz-Signature=").size() + 10];  // one hex digit of the signature
  digit = digit == '0' ? '1' : '0';
  EXPECT_EQ(Curl(flipped, &got), 403);
  EXPECT_TRUE(absl::StrContains(got, "SignatureDoesNotMatch")) << got;

  // Signed two minutes ago for one minute: expired, without waiting.
  FakeClock past(absl::Now() - absl::Minutes(2));
  auto old_client = Client(Config(), &past);
  auto expired = old_client->PresignUrl("GET", "ps/result.png", absl::Minutes(1));
  ASSERT_TRUE(expired.ok());
  EXPECT_EQ(Curl(*expired, &got), 403);
  EXPECT_TRUE(absl::StrContains(got, "AccessDenied")) << got;

  // A presigned PUT uploads without credentials.
  auto put_url = client->PresignUrl("PUT", "ps/uploaded", absl::Minutes(5));
  ASSERT_TRUE(put_url.ok());
  char tmpl[] = "/tmp/imagen-s3-put-XXXXXX";
  int fd = mkstemp(tmpl);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "hello", 5), 5);
  close(fd);
  std::string cmd = absl::StrCat("curl -s -o /dev/null -w '%{http_code}' -T ", tmpl, " '", *put_url, "'");
  FILE* p = popen(cmd.c_str(), "r");
  char code[8] = {0};
  size_t n = p ? std::fread(code, 1, sizeof(code) - 1, p) : 0;
  if (p) pclose(p);
  std::remove(tmpl);
  EXPECT_EQ(std::string(code, n), "200");
  auto uploaded = client->GetObject("ps/uploaded");
  ASSERT_TRUE(uploaded.ok()) << uploaded.status();
  EXPECT_EQ(uploaded->body, "hello");
  ASSERT_TRUE(client->DeleteObject("ps/uploaded").ok());
  ASSERT_TRUE(client->DeleteObject("ps/result.png").ok());
}

TEST_F(S3RgwTest, HttpsWithTheCertificateCheckedAgainstTheCaFile) {
  S3Config c = Config();
  auto tls = ParseS3Uri(absl::StrCat("s3://", c.bucket, "/itest?endpoint=", rgw->value("S3_TLS_ENDPOINT"),
                                     "&path_style=true&ca_file=", rgw->value("S3_CA_FILE")));
  ASSERT_TRUE(tls.ok()) << tls.status();
  c.scheme = tls->scheme;
  c.host = tls->host;
  c.port = tls->port;
  c.ca_file = tls->ca_file;
  auto client = Client(c);
  ASSERT_NE(client, nullptr);
  std::string body = RandomBytes(9 << 20, 11);  // multipart over TLS
  ASSERT_TRUE(client->PutObject("tls/k", body).ok());
  EXPECT_TRUE(Body(*client, "tls/k") == body);
  auto url = client->PresignUrl("GET", "tls/k", absl::Minutes(1));
  ASSERT_TRUE(url.ok());
  EXPECT_TRUE(absl::StartsWith(*url, "https://127.0.0.1:")) << *url;
  ASSERT_TRUE(client->DeleteObject("tls/k").ok());

  // The same self-signed server against the system trust store: refused, at
  // once (a certificate problem is not retried), saying why.
  c.ca_file.clear();
  auto untrusted = Client(c);
  ASSERT_NE(untrusted, nullptr);
  absl::Status s = untrusted->GetObject("tls/k").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "TLS with https://127.0.0.1:")) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "certificate")) << s;
  EXPECT_FALSE(absl::StrContains(s.message(), "gave up")) << s;
}

TEST_F(S3RgwTest, UnreachableEndpointIsUnavailableAfterRetries) {
  S3Config c = Config();
  c.port = 1;  // nothing listens there
  c.retry_base_delay = absl::Milliseconds(1);
  c.connect_timeout = absl::Seconds(1);
  auto client = Client(c);
  absl::Status s = client->GetObject("k").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "127.0.0.1:1")) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "gave up after 2 attempts")) << s;
}

}  // namespace
}  // namespace imagen::jobs

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  imagen::jobs::rgw = new imagen::jobs::RgwEnvironment();
  ::testing::AddGlobalTestEnvironment(imagen::jobs::rgw);
  return RUN_ALL_TESTS();
}
