// Building blocks of the completion-queue (async API) gRPC server in
// grpc_frontend.cc: the target of a queue event, the count of live calls that
// says when the queue may shut down, and a generic unary call whose handler
// runs on an executor (the queue's thread only moves events), so a slow
// handler (a model load, an inference) never stalls other calls.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/thread_pool.h"
#include "frontends/status_map.h"
#include "grpcpp/completion_queue.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/async_unary_call.h"

namespace imagen::frontends {

// What a completion-queue event is delivered to (the event's tag).
class CqTag {
 public:
  virtual ~CqTag() = default;
  virtual void Proceed(bool ok) = 0;
};

// One kind of operation on a call object: a member function as a CqTag.
template <class T>
class OpTag final : public CqTag {
 public:
  OpTag(T* owner, void (T::*fn)(bool)) : owner_(owner), fn_(fn) {}
  void Proceed(bool ok) override { (owner_->*fn_)(ok); }

 private:
  T* owner_;
  void (T::*fn_)(bool);
};

// Calls that are requested or in progress. Once the server is shut down and
// none is left, no operation can start any more and the queue may shut down.
// Thread-safe.
class LiveCalls {
 public:
  void Add() {
    absl::MutexLock l(&mu_);
    ++n_;
  }
  void Remove() {
    absl::MutexLock l(&mu_);
    --n_;
  }
  void WaitForNone() {
    absl::MutexLock l(&mu_);
    mu_.Await(absl::Condition(
        +[](int* n) { return *n == 0; }, &n_));
  }

 private:
  absl::Mutex mu_;
  int n_ ABSL_GUARDED_BY(mu_) = 0;
};

// One call of a unary method: requested on the queue, handed to the
// method's handler when a client calls, deleted when the reply is sent.
template <class Req, class Resp>
class UnaryCall final : public CqTag {
 public:
  // Service::RequestX bound to its service and queue.
  using RequestFn = std::function<void(grpc::ServerContext*, Req*, grpc::ServerAsyncResponseWriter<Resp>*, void* tag)>;
  // Fills call->response() and calls call->Reply() exactly once, on any thread.
  using Handler = std::function<void(UnaryCall* call)>;
  struct Method {
    RequestFn request;
    Handler handle;
    LiveCalls* live;
    bool watch_cancel = false;  // keep call->cancelled() up to date
    // Where the handler runs; nullptr: on the queue's thread (only for
    // handlers that never block, e.g. health).
    ThreadPool* executor = nullptr;
  };

  // Requests the next call of `m`, which must outlive its calls.
  static void Arm(const Method* m) { new UnaryCall(m); }

  Req* request() { return &request_; }
  grpc::ServerContext* context() { return &ctx_; }
  // Becomes true when the client cancels the call (methods with watch_cancel;
  // null otherwise).
  std::shared_ptr<std::atomic<bool>> cancelled() const { return cancelled_; }
  Resp* response() { return &response_; }
  void Reply(const absl::Status& s) {
    replied_.store(true);
    if (s.ok()) {
      responder_.Finish(response_, grpc::Status::OK, this);
    } else {
      responder_.FinishWithError(ToGrpcStatus(s), this);
    }
  }

  void Proceed(bool ok) override {
    if (ok && !started_) {
      started_ = true;
      // The done notification only comes for calls that started.
      if (cancelled_ != nullptr) ++refs_;
      Arm(m_);
      if (m_->executor == nullptr) {
        RunHandler();
      } else if (!m_->executor->Submit([this] { RunHandler(); })) {
        Reply(absl::UnavailableError("the server is shutting down"));
      }
      return;
    }
    Release();
  }

 private:
  explicit UnaryCall(const Method* m) : m_(m), responder_(&ctx_) {
    m_->live->Add();
    if (m_->watch_cancel) {
      cancelled_ = std::make_shared<std::atomic<bool>>(false);
      ctx_.AsyncNotifyWhenDone(&done_op_);
    }
    m_->request(&ctx_, &request_, &responder_, this);
  }

  // No exception leaves a handler; once it has replied the call may be gone.
  void RunHandler() {
    try {
      m_->handle(this);
    } catch (const std::exception& e) {
      if (!replied_.load()) Reply(absl::InternalError(std::string("internal error: ") + e.what()));
    }
  }

  void OnDone(bool) {
    if (ctx_.IsCancelled()) cancelled_->store(true);
    Release();
  }

  // Events arrive on the queue's one thread: the request, then the reply
  // sent and (watch_cancel) the done notification, in either order.
  void Release() {
    if (--refs_ > 0) return;
    LiveCalls* live = m_->live;
    delete this;
    live->Remove();
  }

  const Method* m_;
  grpc::ServerContext ctx_;
  Req request_;
  Resp response_;
  grpc::ServerAsyncResponseWriter<Resp> responder_;
  OpTag<UnaryCall> done_op_{this, &UnaryCall::OnDone};
  std::shared_ptr<std::atomic<bool>> cancelled_;
  bool started_ = false;
  std::atomic<bool> replied_{false};
  int refs_ = 1;
};

}  // namespace imagen::frontends
