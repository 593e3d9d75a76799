// Prometheus text exposition of the server's statistics under Triton's
// metric names and labels (model, version): nv_inference_request_success,
// nv_inference_request_failure{reason}, nv_inference_count,
// nv_inference_exec_count, nv_inference_*_duration_us,
// nv_inference_pending_request_count, nv_model_load_duration_secs; plus
// latency histograms Triton lacks (imagen_inference_*_duration_us).
// Pure; thread-safe.
#pragma once

#include <string>
#include <vector>

#include "serving/statistics.h"

namespace imagen::frontends {

std::string RenderMetrics(const std::vector<serving::ModelStatsSnapshot>& stats);

}  // namespace imagen::frontends
