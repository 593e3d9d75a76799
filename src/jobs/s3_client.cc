#include "jobs/s3_client.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/string_view.h"
#include "jobs/s3_xml.h"
#include "spdlog/spdlog.h"

namespace imagen::jobs {

absl::Duration S3Backoff(int attempt, double unit, absl::Duration base, absl::Duration max) {
  double factor = std::ldexp(1.0, std::clamp(attempt - 1, 0, 30));
  absl::Duration d = std::min(base * factor, max);
  return d * (0.5 + 0.5 * std::clamp(unit, 0.0, 1.0));
}

struct S3Client::Call {
  std::string operation;  // for messages: "PutObject"
  std::string method;
  std::string full_key;  // empty: the bucket itself
  KeyValues query;
  KeyValues headers;  // extra headers to send and sign
  std::string_view body;
  bool head = false;
  bool conditional_create = false;
  size_t max_body = 1 << 20;
};

absl::StatusOr<std::unique_ptr<S3Client>> S3Client::Create(S3Config config, std::unique_ptr<S3Transport> transport,
                                                           Clock* clock) {
  if (absl::Status s = ValidateS3Config(config); !s.ok()) return s;
  if (transport == nullptr) {
    auto beast = NewBeastS3Transport(config.max_idle_connections, {config.ca_file});
    if (!beast.ok()) return beast.status();
    transport = *std::move(beast);
  }
  if (clock == nullptr) clock = Clock::Real();
  return std::unique_ptr<S3Client>(new S3Client(std::move(config), std::move(transport), clock));
}

absl::StatusOr<std::unique_ptr<S3Client>> S3Client::FromUri(std::string_view uri,
                                                            const std::function<const char*(const char*)>& getenv) {
  auto config = ParseS3Uri(uri);
  if (!config.ok()) return config.status();
  auto credentials = AwsCredentialsFromEnv(getenv);
  if (!credentials.ok()) return credentials.status();
  config->credentials = *std::move(credentials);
  return Create(*std::move(config));
}

S3Client::S3Client(S3Config config, std::unique_ptr<S3Transport> transport, Clock* clock)
    : config_(std::move(config)), transport_(std::move(transport)), clock_(clock), rng_(std::random_device{}()) {}

std::string S3Client::FullKey(std::string_view key) const { return absl::StrCat(config_.prefix, ToAbsl(key)); }

std::string S3Client::RelativeKey(std::string_view full_key) const {
  if (full_key.substr(0, config_.prefix.size()) == config_.prefix)
    return std::string(full_key.substr(config_.prefix.size()));
  return std::string(full_key);
}

std::string S3Client::HostHeader() const {
  std::string host = config_.host.find(':') != std::string::npos ? absl::StrCat("[", config_.host, "]") : config_.host;
  if (!config_.path_style) host = absl::StrCat(config_.bucket, ".", host);
  bool default_port =
      (config_.scheme == "http" && config_.port == 80) || (config_.scheme == "https" && config_.port == 443);
  return default_port ? host : absl::StrCat(host, ":", config_.port);
}

std::string S3Client::Path(std::string_view full_key) const {
  if (config_.path_style) {
    return full_key.empty() ? absl::StrCat("/", config_.bucket)
                            : absl::StrCat("/", config_.bucket, "/", ToAbsl(full_key));
  }
  return absl::StrCat("/", ToAbsl(full_key));
}

S3ErrorContext S3Client::Context(const Call& call) const {
  return {call.operation, config_.bucket, call.full_key, config_.credentials.access_key_id, call.conditional_create};
}

double S3Client::Jitter() {
  absl::MutexLock lock(&rng_mu_);
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
}

absl::StatusOr<S3HttpResponse> S3Client::Execute(const Call& call) {
  std::string path = Path(call.full_key);
  std::string target = CanonicalUri(path);
  if (!call.query.empty()) absl::StrAppend(&target, "?", CanonicalQuery(call.query));
  std::string payload_hash = config_.sign_payload ? Sha256Hex(call.body) : std::string(kUnsignedPayload);
  S3HttpRequest request;
  request.method = call.method;
  request.host = config_.path_style ? config_.host : absl::StrCat(config_.bucket, ".", config_.host);
  request.port = config_.port;
  request.tls = config_.scheme == "https";
  request.target = target;
  request.body = call.body;
  S3HttpLimits limits{config_.connect_timeout, config_.request_timeout, call.max_body, call.head};

  absl::Status last;
  for (int attempt = 1;; ++attempt) {
    SigV4Request to_sign{call.method, path, call.query, call.headers, payload_hash};
    to_sign.headers.emplace_back("host", HostHeader());
    SigV4Signature sig = SignRequest(to_sign, config_.credentials, {config_.region, "s3", clock_->Now()});
    request.headers = std::move(to_sign.headers);
    request.headers.insert(request.headers.end(), sig.headers_to_add.begin(), sig.headers_to_add.end());

    absl::StatusOr<S3HttpResponse> response = transport_->Send(request, limits);
    if (response.ok() && response->status < 300) return response;
    if (response.ok()) {
      last = S3ErrorToStatus(response->status, response->body, Context(call));
    } else {
      absl::string_view message = response.status().message();
      absl::ConsumePrefix(&message, "s3: ");
      last = absl::Status(response.status().code(),
                          absl::StrCat("s3 ", call.operation, " '",
                                       call.full_key.empty() ? config_.bucket : call.full_key, "': ", message));
    }
    if (!IsS3Retryable(last) || attempt >= config_.max_attempts) break;
    absl::Duration delay = S3Backoff(attempt, Jitter(), config_.retry_base_delay, config_.retry_max_delay);
    spdlog::warn("s3: attempt {} of {} failed, retrying in {}: {}", attempt, config_.max_attempts,
                 absl::FormatDuration(absl::Trunc(delay, absl::Milliseconds(1))), std::string(last.message()));
    clock_->SleepFor(delay);
  }
  if (IsS3Retryable(last) && config_.max_attempts > 1) {
    absl::Status out(last.code(), absl::StrCat(last.message(), " [gave up after ", config_.max_attempts, " attempts]"));
    last.ForEachPayload([&](absl::string_view url, const absl::Cord& payload) { out.SetPayload(url, payload); });
    return out;
  }
  return last;
}

absl::Status S3Client::CheckBucket() {
  Call call{.operation = "HeadBucket", .method = "HEAD", .head = true};
  auto r = Execute(call);
  if (absl::IsNotFound(r.status())) {
    absl::Status missing =
        absl::NotFoundError(absl::StrCat("s3: bucket '", config_.bucket, "' does not exist at ", EndpointUrl(config_)));
    SetS3ErrorCode(&missing, "NoSuchBucket");
    return missing;
  }
  return r.status();
}

absl::Status S3Client::PutObject(std::string_view key, std::string_view body, const S3PutOptions& options) {
  if (body.size() >= config_.multipart_threshold) return PutMultipart(key, body, options);
  Call call{.operation = "PutObject", .method = "PUT", .full_key = FullKey(key), .body = body};
  call.headers.emplace_back("content-type",
                            options.content_type.empty() ? "application/octet-stream" : options.content_type);
  if (options.if_none_match) {
    call.headers.emplace_back("if-none-match", "*");
    call.conditional_create = true;
  }
  return Execute(call).status();
}

absl::Status S3Client::PutMultipart(std::string_view key, std::string_view body, const S3PutOptions& options) {
  if (options.if_none_match) {
    // Best effort: RGW 16 ignores If-None-Match on the completing request,
    // so refuse an existing key up front as well (not atomic).
    auto head = HeadObject(key);
    if (head.ok()) {
      return absl::AlreadyExistsError(
          absl::StrCat("s3 PutObject object '", FullKey(key), "' in bucket '", config_.bucket, "': already exists"));
    }
    if (!absl::IsNotFound(head.status())) return head.status();
  }
  auto upload_id = CreateMultipartUpload(key, options);
  if (!upload_id.ok()) return upload_id.status();
  std::vector<std::string> etags;
  absl::Status status;
  for (size_t offset = 0; offset < body.size() && status.ok(); offset += config_.part_size) {
    auto etag = UploadPart(key, *upload_id, static_cast<int>(etags.size()) + 1, body.substr(offset, config_.part_size));
    if (etag.ok()) {
      etags.push_back(*std::move(etag));
    } else {
      status = etag.status();
    }
  }
  if (status.ok()) status = CompleteMultipartUpload(key, *upload_id, etags, options.if_none_match);
  if (!status.ok()) AbortMultipartUpload(key, *upload_id).IgnoreError();  // the error that matters is `status`
  return status;
}

absl::StatusOr<S3Object> S3Client::GetObject(std::string_view key) {
  Call call{.operation = "GetObject", .method = "GET", .full_key = FullKey(key), .max_body = config_.max_get_bytes};
  auto r = Execute(call);
  if (!r.ok()) return r.status();
  S3Object out;
  out.info.key = std::string(key);
  out.info.size = r->body.size();
  out.info.etag = r->Header("etag");
  out.info.content_type = r->Header("content-type");
  out.info.last_modified = r->Header("last-modified");
  out.body = std::move(r->body);
  return out;
}

absl::StatusOr<S3ObjectInfo> S3Client::HeadObject(std::string_view key) {
  Call call{.operation = "HeadObject", .method = "HEAD", .full_key = FullKey(key), .head = true};
  auto r = Execute(call);
  if (!r.ok()) return r.status();
  S3ObjectInfo out;
  out.key = std::string(key);
  uint64_t size = 0;
  if (!absl::SimpleAtoi(r->Header("content-length"), &size)) {
    return absl::InternalError(absl::StrCat("s3 HeadObject '", FullKey(key), "': no Content-Length in the answer"));
  }
  out.size = size;
  out.etag = r->Header("etag");
  out.content_type = r->Header("content-type");
  out.last_modified = r->Header("last-modified");
  return out;
}

absl::Status S3Client::DeleteObject(std::string_view key) {
  Call call{.operation = "DeleteObject", .method = "DELETE", .full_key = FullKey(key)};
  return Execute(call).status();
}

absl::StatusOr<S3ListPage> S3Client::ListObjectsPage(std::string_view prefix, std::string_view continuation_token,
                                                     int max_keys) {
  if (max_keys < 1 || max_keys > 1000) return absl::InvalidArgumentError("s3 ListObjectsV2: max_keys must be 1..1000");
  Call call{.operation = "ListObjectsV2", .method = "GET", .max_body = 64 << 20};
  call.query = {{"list-type", "2"}, {"max-keys", absl::StrCat(max_keys)}, {"prefix", FullKey(prefix)}};
  if (!continuation_token.empty()) call.query.emplace_back("continuation-token", std::string(continuation_token));
  auto r = Execute(call);
  if (!r.ok()) return r.status();
  S3ListPage page;
  for (std::string_view contents : XmlElements(r->body, "Contents")) {
    S3ObjectInfo info;
    info.key = RelativeKey(XmlText(contents, "Key").value_or(""));
    uint64_t size = 0;
    if (absl::SimpleAtoi(XmlText(contents, "Size").value_or(""), &size)) info.size = size;
    info.etag = XmlText(contents, "ETag").value_or("");
    info.last_modified = XmlText(contents, "LastModified").value_or("");
    page.objects.push_back(std::move(info));
  }
  if (XmlText(r->body, "IsTruncated").value_or("false") == "true") {
    page.next_continuation_token = XmlText(r->body, "NextContinuationToken").value_or("");
    if (page.next_continuation_token.empty()) {
      return absl::InternalError("s3 ListObjectsV2: a truncated page without NextContinuationToken");
    }
  }
  return page;
}

absl::StatusOr<std::vector<S3ObjectInfo>> S3Client::ListObjects(std::string_view prefix) {
  std::vector<S3ObjectInfo> out;
  std::string token;
  do {
    auto page = ListObjectsPage(prefix, token);
    if (!page.ok()) return page.status();
    for (auto& o : page->objects) out.push_back(std::move(o));
    token = std::move(page->next_continuation_token);
  } while (!token.empty());
  return out;
}

absl::StatusOr<std::string> S3Client::CreateMultipartUpload(std::string_view key, const S3PutOptions& options) {
  Call call{.operation = "CreateMultipartUpload", .method = "POST", .full_key = FullKey(key)};
  call.query = {{"uploads", ""}};
  call.headers.emplace_back("content-type",
                            options.content_type.empty() ? "application/octet-stream" : options.content_type);
  auto r = Execute(call);
  if (!r.ok()) return r.status();
  std::string id = XmlText(r->body, "UploadId").value_or("");
  if (id.empty()) return absl::InternalError("s3 CreateMultipartUpload: no UploadId in the answer");
  return id;
}

absl::StatusOr<std::string> S3Client::UploadPart(std::string_view key, std::string_view upload_id, int part_number,
                                                 std::string_view data) {
  if (part_number < 1 || part_number > 10000) return absl::InvalidArgumentError("s3 UploadPart: part number 1..10000");
  Call call{
      .operation = absl::StrCat("UploadPart ", part_number), .method = "PUT", .full_key = FullKey(key), .body = data};
  call.query = {{"partNumber", absl::StrCat(part_number)}, {"uploadId", std::string(upload_id)}};
  auto r = Execute(call);
  if (!r.ok()) return r.status();
  std::string etag = r->Header("etag");
  if (etag.empty()) return absl::InternalError("s3 UploadPart: no ETag in the answer");
  return etag;
}

absl::Status S3Client::CompleteMultipartUpload(std::string_view key, std::string_view upload_id,
                                               const std::vector<std::string>& part_etags, bool if_none_match) {
  std::string xml = "<CompleteMultipartUpload>";
  for (size_t i = 0; i < part_etags.size(); ++i) {
    absl::StrAppend(&xml, "<Part><PartNumber>", i + 1, "</PartNumber><ETag>", XmlEscape(part_etags[i]),
                    "</ETag></Part>");
  }
  xml += "</CompleteMultipartUpload>";
  Call call{.operation = "CompleteMultipartUpload", .method = "POST", .full_key = FullKey(key), .body = xml};
  call.query = {{"uploadId", std::string(upload_id)}};
  call.headers.emplace_back("content-type", "application/xml");
  if (if_none_match) {
    call.headers.emplace_back("if-none-match", "*");
    call.conditional_create = true;
  }
  auto r = Execute(call);
  if (!r.ok()) return r.status();
  // S3 may answer 200 and still fail the completion in the body.
  if (!XmlElements(r->body, "Error").empty()) return S3ErrorToStatus(500, r->body, Context(call));
  return absl::OkStatus();
}

absl::Status S3Client::AbortMultipartUpload(std::string_view key, std::string_view upload_id) {
  Call call{.operation = "AbortMultipartUpload", .method = "DELETE", .full_key = FullKey(key)};
  call.query = {{"uploadId", std::string(upload_id)}};
  return Execute(call).status();
}

absl::StatusOr<std::string> S3Client::PresignUrl(std::string_view method, std::string_view key,
                                                 absl::Duration expires) {
  if (expires < absl::Seconds(1) || expires > absl::Hours(24 * 7)) {
    return absl::InvalidArgumentError("s3: a presigned URL must expire within 1 second to 7 days");
  }
  std::string path = Path(FullKey(key));
  SigV4Request request{std::string(method), path, {}, {{"host", HostHeader()}}, std::string(kUnsignedPayload)};
  SigV4Signature sig = PresignRequest(request, config_.credentials, {config_.region, "s3", clock_->Now()},
                                      absl::Seconds(absl::ToInt64Seconds(expires)));
  // The signature goes last, as AWS's own presigned URLs have it.
  KeyValues query = sig.query;
  query.pop_back();  // X-Amz-Signature
  return absl::StrCat(config_.scheme, "://", HostHeader(), CanonicalUri(path), "?", CanonicalQuery(query),
                      "&X-Amz-Signature=", sig.signature);
}

}  // namespace imagen::jobs
