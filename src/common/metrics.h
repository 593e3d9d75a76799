// Process-wide Prometheus registry (prometheus-cpp) and its text exposition.
// Modules add families to the registry they are handed; the HTTP layer serves
// Serialize(). Thread-safe.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "prometheus/registry.h"

namespace imagen {

class MetricsRegistry {
 public:
  MetricsRegistry();
  prometheus::Registry& registry() { return *registry_; }
  std::shared_ptr<prometheus::Registry> shared() { return registry_; }
  // Prometheus text format 0.0.4.
  std::string Serialize() const;

  // Latency buckets in microseconds, 100 µs .. ~100 s, for *_us histograms.
  static std::vector<double> LatencyBucketsUs();
  // Latency buckets in seconds, 1 ms .. ~100 s.
  static std::vector<double> LatencyBucketsSeconds();

 private:
  std::shared_ptr<prometheus::Registry> registry_;
};

}  // namespace imagen
