// A small S3 client for imagen's blob storage: objects (put, get, head,
// delete, conditional create), ListObjectsV2 by prefix, multipart upload for
// large bodies, presigned URLs. SigV4-signed (jobs/sigv4.h), path-style or
// virtual-host addressing, bounded retries with exponential backoff and jitter
// on 5xx, SlowDown and timeouts; every error an absl::Status from one mapping
// (jobs/s3_errors.h). Keys are relative to the configured prefix.
// Thread-safe: one client serves many worker threads (connections are pooled
// by the transport).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "jobs/s3_config.h"
#include "jobs/s3_errors.h"
#include "jobs/s3_http.h"

namespace imagen::jobs {

struct S3ObjectInfo {
  std::string key;  // relative to the configured prefix
  uint64_t size = 0;
  std::string etag;  // as the server sent it, quotes included
  std::string content_type;
  std::string last_modified;
};

struct S3Object {
  S3ObjectInfo info;
  std::string body;
};

struct S3PutOptions {
  std::string content_type;  // empty: application/octet-stream
  // Create only: If-None-Match: * on the PUT, so an existing key answers
  // AlreadyExists. Atomic for single PUTs; for multipart bodies see
  // docs/object-storage.md.
  bool if_none_match = false;
};

struct S3ListPage {
  std::vector<S3ObjectInfo> objects;
  std::string next_continuation_token;  // empty on the last page
};

// Delay before attempt `attempt + 1` after attempt `attempt` (1-based)
// failed: base * 2^(attempt-1), capped at `max`, times (0.5 + 0.5 * unit)
// with `unit` uniform in [0, 1).
absl::Duration S3Backoff(int attempt, double unit, absl::Duration base, absl::Duration max);

class S3Client {
 public:
  // Validates `config` (ValidateS3Config). `transport` defaults to the Beast
  // pool, `clock` (signing time and backoff sleeps) to the real clock.
  static absl::StatusOr<std::unique_ptr<S3Client>> Create(S3Config config,
                                                          std::unique_ptr<S3Transport> transport = nullptr,
                                                          Clock* clock = nullptr);

  // `blobs.store` in one call: ParseS3Uri, credentials from the AWS_*
  // variables (through `getenv`, std::getenv by default), Create.
  static absl::StatusOr<std::unique_ptr<S3Client>> FromUri(
      std::string_view uri, const std::function<const char*(const char*)>& getenv = nullptr);

  const S3Config& config() const { return config_; }

  // HEAD on the bucket: OK, NotFound naming the bucket, PermissionDenied or
  // Unauthenticated naming the credential problem. For readiness checks.
  absl::Status CheckBucket();

  // Bodies of multipart_threshold bytes or more go up as a multipart upload.
  absl::Status PutObject(std::string_view key, std::string_view body, const S3PutOptions& options = {});
  absl::StatusOr<S3Object> GetObject(std::string_view key);
  absl::StatusOr<S3ObjectInfo> HeadObject(std::string_view key);
  // Deleting a key that does not exist succeeds (S3 semantics).
  absl::Status DeleteObject(std::string_view key);

  // One page (at most `max_keys`, 1..1000) of the keys under `prefix`, in key
  // order; pass the previous page's next_continuation_token to continue.
  absl::StatusOr<S3ListPage> ListObjectsPage(std::string_view prefix, std::string_view continuation_token = "",
                                             int max_keys = 1000);
  // Every key under `prefix` (all pages).
  absl::StatusOr<std::vector<S3ObjectInfo>> ListObjects(std::string_view prefix);

  // Multipart upload, for callers that stream parts themselves. Parts are
  // numbered from 1; every part but the last must be at least 5 MiB.
  absl::StatusOr<std::string> CreateMultipartUpload(std::string_view key, const S3PutOptions& options = {});
  absl::StatusOr<std::string> UploadPart(std::string_view key, std::string_view upload_id, int part_number,
                                         std::string_view data);  // returns the part's ETag
  absl::Status CompleteMultipartUpload(std::string_view key, std::string_view upload_id,
                                       const std::vector<std::string>& part_etags, bool if_none_match = false);
  absl::Status AbortMultipartUpload(std::string_view key, std::string_view upload_id);

  // A URL that performs `method` ("GET", "PUT", ...) on `key` without
  // credentials until `expires` (1 s .. 7 days) from now.
  absl::StatusOr<std::string> PresignUrl(std::string_view method, std::string_view key, absl::Duration expires);

 private:
  struct Call;
  S3Client(S3Config config, std::unique_ptr<S3Transport> transport, Clock* clock);

  std::string FullKey(std::string_view key) const;
  std::string RelativeKey(std::string_view full_key) const;
  std::string HostHeader() const;
  std::string Path(std::string_view full_key) const;
  S3ErrorContext Context(const Call& call) const;
  absl::StatusOr<S3HttpResponse> Execute(const Call& call);
  absl::Status PutMultipart(std::string_view key, std::string_view body, const S3PutOptions& options);
  double Jitter();

  const S3Config config_;
  const std::unique_ptr<S3Transport> transport_;
  Clock* const clock_;
  absl::Mutex rng_mu_;
  std::mt19937_64 rng_ ABSL_GUARDED_BY(rng_mu_);
};

}  // namespace imagen::jobs
