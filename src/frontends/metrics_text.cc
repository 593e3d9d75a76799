#include "frontends/metrics_text.h"

#include <functional>

#include "absl/strings/str_cat.h"

namespace imagen::frontends {
namespace {

using Snap = serving::ModelStatsSnapshot;

std::string Labels(const Snap& s, const std::string& extra = "") {
  return absl::StrCat("{model=\"", s.name, "\",version=\"", s.version, "\"", extra, "}");
}

void Family(std::string* out, const std::vector<Snap>& stats, const char* name, const char* type, const char* help,
            const std::function<double(const Snap&)>& value) {
  absl::StrAppend(out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n");
  for (const auto& s : stats) absl::StrAppend(out, name, Labels(s), " ", value(s), "\n");
}

void HistogramFamily(std::string* out, const std::vector<Snap>& stats, const char* name, const char* help,
                     const std::function<const serving::Histogram&(const Snap&)>& get) {
  absl::StrAppend(out, "# HELP ", name, " ", help, "\n# TYPE ", name, " histogram\n");
  for (const auto& s : stats) {
    const serving::Histogram& h = get(s);
    uint64_t cumulative = 0;
    for (size_t i = 0; i < serving::kLatencyBucketsUs.size(); ++i) {
      cumulative += h.counts[i];
      absl::StrAppend(out, name, "_bucket", Labels(s, absl::StrCat(",le=\"", serving::kLatencyBucketsUs[i], "\"")), " ",
                      cumulative, "\n");
    }
    absl::StrAppend(out, name, "_bucket", Labels(s, ",le=\"+Inf\""), " ", h.count, "\n");
    absl::StrAppend(out, name, "_sum", Labels(s), " ", h.sum_us, "\n");
    absl::StrAppend(out, name, "_count", Labels(s), " ", h.count, "\n");
  }
}

double Us(uint64_t ns) { return static_cast<double>(ns / 1000); }

}  // namespace

std::string RenderMetrics(const std::vector<Snap>& stats) {
  std::string out;
  Family(&out, stats, "nv_inference_request_success", "counter",
         "Number of successful inference requests, all batch sizes",
         [](const Snap& s) { return static_cast<double>(s.success.count); });
  absl::StrAppend(&out,
                  "# HELP nv_inference_request_failure Number of failed inference requests, all batch sizes\n"
                  "# TYPE nv_inference_request_failure counter\n");
  for (const auto& s : stats) {
    for (const char* reason : {"REJECTED", "CANCELED", "BACKEND", "OTHER"}) {
      auto it = s.failures_by_reason.find(reason);
      uint64_t n = it == s.failures_by_reason.end() ? 0 : it->second;
      absl::StrAppend(&out, "nv_inference_request_failure", Labels(s, absl::StrCat(",reason=\"", reason, "\"")), " ", n,
                      "\n");
    }
  }
  Family(&out, stats, "nv_inference_count", "counter",
         "Number of inferences performed (does not include cached requests)",
         [](const Snap& s) { return static_cast<double>(s.inference_count); });
  Family(&out, stats, "nv_inference_exec_count", "counter",
         "Number of model executions performed (does not include cached requests)",
         [](const Snap& s) { return static_cast<double>(s.execution_count); });
  Family(&out, stats, "nv_inference_request_duration_us", "counter",
         "Cumulative inference request duration in microseconds (includes cached requests)",
         [](const Snap& s) { return Us(s.success.ns); });
  Family(&out, stats, "nv_inference_queue_duration_us", "counter",
         "Cumulative inference queuing duration in microseconds (includes cached requests)",
         [](const Snap& s) { return Us(s.queue.ns); });
  Family(&out, stats, "nv_inference_compute_input_duration_us", "counter",
         "Cumulative compute input duration in microseconds (does not include cached requests)",
         [](const Snap& s) { return Us(s.compute_input.ns); });
  Family(&out, stats, "nv_inference_compute_infer_duration_us", "counter",
         "Cumulative compute inference duration in microseconds (does not include cached requests)",
         [](const Snap& s) { return Us(s.compute_infer.ns); });
  Family(&out, stats, "nv_inference_compute_output_duration_us", "counter",
         "Cumulative inference compute output duration in microseconds (does not include cached requests)",
         [](const Snap& s) { return Us(s.compute_output.ns); });
  Family(&out, stats, "nv_inference_pending_request_count", "gauge",
         "Instantaneous number of pending requests awaiting execution per-model.",
         [](const Snap& s) { return static_cast<double>(s.pending); });
  Family(&out, stats, "nv_model_load_duration_secs", "gauge", "Model load time in seconds",
         [](const Snap& s) { return s.load_duration_secs; });
  HistogramFamily(&out, stats, "imagen_inference_request_duration_us", "End-to-end request latency in microseconds",
                  [](const Snap& s) -> const serving::Histogram& { return s.request_latency; });
  HistogramFamily(&out, stats, "imagen_inference_queue_duration_us", "Time requests wait in the queue, microseconds",
                  [](const Snap& s) -> const serving::Histogram& { return s.queue_latency; });
  HistogramFamily(&out, stats, "imagen_inference_compute_duration_us",
                  "Compute time (input + infer + output) per request, microseconds",
                  [](const Snap& s) -> const serving::Histogram& { return s.compute_latency; });
  return out;
}

}  // namespace imagen::frontends
