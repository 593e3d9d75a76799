#include "common/metrics.h"

#include "prometheus/text_serializer.h"

namespace imagen {

MetricsRegistry::MetricsRegistry() : registry_(std::make_shared<prometheus::Registry>()) {}

std::string MetricsRegistry::Serialize() const {
  prometheus::TextSerializer serializer;
  return serializer.Serialize(registry_->Collect());
}

std::vector<double> MetricsRegistry::LatencyBucketsUs() {
  std::vector<double> b;
  for (double v = 100; v <= 1e8; v *= 2.5) b.push_back(v);
  return b;
}

std::vector<double> MetricsRegistry::LatencyBucketsSeconds() {
  std::vector<double> b;
  for (double v = 0.001; v <= 100; v *= 2.5) b.push_back(v);
  return b;
}

}  // namespace imagen
