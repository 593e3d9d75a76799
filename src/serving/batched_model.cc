#include "serving/batched_model.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <random>

#include "absl/strings/str_cat.h"
#include "serving/request_validation.h"

namespace imagen::serving {
namespace {

// The largest warm-up input generated (zero or random data).
constexpr uint64_t kMaxWarmupBytes = uint64_t{1} << 30;

uint64_t ToNs(int64_t us) { return static_cast<uint64_t>(std::max<int64_t>(0, us)) * 1000; }

// The inputs of one model_warmup entry, in config input order: zero, random
// or file data (file paths are relative to <model>/warmup/, as in Triton).
absl::StatusOr<std::vector<Tensor>> WarmupInputs(const inference::ModelConfig& config, const inference::ModelWarmup& w,
                                                 const std::string& version_dir) {
  std::vector<Tensor> out;
  std::mt19937 rng(7);
  for (const auto& spec : config.input()) {
    auto it = w.inputs().find(spec.name());
    if (it == w.inputs().end()) {
      if (spec.optional()) continue;
      return absl::InvalidArgumentError(
          absl::StrCat("model_warmup '", w.name(), "' of model '", config.name(), "' lacks input '", spec.name(), "'"));
    }
    const auto& in = it->second;
    Tensor t;
    t.name = spec.name();
    t.datatype = DataTypeName(in.data_type());
    if (config.max_batch_size() > 0) t.shape.push_back(std::max<uint32_t>(1, w.batch_size()));
    t.shape.insert(t.shape.end(), in.dims().begin(), in.dims().end());
    auto checked = CheckedByteSize(t.shape, DataTypeSize(in.data_type()));
    if (!checked || *checked > kMaxWarmupBytes) {
      return absl::InvalidArgumentError(absl::StrCat("model_warmup '", w.name(), "' input '", spec.name(),
                                                     "' of shape ", ShapeString(t.shape), " is too large"));
    }
    size_t bytes = static_cast<size_t>(*checked);
    if (in.has_input_data_file()) {
      std::ifstream f(version_dir + "/../warmup/" + in.input_data_file(), std::ios::binary);
      t.data.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
      if (!f.good() && t.data.empty()) {
        return absl::NotFoundError(absl::StrCat("model_warmup file '", in.input_data_file(), "' not found"));
      }
    } else {
      t.data.assign(bytes, '\0');
      if (in.random_data() && in.data_type() == inference::TYPE_FP32) {
        for (size_t i = 0; i + 4 <= bytes; i += 4) {
          float v = std::uniform_real_distribution<float>(0, 1)(rng);
          std::memcpy(t.data.data() + i, &v, 4);
        }
      } else if (in.random_data()) {
        for (auto& c : t.data) c = static_cast<char>(rng() & 0x7f);
      }
    }
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace

uint32_t PriorityLevel(const inference::ModelDynamicBatching& db, uint64_t requested) {
  if (db.priority_levels() == 0) return 1;
  // As Triton's InferenceRequest::SetPriority: 0 and out-of-range values get
  // the default level (never truncated: 2^32 must not become level 0).
  uint64_t level = requested == 0 || requested > db.priority_levels() ? db.default_priority_level() : requested;
  return static_cast<uint32_t>(std::clamp<uint64_t>(level, 1, db.priority_levels()));
}

uint64_t QueueTimeoutUs(const inference::ModelQueuePolicy& policy, uint64_t requested_us) {
  uint64_t timeout = policy.default_timeout_microseconds();
  // The override may shorten the default timeout, never lengthen it
  // (model_config.proto); a default of 0 means no timeout, so any override
  // shortens it.
  if (policy.allow_timeout_override() && requested_us > 0 && (timeout == 0 || requested_us < timeout)) {
    timeout = requested_us;
  }
  return timeout;
}

BatchedModel::BatchedModel(inference::ModelConfig config, int64_t version, Clock* clock)
    : config_(std::move(config)), version_(version), clock_(clock), stats_(config_.name(), std::to_string(version)) {}

BatchedModel::~BatchedModel() { Stop(); }

absl::StatusOr<std::unique_ptr<BatchedModel>> BatchedModel::Create(inference::ModelConfig config, int64_t version,
                                                                   const std::string& version_dir, Backend* backend,
                                                                   int engine_threads, Clock* clock) {
  std::unique_ptr<BatchedModel> m(new BatchedModel(std::move(config), version, clock));
  int count = 0;
  for (const auto& g : m->config_.instance_group()) count += std::max(1, g.count());
  count = std::max(1, count);
  InstanceOptions options;
  options.version_dir = version_dir;
  options.threads = std::max(1, engine_threads / count);
  options.clock = clock;
  for (int i = 0; i < count; ++i) {
    auto instance = backend->CreateInstance(m->config_, options);
    if (!instance.ok()) return instance.status();
    m->instances_.push_back(std::move(*instance));
  }
  for (const auto& w : m->config_.model_warmup()) {
    auto inputs = WarmupInputs(m->config_, w, version_dir);
    if (!inputs.ok()) return inputs.status();
    for (auto& instance : m->instances_) {
      for (uint32_t i = 0; i < std::max<uint32_t>(1, w.count()); ++i) {
        auto out = instance->Execute(*inputs);
        if (!out.ok()) {
          return absl::Status(out.status().code(),
                              absl::StrCat("model_warmup '", w.name(), "' failed: ", out.status().message()));
        }
      }
    }
  }
  BatchPolicy policy;
  policy.max_batch_size = m->config_.max_batch_size();
  if (m->config_.has_dynamic_batching()) {
    const auto& db = m->config_.dynamic_batching();
    policy.dynamic_batching = true;
    policy.max_queue_delay_us = static_cast<int64_t>(db.max_queue_delay_microseconds());
    for (int p : db.preferred_batch_size()) policy.preferred_batch_sizes.push_back(p);
  }
  BatchedModel* self = m.get();
  m->scheduler_ = std::make_unique<Scheduler>(
      policy, count, [self](int instance, Batch batch) { self->Execute(instance, std::move(batch)); },
      [self](std::unique_ptr<QueuedRequest> r, absl::Status s) {
        self->stats_.RequestLeftQueue();
        self->Fail(*r, s, "REJECTED");
      },
      clock);
  return m;
}

void BatchedModel::Stop() {
  if (scheduler_ != nullptr) scheduler_->Stop();
}

const inference::ModelQueuePolicy& BatchedModel::QueuePolicy(uint32_t level) const {
  const auto& db = config_.dynamic_batching();
  auto it = db.priority_queue_policy().find(level);
  return it != db.priority_queue_policy().end() ? it->second : db.default_queue_policy();
}

void BatchedModel::Fail(QueuedRequest& r, const absl::Status& status, const std::string& reason) {
  stats_.RecordFailure(reason, ToNs(clock_->NowMicros() - r.start_us));
  r.done(status);
}

void BatchedModel::Infer(InferRequest request, InferCallback done) {
  auto q = std::make_unique<QueuedRequest>();
  q->start_us = clock_->NowMicros();
  q->done = std::move(done);
  auto valid = ValidateRequest(config_, &request);
  if (!valid.ok()) {
    Fail(*q, valid.status(), "OTHER");
    return;
  }
  q->item.batch_size = valid->batch_size;
  q->item.shape_key = valid->shape_key;
  q->item.enqueue_us = q->start_us;
  if (request.trace != nullptr) request.trace->Record("QUEUE_START");
  uint32_t max_queue = 0;
  if (config_.has_dynamic_batching()) {
    const auto& db = config_.dynamic_batching();
    q->item.level = PriorityLevel(db, request.priority);
    const auto& policy = QueuePolicy(q->item.level);
    uint64_t timeout = QueueTimeoutUs(policy, request.timeout_us);
    if (timeout > static_cast<uint64_t>(INT64_MAX - q->start_us)) timeout = 0;  // beyond any clock: none
    if (timeout > 0) q->item.deadline_us = q->start_us + static_cast<int64_t>(timeout);
    q->item.delay_on_timeout = policy.timeout_action() == inference::ModelQueuePolicy::DELAY;
    max_queue = policy.max_queue_size();
  }
  q->request = std::move(request);
  stats_.RequestQueued();
  absl::Status s = scheduler_->Enqueue(&q, max_queue);
  if (!s.ok()) {
    stats_.RequestLeftQueue();
    Fail(*q, s, "REJECTED");
  }
}

void BatchedModel::Execute(int instance, Batch batch) {
  for (size_t i = 0; i < batch.size(); ++i) stats_.RequestLeftQueue();
  std::erase_if(batch, [this](std::unique_ptr<QueuedRequest>& r) {
    if (r->request.cancelled == nullptr || !r->request.cancelled->load()) return false;
    Fail(*r, absl::CancelledError("Request cancelled"), "CANCELED");
    return true;
  });
  if (batch.empty()) return;
  const bool batching = config_.max_batch_size() > 0;
  int64_t t0 = clock_->NowMicros();
  auto trace = [&batch](const char* what) {
    for (auto& r : batch) {
      if (r->request.trace != nullptr) r->request.trace->Record(what);
    }
  };
  trace("COMPUTE_START");
  std::vector<int64_t> sizes;
  int64_t rows = 0;
  for (auto& r : batch) {
    sizes.push_back(r->item.batch_size);
    rows += r->item.batch_size;
  }
  std::vector<Tensor> inputs;
  absl::Status status;
  for (const auto& spec : config_.input()) {
    std::vector<const Tensor*> parts;
    for (auto& r : batch) {
      for (const auto& t : r->request.inputs) {
        if (t.name == spec.name()) parts.push_back(&t);
      }
    }
    if (parts.empty()) continue;
    auto joined = ConcatBatch(parts);
    if (!joined.ok()) {
      status = joined.status();
      break;
    }
    if (spec.has_reshape()) {
      std::vector<int64_t> shape;
      if (batching) shape.push_back(joined->shape[0]);
      shape.insert(shape.end(), spec.reshape().shape().begin(), spec.reshape().shape().end());
      joined->shape = std::move(shape);
    }
    inputs.push_back(std::move(*joined));
  }
  int64_t t1 = clock_->NowMicros();
  trace("COMPUTE_INPUT_END");
  absl::StatusOr<std::vector<Tensor>> outputs = absl::InternalError("not run");
  if (!status.ok()) {
    outputs = status;
  } else {
    // A backend's exception fails this batch, never the instance thread.
    try {
      outputs = instances_[static_cast<size_t>(instance)]->Execute(inputs);
    } catch (const std::bad_alloc&) {
      outputs = absl::ResourceExhaustedError("out of memory");
    } catch (const std::exception& e) {
      outputs = absl::InternalError(absl::StrCat("backend error: ", e.what()));
    }
  }
  int64_t t2 = clock_->NowMicros();
  trace("COMPUTE_OUTPUT_START");
  if (!outputs.ok()) {
    for (auto& r : batch) Fail(*r, outputs.status(), "BACKEND");
    return;
  }
  std::vector<InferResponse> responses(batch.size());
  for (auto& out : *outputs) {
    for (const auto& spec : config_.output()) {
      if (spec.name() == out.name && spec.has_reshape()) {
        std::vector<int64_t> shape;
        if (batching) shape.push_back(out.shape.empty() ? 1 : out.shape[0]);
        shape.insert(shape.end(), spec.dims().begin(), spec.dims().end());
        auto want = CheckedElementCount(shape);
        if (want && want == CheckedElementCount(out.shape)) out.shape = std::move(shape);
      }
    }
    auto pieces = batching ? SplitBatch(out, sizes) : absl::StatusOr<std::vector<Tensor>>(std::vector<Tensor>{out});
    if (!pieces.ok()) {
      for (auto& r : batch) Fail(*r, pieces.status(), "BACKEND");
      return;
    }
    for (size_t i = 0; i < batch.size(); ++i) {
      const auto& wanted = batch[i]->request.outputs;
      if (!wanted.empty() && std::find(wanted.begin(), wanted.end(), out.name) == wanted.end()) continue;
      responses[i].outputs.push_back(std::move((*pieces)[i]));
    }
  }
  int64_t t3 = clock_->NowMicros();
  trace("COMPUTE_END");
  stats_.RecordExecution(static_cast<uint64_t>(rows), ToNs(t1 - t0), ToNs(t2 - t1), ToNs(t3 - t2));
  uint64_t now_ms = static_cast<uint64_t>(absl::ToUnixMillis(clock_->Now()));
  for (size_t i = 0; i < batch.size(); ++i) {
    QueuedRequest& r = *batch[i];
    responses[i].model_name = config_.name();
    responses[i].model_version = std::to_string(version_);
    responses[i].id = r.request.id;
    int64_t end = clock_->NowMicros();
    stats_.RecordSuccess(ToNs(end - r.start_us), ToNs(r.dequeue_us - r.start_us), ToNs(t1 - t0), ToNs(t2 - t1),
                         ToNs(t3 - t2), now_ms);
    r.done(std::move(responses[i]));
  }
}

}  // namespace imagen::serving
