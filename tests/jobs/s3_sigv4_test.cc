// SigV4 pinned to AWS's published vectors: the aws-sig-v4-test-suite (header
// and presigned forms; credentials AKIDEXAMPLE, region us-east-1, service
// "service", 20150830T123600Z) and the S3 examples of the S3 API reference
// ("Authenticating Requests: Using the Authorization Header" and "Using Query
// Parameters", examplebucket, AKIAIOSFODNN7EXAMPLE, 20130524T000000Z).
#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "jobs/sigv4.h"

namespace imagen::jobs {
namespace {

const AwsCredentials kSuiteCredentials{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};
const AwsCredentials kS3Credentials{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""};

SigV4Scope SuiteScope() {
  return {"us-east-1", "service", absl::FromCivil(absl::CivilSecond(2015, 8, 30, 12, 36, 0), absl::UTCTimeZone())};
}
SigV4Scope S3Scope() { return {"us-east-1", "s3", absl::FromCivil(absl::CivilDay(2013, 5, 24), absl::UTCTimeZone())}; }

constexpr char kSuiteCredentialPrefix[] =
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, ";

struct SuiteCase {
  const char* name;
  SigV4Request request;
  const char* canonical_request;  // nullptr: not pinned for this case
  const char* signed_headers;
  const char* signature;
};

SigV4Request Get(std::string path, KeyValues query = {}, KeyValues extra = {}) {
  KeyValues headers{{"Host", "example.amazonaws.com"}};
  headers.insert(headers.end(), extra.begin(), extra.end());
  return {"GET", std::move(path), std::move(query), std::move(headers), std::string(kEmptyPayloadSha256)};
}

std::vector<SuiteCase> HeaderCases() {
  return {
      {"get-vanilla", Get("/"),
       "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
       "host;x-amz-date", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
      {"get-vanilla-query-order-key-case", Get("/", {{"Param2", "value2"}, {"Param1", "value1"}}),
       "GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
       "host;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
       "host;x-amz-date", "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
      {"get-vanilla-query-unreserved",
       Get("/", {{"-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
                  "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"}}),
       nullptr, "host;x-amz-date", "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197"},
      {"get-vanilla-utf8-query", Get("/", {{"\xe1\x88\xb4", "bar"}}),
       "GET\n/\n%E1%88%B4=bar\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
       "host;x-amz-date", "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"},
      {"get-utf8", Get("/\xe1\x88\xb4"),
       "GET\n/%E1%88%B4\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
       "host;x-amz-date", "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"},
      {"get-unreserved", Get("/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"), nullptr,
       "host;x-amz-date", "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"},
      {"get-space-unnormalized", Get("/example space/"), nullptr, "host;x-amz-date",
       "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741"},
      {"get-slashes-unnormalized", Get("//example//"), nullptr, "host;x-amz-date",
       "87cca117541a147f6df867677d98a7d80dff226d2bfca9e4ffa899665623c7e5"},
      {"get-header-key-duplicate",
       Get("/", {}, {{"My-Header1", "value2"}, {"My-Header1", "value2"}, {"My-Header1", "value1"}}),
       "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value2,value2,value1\nx-amz-date:20150830T123600Z\n\n"
       "host;my-header1;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
       "host;my-header1;x-amz-date", "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea"},
      {"get-header-value-order",
       Get("/", {},
           {{"My-Header1", "value4"}, {"My-Header1", "value1"}, {"My-Header1", "value3"}, {"My-Header1", "value2"}}),
       nullptr, "host;my-header1;x-amz-date", "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01"},
      {"get-header-value-trim", Get("/", {}, {{"My-Header1", " value1"}, {"My-Header2", " \"a   b   c\""}}),
       "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value1\nmy-header2:\"a b c\"\n"
       "x-amz-date:20150830T123600Z\n\nhost;my-header1;my-header2;x-amz-date\n"
       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
       "host;my-header1;my-header2;x-amz-date", "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"},
      {"post-vanilla",
       {"POST", "/", {}, {{"Host", "example.amazonaws.com"}}, std::string(kEmptyPayloadSha256)},
       nullptr,
       "host;x-amz-date",
       "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"},
      {"post-vanilla-query",
       {"POST", "/", {{"Param1", "value1"}}, {{"Host", "example.amazonaws.com"}}, std::string(kEmptyPayloadSha256)},
       nullptr,
       "host;x-amz-date",
       "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11"},
      {"post-x-www-form-urlencoded",
       {"POST",
        "/",
        {},
        {{"Content-Type", "application/x-www-form-urlencoded"}, {"Host", "example.amazonaws.com"}},
        Sha256Hex("Param1=value1")},
       "POST\n/\n\ncontent-type:application/x-www-form-urlencoded\nhost:example.amazonaws.com\n"
       "x-amz-date:20150830T123600Z\n\ncontent-type;host;x-amz-date\n"
       "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
       "content-type;host;x-amz-date",
       "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"},
  };
}

TEST(SigV4Test, AwsTestSuiteHeaderForm) {
  for (const SuiteCase& c : HeaderCases()) {
    SCOPED_TRACE(c.name);
    SigV4Signature s = SignRequest(c.request, kSuiteCredentials, SuiteScope(), {.content_sha256_header = false});
    if (c.canonical_request != nullptr) {
      EXPECT_EQ(s.canonical_request, c.canonical_request);
    }
    EXPECT_EQ(s.signed_headers, c.signed_headers);
    EXPECT_EQ(s.signature, c.signature);
    EXPECT_EQ(s.authorization,
              std::string(kSuiteCredentialPrefix) + "SignedHeaders=" + c.signed_headers + ", Signature=" + c.signature);
  }
}

TEST(SigV4Test, StringToSignOfGetVanilla) {
  SigV4Signature s = SignRequest(Get("/"), kSuiteCredentials, SuiteScope(), {.content_sha256_header = false});
  EXPECT_EQ(s.string_to_sign,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
            "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");
  ASSERT_EQ(s.headers_to_add.size(), 2u);
  EXPECT_EQ(s.headers_to_add[0], (std::pair<std::string, std::string>{"x-amz-date", "20150830T123600Z"}));
  EXPECT_EQ(s.headers_to_add[1].first, "Authorization");
}

TEST(SigV4Test, AwsTestSuitePresignedForm) {
  const absl::Duration kExpires = absl::Seconds(3600);
  {
    SigV4Signature s = PresignRequest(Get("/"), kSuiteCredentials, SuiteScope(), kExpires);
    EXPECT_EQ(s.canonical_request,
              "GET\n/\nX-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2F"
              "service%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host\n"
              "host:example.amazonaws.com\n\nhost\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(s.signature, "e93c787ed7f371d5c6b165c1b38ede9550f4dce4144713e844b25b7192d3865d");
    ASSERT_FALSE(s.query.empty());
    EXPECT_EQ(s.query.back().first, "X-Amz-Signature");
    EXPECT_FALSE(absl::StrContains(s.canonical_request, "X-Amz-Signature"));
  }
  {
    SigV4Signature s = PresignRequest(Get("/", {{"Param2", "value2"}, {"Param1", "value1"}}), kSuiteCredentials,
                                      SuiteScope(), kExpires);
    EXPECT_EQ(s.signature, "86012e2c9ad4d77369f5d81c11f75158aae4f895a085212cc6d3f923d300bed5");
  }
  {
    SigV4Request post{"POST",
                      "/",
                      {},
                      {{"Content-Type", "application/x-www-form-urlencoded"},
                       {"Host", "example.amazonaws.com"},
                       {"Content-Length", "13"}},
                      Sha256Hex("Param1=value1")};
    SigV4Signature s = PresignRequest(post, kSuiteCredentials, SuiteScope(), kExpires);
    EXPECT_EQ(s.signed_headers, "content-length;content-type;host");
    EXPECT_EQ(s.signature, "89a40deed0f26f9461242825a082d2222717248abc7ab41f552ad84a94ad46e9");
  }
}

// S3 API reference, "Example: GET Object" (header form, Range header).
TEST(SigV4Test, S3GetObjectExample) {
  SigV4Request r{"GET",
                 "/test.txt",
                 {},
                 {{"Host", "examplebucket.s3.amazonaws.com"}, {"Range", "bytes=0-9"}},
                 std::string(kEmptyPayloadSha256)};
  SigV4Signature s = SignRequest(r, kS3Credentials, S3Scope());
  EXPECT_EQ(s.signed_headers, "host;range;x-amz-content-sha256;x-amz-date");
  EXPECT_EQ(s.signature, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

// S3 API reference, "Example: PUT Object" ($ in the key is encoded once).
TEST(SigV4Test, S3PutObjectExample) {
  std::string body = "Welcome to Amazon S3.";
  SigV4Request r{"PUT",
                 "/test$file.text",
                 {},
                 {{"Host", "examplebucket.s3.amazonaws.com"},
                  {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                  {"x-amz-storage-class", "REDUCED_REDUNDANCY"}},
                 Sha256Hex(body)};
  SigV4Signature s = SignRequest(r, kS3Credentials, S3Scope());
  EXPECT_EQ(s.canonical_request.substr(0, 22), "PUT\n/test%24file.text\n");
  EXPECT_EQ(s.signed_headers, "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class");
  EXPECT_EQ(s.signature, "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

// S3 API reference, "Example: GET Bucket (List Objects)".
TEST(SigV4Test, S3ListObjectsExample) {
  SigV4Request r{"GET",
                 "/",
                 {{"max-keys", "2"}, {"prefix", "J"}},
                 {{"Host", "examplebucket.s3.amazonaws.com"}},
                 std::string(kEmptyPayloadSha256)};
  SigV4Signature s = SignRequest(r, kS3Credentials, S3Scope());
  EXPECT_EQ(s.signature, "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

// S3 API reference, "Authenticating Requests: Using Query Parameters".
TEST(SigV4Test, S3PresignedUrlExample) {
  SigV4Request r{"GET", "/test.txt", {}, {{"Host", "examplebucket.s3.amazonaws.com"}}, std::string(kUnsignedPayload)};
  SigV4Signature s = PresignRequest(r, kS3Credentials, S3Scope(), absl::Hours(24));
  EXPECT_EQ(s.canonical_request,
            "GET\n/test.txt\nX-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2F"
            "us-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\n"
            "host:examplebucket.s3.amazonaws.com\n\nhost\nUNSIGNED-PAYLOAD");
  EXPECT_EQ(s.signature, "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
}

TEST(SigV4Test, SessionTokenIsSignedInBothForms) {
  AwsCredentials c = kSuiteCredentials;
  c.session_token = "token/with+chars";
  SigV4Signature h = SignRequest(Get("/"), c, SuiteScope());
  EXPECT_EQ(h.signed_headers, "host;x-amz-content-sha256;x-amz-date;x-amz-security-token");
  bool found = false;
  for (const auto& [k, v] : h.headers_to_add) found |= k == "x-amz-security-token" && v == c.session_token;
  EXPECT_TRUE(found);
  SigV4Signature q = PresignRequest(Get("/"), c, SuiteScope(), absl::Seconds(60));
  EXPECT_TRUE(absl::StrContains(q.canonical_request, "X-Amz-Security-Token=token%2Fwith%2Bchars&"));
  EXPECT_NE(q.signature, PresignRequest(Get("/"), kSuiteCredentials, SuiteScope(), absl::Seconds(60)).signature);
}

TEST(SigV4Test, UnsignedPayloadGoesVerbatimIntoHeaderAndCanonicalRequest) {
  SigV4Request r = Get("/b/k");
  r.payload_hash = std::string(kUnsignedPayload);
  SigV4Signature s = SignRequest(r, kSuiteCredentials, SuiteScope());
  EXPECT_TRUE(absl::EndsWith(s.canonical_request, "\nUNSIGNED-PAYLOAD"));
  EXPECT_TRUE(absl::StrContains(s.canonical_request, "x-amz-content-sha256:UNSIGNED-PAYLOAD\n"));
}

TEST(SigV4Test, S3PathEncodingEncodesEachSegmentOnce) {
  EXPECT_EQ(CanonicalUri("/holiday photos/\xc3\xbc"
                         "ber 100%.jpg"),
            "/holiday%20photos/%C3%BCber%20100%25.jpg");
  // A key that already looks encoded is data, not an escape: encoded once more.
  EXPECT_EQ(CanonicalUri("/b/a%20b"), "/b/a%2520b");
  EXPECT_EQ(CanonicalUri("//archive/./2024/../x//"), "//archive/./2024/../x//");
  EXPECT_EQ(CanonicalUri(""), "/");
  EXPECT_EQ(CanonicalUri("b/k"), "/b/k");
  EXPECT_EQ(UriEncode("a/b+c=d&e*f", false), "a%2Fb%2Bc%3Dd%26e%2Af");
  EXPECT_EQ(UriEncode("-_.~", false), "-_.~");
}

TEST(SigV4Test, CanonicalQuerySortsByEncodedNameThenValue) {
  EXPECT_EQ(CanonicalQuery({{"prefix", "photos/"}, {"list-type", "2"}, {"prefix", "archive/"}, {"uploads", ""}}),
            "list-type=2&prefix=archive%2F&prefix=photos%2F&uploads=");
  EXPECT_EQ(CanonicalQuery({}), "");
}

TEST(SigV4Test, HashHelpers) {
  EXPECT_EQ(Sha256Hex(""), kEmptyPayloadSha256);
  // RFC 4231 test case 2.
  EXPECT_EQ(HexEncode(HmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

}  // namespace
}  // namespace imagen::jobs
