// Settings of the public REST API (limits, retries, webhook policy), filled
// from configuration by `imagen serve`. Plain data.
#pragma once

#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "api/image_check.h"
#include "jobs/http_client.h"

namespace imagen::api {

struct ApiOptions {
  ImageLimits image;
  int64_t max_queue_depth = 10000;  // queued jobs before 503
  int retry_after_seconds = 5;      // for 503
  int max_attempts = 5;             // per job
  int64_t max_wait_seconds = 60;    // cap of Prefer: wait=N
  absl::Duration default_deadline = absl::Hours(1);
  double default_rate = 0;   // for keys without their own rate
  double burst_seconds = 2;  // bucket size = rate * burst_seconds
  jobs::TargetPolicy webhook_policy;
  int max_list_limit = 200;
  // Open SSE/WebSocket streams per API key (429 too_many_streams above); 0: no cap.
  int max_streams_per_key = 16;
  // An idle stream sends a keep-alive (SSE comment, WebSocket ping) this often.
  absl::Duration stream_keep_alive = absl::Seconds(15);
};

}  // namespace imagen::api
