// The S3 client without a server: URI parsing, credentials, the error table,
// the XML scanner, and the client's requests, retries, paging and multipart
// flow over a scripted transport and a fake clock.
#include "jobs/s3_client.h"

#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <random>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "jobs/s3_xml.h"

namespace imagen::jobs {
namespace {

TEST(S3ConfigTest, ParsesTheDocumentedUri) {
  auto c = ParseS3Uri("s3://imagen-blobs/prod/eu?endpoint=http://127.0.0.1:7480&region=eu-west-1&path_style=true");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->bucket, "imagen-blobs");
  EXPECT_EQ(c->prefix, "prod/eu/");
  EXPECT_EQ(c->scheme, "http");
  EXPECT_EQ(c->host, "127.0.0.1");
  EXPECT_EQ(c->port, 7480);
  EXPECT_EQ(c->region, "eu-west-1");
  EXPECT_TRUE(c->path_style);
  EXPECT_EQ(EndpointUrl(*c), "http://127.0.0.1:7480");
}

TEST(S3ConfigTest, DefaultsToAwsVirtualHost) {
  auto c = ParseS3Uri("s3://bucket-1");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->prefix, "");
  EXPECT_EQ(EndpointUrl(*c), "https://s3.us-east-1.amazonaws.com");
  EXPECT_FALSE(c->path_style);
  auto e = ParseS3Uri("s3://b12/x/?endpoint=http%3A%2F%2Fminio.local%3A9000&ca_file=/etc/ca.pem");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->host, "minio.local");
  EXPECT_EQ(e->port, 9000);
  EXPECT_EQ(e->prefix, "x/");
  EXPECT_EQ(e->ca_file, "/etc/ca.pem");
}

TEST(S3ConfigTest, RejectsBadUrisWithClearErrors) {
  struct Case {
    const char* uri;
    const char* message;
  } cases[] = {
      {"file:///tmp", "is not an s3:// URI"},
      {"s3://", "names no bucket"},
      {"s3://Bad_Bucket", "bucket name 'Bad_Bucket' is not valid"},
      {"s3://ab", "bucket name 'ab' is not valid"},
      {"s3://bucket?endpoint=ftp://h", "scheme 'ftp' is not supported"},
      {"s3://bucket?endpoint=http://h:99999", "port '99999' is not valid"},
      {"s3://bucket?endpoint=http://h/path", "must not have a path"},
      {"s3://bucket?endpoint=http://u:p@h", "userinfo"},
      {"s3://bucket?region=", "region is empty"},
      {"s3://bucket?path_style=yes", "path_style must be true or false, not 'yes'"},
      {"s3://bucket?pathstyle=true", "unknown parameter 'pathstyle'"},
      {"s3://bucket?endpoint=http://127.0.0.1:7480", "add path_style=true"},
      {"s3://my.bucket", "contains '.'"},
      {"s3://bucket/%zz", "bad percent-encoding"},
  };
  for (const Case& c : cases) {
    auto r = ParseS3Uri(c.uri);
    ASSERT_FALSE(r.ok()) << c.uri;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << c.uri;
    EXPECT_TRUE(absl::StrContains(r.status().message(), c.message)) << c.uri << ": " << r.status();
  }
}

TEST(S3ConfigTest, CredentialsFromEnvironment) {
  std::map<std::string, std::string> env{{"AWS_ACCESS_KEY_ID", "AK"}, {"AWS_SECRET_ACCESS_KEY", "SK"}};
  auto getenv = [&](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  auto c = AwsCredentialsFromEnv(getenv);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->access_key_id, "AK");
  EXPECT_EQ(c->secret_access_key, "SK");
  EXPECT_EQ(c->session_token, "");
  env["AWS_SESSION_TOKEN"] = "TOK";
  EXPECT_EQ(AwsCredentialsFromEnv(getenv)->session_token, "TOK");
  env.erase("AWS_SECRET_ACCESS_KEY");
  EXPECT_TRUE(absl::StrContains(AwsCredentialsFromEnv(getenv).status().message(), "AWS_SECRET_ACCESS_KEY"));
  S3Config config = *ParseS3Uri("s3://bucket");
  EXPECT_TRUE(absl::StrContains(ValidateS3Config(config).message(), "credentials are missing"));
}

std::string ErrorXml(absl::string_view code) {
  return absl::StrCat("<?xml version=\"1.0\"?><Error><Code>", code, "</Code><Message>m &amp; n</Message>",
                      "<RequestId>rid-1</RequestId></Error>");
}

TEST(S3ErrorsTest, OneTableForEveryCode) {
  S3ErrorContext ctx{"GetObject", "imagen", "inputs/ab", "AKID", false};
  struct Case {
    int http;
    const char* code;
    absl::StatusCode want;
    const char* mentions;
  } cases[] = {
      {404, "NoSuchKey", absl::StatusCode::kNotFound, "object 'inputs/ab' in bucket 'imagen'"},
      {404, "NoSuchBucket", absl::StatusCode::kNotFound, "bucket 'imagen' does not exist"},
      {404, "NoSuchUpload", absl::StatusCode::kNotFound, "multipart upload"},
      {403, "AccessDenied", absl::StatusCode::kPermissionDenied, "access key id 'AKID'"},
      {403, "SignatureDoesNotMatch", absl::StatusCode::kUnauthenticated, "secret access key is wrong"},
      {403, "InvalidAccessKeyId", absl::StatusCode::kUnauthenticated, "'AKID' is not known"},
      {400, "ExpiredToken", absl::StatusCode::kUnauthenticated, "session token"},
      {403, "RequestTimeTooSkewed", absl::StatusCode::kUnauthenticated, "clock"},
      {503, "SlowDown", absl::StatusCode::kUnavailable, "SlowDown"},
      {500, "InternalError", absl::StatusCode::kUnavailable, "rid-1"},
      {400, "RequestTimeout", absl::StatusCode::kUnavailable, "RequestTimeout"},
      {400, "XAmzContentSHA256Mismatch", absl::StatusCode::kDataLoss, "intact"},
      {412, "PreconditionFailed", absl::StatusCode::kFailedPrecondition, "precondition"},
      {409, "BucketNotEmpty", absl::StatusCode::kFailedPrecondition, "conflict"},
      {416, "InvalidRange", absl::StatusCode::kOutOfRange, "InvalidRange"},
      {501, "NotImplemented", absl::StatusCode::kUnimplemented, "not supported"},
      {400, "InvalidArgument", absl::StatusCode::kInvalidArgument, "m & n"},
  };
  for (const Case& c : cases) {
    absl::Status s = S3ErrorToStatus(c.http, ErrorXml(c.code), ctx);
    EXPECT_EQ(s.code(), c.want) << c.code << ": " << s;
    EXPECT_TRUE(absl::StrContains(s.message(), c.mentions)) << c.code << ": " << s;
    EXPECT_EQ(S3ErrorCode(s), c.code);
  }
  EXPECT_TRUE(IsS3NoSuchBucket(S3ErrorToStatus(404, ErrorXml("NoSuchBucket"), ctx)));
  EXPECT_FALSE(IsS3NoSuchBucket(S3ErrorToStatus(404, ErrorXml("NoSuchKey"), ctx)));
  EXPECT_EQ(S3ErrorCode(S3ErrorToStatus(404, "", ctx)), "");
  // Body-less answers (HEAD) fall back to the HTTP status.
  EXPECT_EQ(S3ErrorToStatus(404, "", ctx).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(S3ErrorToStatus(403, "", ctx).code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(S3ErrorToStatus(503, "", ctx).code(), absl::StatusCode::kUnavailable);
  ctx.conditional_create = true;
  EXPECT_EQ(S3ErrorToStatus(412, ErrorXml("PreconditionFailed"), ctx).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE(IsS3Retryable(absl::UnavailableError("")));
  EXPECT_TRUE(IsS3Retryable(absl::DeadlineExceededError("")));
  EXPECT_FALSE(IsS3Retryable(absl::PermissionDeniedError("")));
}

TEST(S3XmlTest, ScansFlatDocuments) {
  std::string xml =
      "<R><Contents><Key>a&lt;b&#x20;&#233;</Key></Contents><Contents><Key>c</Key></Contents><KeyCount>2</KeyCount>"
      "<Empty/></R>";
  auto contents = XmlElements(xml, "Contents");
  ASSERT_EQ(contents.size(), 2u);
  EXPECT_EQ(XmlText(contents[0], "Key").value(), "a<b \xc3\xa9");
  EXPECT_EQ(XmlText(xml, "KeyCount").value(), "2");  // not confused with <Key>
  EXPECT_EQ(XmlText(xml, "Empty").value(), "");
  EXPECT_FALSE(XmlText(xml, "Missing").has_value());
  EXPECT_TRUE(XmlElements("<Key>unterminated", "Key").empty());
  EXPECT_EQ(XmlEscape("\"e&t<>'"), "&quot;e&amp;t&lt;&gt;&apos;");
}

// Server bytes are untrusted: every prefix of real documents and random
// strings of XML-ish characters go through the scanner without harm (run
// under ASan by the sanitizer build).
TEST(S3XmlTest, SurvivesTruncatedAndRandomInput) {
  std::string docs =
      "<ListBucketResult><IsTruncated>true</IsTruncated><Contents><Key>a&#x1F600;&amp;</Key><Size>3</Size>"
      "</Contents><NextContinuationToken>t</NextContinuationToken></ListBucketResult>"
      "<Error><Code>NoSuchKey</Code><Message>&#99999999999;&#;&#x;&bogus;</Message></Error>";
  for (size_t n = 0; n <= docs.size(); ++n) {
    std::string_view prefix(docs.data(), n);
    for (const char* tag : {"Contents", "Key", "Code", "Message", "IsTruncated"}) {
      for (std::string_view e : XmlElements(prefix, tag)) XmlUnescape(e);
      XmlText(prefix, tag);
    }
    EXPECT_FALSE(S3ErrorToStatus(500, prefix, {}).ok());
  }
  std::mt19937 rng(42);
  const char alphabet[] = "<>/&;#xK ey=\"Code";
  for (int i = 0; i < 2000; ++i) {
    std::string s(rng() % 64, ' ');
    for (char& c : s) c = alphabet[rng() % (sizeof(alphabet) - 1)];
    XmlText(s, "Key");
    XmlText(s, "Code");
    XmlUnescape(s);
  }
}

TEST(S3BackoffTest, ExponentialCappedWithJitter) {
  absl::Duration base = absl::Milliseconds(100), max = absl::Seconds(1);
  EXPECT_EQ(S3Backoff(1, 1.0, base, max), absl::Milliseconds(100));
  EXPECT_EQ(S3Backoff(1, 0.0, base, max), absl::Milliseconds(50));
  EXPECT_EQ(S3Backoff(3, 1.0, base, max), absl::Milliseconds(400));
  EXPECT_EQ(S3Backoff(10, 1.0, base, max), absl::Seconds(1));
}

// Scripted transport: answers in order, records every request.
class FakeTransport final : public S3Transport {
 public:
  struct Seen {
    S3HttpRequest request;
    std::string body;
    bool head;
  };
  absl::StatusOr<S3HttpResponse> Send(const S3HttpRequest& request, const S3HttpLimits& limits) override {
    seen.push_back({request, std::string(request.body), limits.head});
    seen.back().request.body = {};
    if (answers.empty()) return S3HttpResponse{200, {{"etag", absl::StrCat("\"e", seen.size(), "\"")}}, ""};
    auto a = answers.front();
    answers.pop_front();
    return a;
  }
  std::string Header(size_t i, std::string_view name) const {
    for (const auto& [k, v] : seen[i].request.headers) {
      if (absl::EqualsIgnoreCase(k, ToAbslView(name))) return v;
    }
    return "";
  }
  static absl::string_view ToAbslView(std::string_view s) { return {s.data(), s.size()}; }

  std::deque<absl::StatusOr<S3HttpResponse>> answers;
  std::vector<Seen> seen;
};

class S3ClientTest : public ::testing::Test {
 protected:
  std::unique_ptr<S3Client> Make(std::string uri = "s3://imagen/pre?endpoint=http://127.0.0.1:7480&path_style=true",
                                 int max_attempts = 4) {
    S3Config c = *ParseS3Uri(uri);
    c.credentials = {"AKID", "SECRET", ""};
    c.max_attempts = max_attempts;
    c.part_size = 5 << 20;
    c.multipart_threshold = 6 << 20;
    auto t = std::make_unique<FakeTransport>();
    fake_ = t.get();
    auto client = S3Client::Create(c, std::move(t), &clock_);
    EXPECT_TRUE(client.ok()) << client.status();
    return *std::move(client);
  }
  FakeClock clock_{absl::FromUnixSeconds(1'700'000'000)};
  FakeTransport* fake_ = nullptr;
};

TEST_F(S3ClientTest, PathStyleRequestIsSignedAsSent) {
  auto client = Make();
  ASSERT_TRUE(client->PutObject("a b/ሴ.png", "body", {.content_type = "image/png"}).ok());
  ASSERT_EQ(fake_->seen.size(), 1u);
  const S3HttpRequest& r = fake_->seen[0].request;
  EXPECT_EQ(r.method, "PUT");
  EXPECT_EQ(r.host, "127.0.0.1");
  EXPECT_EQ(r.port, 7480);
  EXPECT_EQ(r.target, "/imagen/pre/a%20b/%E1%88%B4.png");
  EXPECT_EQ(fake_->seen[0].body, "body");
  EXPECT_EQ(fake_->Header(0, "host"), "127.0.0.1:7480");
  EXPECT_EQ(fake_->Header(0, "x-amz-content-sha256"), Sha256Hex("body"));
  EXPECT_EQ(fake_->Header(0, "x-amz-date"), "20231114T221320Z");
  EXPECT_EQ(fake_->Header(0, "content-type"), "image/png");
  EXPECT_TRUE(absl::StartsWith(fake_->Header(0, "authorization"),
                               "AWS4-HMAC-SHA256 Credential=AKID/20231114/us-east-1/s3/aws4_request, "
                               "SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date, Signature="));
}

TEST_F(S3ClientTest, VirtualHostAddressing) {
  auto client = Make("s3://imagen?endpoint=http://s3.local:9000");
  ASSERT_TRUE(client->GetObject("k").ok());
  const S3HttpRequest& r = fake_->seen[0].request;
  EXPECT_EQ(r.host, "imagen.s3.local");
  EXPECT_EQ(r.target, "/k");
  EXPECT_EQ(fake_->Header(0, "host"), "imagen.s3.local:9000");
}

TEST_F(S3ClientTest, RetriesSlowDownAndServerErrorsWithBackoff) {
  auto client = Make();
  fake_->answers.push_back(S3HttpResponse{503, {}, ErrorXml("SlowDown")});
  fake_->answers.push_back(absl::DeadlineExceededError("s3: response timed out"));
  fake_->answers.push_back(S3HttpResponse{500, {}, ErrorXml("InternalError")});
  fake_->answers.push_back(S3HttpResponse{200, {}, "data"});
  absl::Time start = clock_.Now();
  auto got = client->GetObject("k");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->body, "data");
  EXPECT_EQ(fake_->seen.size(), 4u);
  absl::Duration slept = clock_.Now() - start;  // 50..100 + 100..200 + 200..400 ms
  EXPECT_GE(slept, absl::Milliseconds(350));
  EXPECT_LE(slept, absl::Milliseconds(700));
}

TEST_F(S3ClientTest, GivesUpAfterBoundedAttempts) {
  auto client = Make("s3://imagen?endpoint=http://127.0.0.1:1&path_style=true", 3);
  for (int i = 0; i < 5; ++i) fake_->answers.push_back(S3HttpResponse{503, {}, ErrorXml("SlowDown")});
  absl::Status s = client->DeleteObject("k");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StrContains(s.message(), "gave up after 3 attempts")) << s;
  EXPECT_EQ(S3ErrorCode(s), "SlowDown");  // kept through the retry summary
  EXPECT_EQ(fake_->seen.size(), 3u);
}

TEST_F(S3ClientTest, ClientErrorsAreNotRetried) {
  auto client = Make();
  fake_->answers.push_back(S3HttpResponse{403, {}, ErrorXml("SignatureDoesNotMatch")});
  absl::Status s = client->PutObject("k", "x");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(fake_->seen.size(), 1u);
}

TEST_F(S3ClientTest, ConditionalCreate) {
  auto client = Make();
  fake_->answers.push_back(S3HttpResponse{412, {}, ErrorXml("PreconditionFailed")});
  absl::Status s = client->PutObject("k", "x", {.if_none_match = true});
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists) << s;
  EXPECT_EQ(fake_->Header(0, "if-none-match"), "*");
  EXPECT_TRUE(absl::StrContains(fake_->Header(0, "authorization"), "if-none-match;"));
}

TEST_F(S3ClientTest, HeadAndMissingBucket) {
  auto client = Make();
  fake_->answers.push_back(S3HttpResponse{200, {{"content-length", "12"}, {"etag", "\"x\""}}, ""});
  auto info = client->HeadObject("k");
  ASSERT_TRUE(info.ok());
  EXPECT_TRUE(fake_->seen[0].head);
  EXPECT_EQ(info->size, 12u);
  fake_->answers.push_back(S3HttpResponse{404, {}, ""});
  absl::Status s = client->CheckBucket();
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(absl::StrContains(s.message(), "bucket 'imagen' does not exist")) << s;
  EXPECT_TRUE(IsS3NoSuchBucket(s));
  EXPECT_EQ(fake_->seen[1].request.target, "/imagen");
}

TEST_F(S3ClientTest, ListFollowsContinuationTokensAndStripsThePrefix) {
  auto client = Make();
  fake_->answers.push_back(S3HttpResponse{
      200,
      {},
      "<ListBucketResult><IsTruncated>true</IsTruncated><Contents><Key>pre/r/1</Key><Size>3</Size>"
      "<ETag>&quot;a&quot;</ETag></Contents><NextContinuationToken>tok/+=</NextContinuationToken></ListBucketResult>"});
  fake_->answers.push_back(S3HttpResponse{200,
                                          {},
                                          "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>pre/r/2"
                                          "</Key><Size>4</Size></Contents></ListBucketResult>"});
  auto all = client->ListObjects("r/");
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].key, "r/1");
  EXPECT_EQ((*all)[0].size, 3u);
  EXPECT_EQ((*all)[0].etag, "\"a\"");
  EXPECT_EQ((*all)[1].key, "r/2");
  EXPECT_EQ(fake_->seen[0].request.target, "/imagen?list-type=2&max-keys=1000&prefix=pre%2Fr%2F");
  EXPECT_EQ(fake_->seen[1].request.target,
            "/imagen?continuation-token=tok%2F%2B%3D&list-type=2&max-keys=1000&prefix=pre%2Fr%2F");
}

TEST_F(S3ClientTest, LargeBodiesGoUpInParts) {
  auto client = Make();
  std::string body((11 << 20) + 7, 'x');
  fake_->answers.push_back(S3HttpResponse{200, {}, "<InitiateMultipartUploadResult><UploadId>U1</UploadId>"});
  ASSERT_TRUE(client->PutObject("big", body).ok());
  ASSERT_EQ(fake_->seen.size(), 5u);  // create, 3 parts, complete
  EXPECT_EQ(fake_->seen[0].request.target, "/imagen/pre/big?uploads=");
  EXPECT_EQ(fake_->seen[1].request.target, "/imagen/pre/big?partNumber=1&uploadId=U1");
  EXPECT_EQ(fake_->seen[1].body.size(), 5u << 20);
  EXPECT_EQ(fake_->seen[3].body.size(), (1u << 20) + 7);
  EXPECT_EQ(fake_->seen[4].request.method, "POST");
  EXPECT_EQ(fake_->seen[4].body,
            "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>&quot;e2&quot;</ETag></Part>"
            "<Part><PartNumber>2</PartNumber><ETag>&quot;e3&quot;</ETag></Part>"
            "<Part><PartNumber>3</PartNumber><ETag>&quot;e4&quot;</ETag></Part></CompleteMultipartUpload>");
}

TEST_F(S3ClientTest, FailedMultipartIsAborted) {
  auto client = Make();
  fake_->answers.push_back(S3HttpResponse{200, {}, "<UploadId>U2</UploadId>"});
  fake_->answers.push_back(S3HttpResponse{200, {{"etag", "\"p1\""}}, ""});
  fake_->answers.push_back(S3HttpResponse{400, {}, ErrorXml("EntityTooSmall")});
  absl::Status s = client->PutObject("big", std::string(7 << 20, 'y'));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  ASSERT_EQ(fake_->seen.size(), 4u);
  EXPECT_EQ(fake_->seen[3].request.method, "DELETE");
  EXPECT_EQ(fake_->seen[3].request.target, "/imagen/pre/big?uploadId=U2");
}

TEST_F(S3ClientTest, CompleteWithAnErrorBodyFails) {
  auto client = Make();
  fake_->answers.push_back(S3HttpResponse{200, {}, ErrorXml("InternalError")});
  absl::Status s = client->CompleteMultipartUpload("k", "U", {"\"a\""});
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
}

TEST_F(S3ClientTest, PresignedUrl) {
  auto client = Make();
  auto url = client->PresignUrl("GET", "r/1", absl::Minutes(5));
  ASSERT_TRUE(url.ok());
  EXPECT_TRUE(absl::StartsWith(*url, "http://127.0.0.1:7480/imagen/pre/r/1?X-Amz-Algorithm=AWS4-HMAC-SHA256&")) << *url;
  EXPECT_TRUE(absl::StrContains(*url, "X-Amz-Credential=AKID%2F20231114%2Fus-east-1%2Fs3%2Faws4_request"));
  EXPECT_TRUE(absl::StrContains(*url, "X-Amz-Expires=300&"));
  size_t sig = url->find("&X-Amz-Signature=");
  ASSERT_NE(sig, std::string::npos) << *url;
  EXPECT_EQ(url->size() - sig, std::string("&X-Amz-Signature=").size() + 64) << *url;  // last, 64 hex digits
  EXPECT_TRUE(absl::StrContains(*url, "&X-Amz-SignedHeaders=host&")) << *url;
  EXPECT_EQ(client->PresignUrl("GET", "k", absl::Hours(24 * 8)).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(fake_->seen.empty());
}

TEST(S3ClientCreateTest, FromUriTakesCredentialsFromTheEnvironment) {
  auto none = [](const char*) -> const char* { return nullptr; };
  absl::Status s = S3Client::FromUri("s3://bucket?endpoint=http://127.0.0.1:9&path_style=true", none).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(s.message(), "AWS_ACCESS_KEY_ID is not set")) << s;
  auto keys = [](const char* name) -> const char* { return std::string(name) == "AWS_SESSION_TOKEN" ? nullptr : "x"; };
  auto client = S3Client::FromUri("s3://bucket/p?endpoint=http://127.0.0.1:9&path_style=true", keys);
  ASSERT_TRUE(client.ok()) << client.status();
  EXPECT_EQ((*client)->config().prefix, "p/");
  EXPECT_EQ((*client)->config().credentials.access_key_id, "x");
  EXPECT_EQ(S3Client::FromUri("s3://Bad", keys).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(S3ClientCreateTest, NeedsCredentialsAndALoadableCaFile) {
  S3Config c = *ParseS3Uri("s3://bucket");
  EXPECT_EQ(S3Client::Create(c).status().code(), absl::StatusCode::kInvalidArgument);
  c.credentials = {"a", "b", ""};
  EXPECT_TRUE(S3Client::Create(c).ok());  // https, system trust store
  c.ca_file = "/nonexistent/ca.pem";
  absl::Status s = S3Client::Create(c).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(s.message(), "/nonexistent/ca.pem")) << s;
}

}  // namespace
}  // namespace imagen::jobs
