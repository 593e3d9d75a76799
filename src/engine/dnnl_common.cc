#include "engine/dnnl_common.h"

#include <cstring>

namespace imagen::engine::dnnl_util {

using dnnl::memory;

const dnnl::engine& Engine() {
  static const dnnl::engine* engine = new dnnl::engine(dnnl::engine::kind::cpu, 0);
  return *engine;
}

memory::dims ToDims(const Shape& shape) { return memory::dims(shape.begin(), shape.end()); }

memory::desc PlainDesc(const memory::dims& dims, memory::data_type dt) {
  memory::dims strides(dims.size(), 1);
  for (int i = static_cast<int>(dims.size()) - 2; i >= 0; --i) strides[i] = strides[i + 1] * dims[i + 1];
  return memory::desc(dims, dt, strides);
}

absl::StatusOr<memory::desc> DescOf(const Tensor& t) {
  if (t.dtype() != DataType::kFloat32) return absl::InvalidArgumentError("oneDNN kernels take float32 tensors");
  if (t.is_plain()) return PlainDesc(ToDims(t.shape()), memory::data_type::f32);
  auto* layout = dynamic_cast<const DnnlLayout*>(t.layout().get());
  if (layout == nullptr) return absl::InvalidArgumentError("tensor carries another backend's layout");
  return layout->desc();
}

absl::StatusOr<memory> MemoryOf(const Tensor& t) {
  absl::StatusOr<memory::desc> d = DescOf(t);
  if (!d.ok()) return d.status();
  return memory(*d, Engine(), const_cast<void*>(t.raw()));
}

Tensor NewTensor(const memory::desc& desc, const Shape& shape, RunContext& ctx) {
  memory::desc plain = PlainDesc(ToDims(shape), desc.data_type());
  if (desc == plain) return ctx.Allocate(DataType::kFloat32, shape);
  return Tensor::WithLayout(DataType::kFloat32, shape, desc.get_size(), ctx.Scratch(desc.get_size()),
                            std::make_shared<DnnlLayout>(desc));
}

absl::StatusOr<memory> AsLayout(const Tensor& t, const memory::desc& want, dnnl::stream& s, Tensor* keep,
                                RunContext& ctx) {
  absl::StatusOr<memory> m = MemoryOf(t);
  if (!m.ok()) return m.status();
  if (m->get_desc() == want) return *m;
  *keep = NewTensor(want, t.shape(), ctx);
  memory out(want, Engine(), keep->raw());
  dnnl::reorder(*m, out).execute(s, *m, out);
  return out;
}

absl::StatusOr<Tensor> DnnlLayout::ToPlain(const Tensor& in) const {
  Tensor out = Tensor::Uninitialized(in.dtype(), in.shape());
  absl::Status st = Guard("reorder to plain", [&]() -> absl::Status {
    memory src(desc_, Engine(), const_cast<void*>(in.raw()));
    memory dst(PlainDesc(ToDims(in.shape()), desc_.data_type()), Engine(), out.raw());
    dnnl::stream s(Engine());
    dnnl::reorder(src, dst).execute(s, src, dst);
    s.wait();
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

}  // namespace imagen::engine::dnnl_util
