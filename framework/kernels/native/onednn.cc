// xp's native kernels: oneDNN convolutions (forward, dx, dW), matrix products and GELU, and
// normalization and the copies of concatenation and split as loops of our own, computed in
// place on a tfjs wasm backend's heap (a WebAssembly.Memory's ArrayBuffer), so tfjs stays the
// engine and no tensor is copied in or out. Built by scripts/build-native.mjs; loaded and
// registered as tfjs kernels by onednn-kernels.ts, which says why and when.
//
// Every call names its tensors by byte offset into the heap; the sizes each one implies are
// checked against the heap before oneDNN touches it. Primitives are created once per shape
// and kept (oneDNN's primitive creation costs far more than a small convolution).
#include <node_api.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "oneapi/dnnl/dnnl.hpp"

namespace {

using dnnl::memory;
using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

dnnl::engine &cpuEngine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

// One stream per OS thread: Node worker threads each run their own tfjs engine.
dnnl::stream &threadStream() {
  thread_local dnnl::stream stream(cpuEngine());
  return stream;
}

// The heap as one checked span of floats.
struct Heap {
  uint8_t *base;
  size_t bytes;

  float *at(int64_t offset, int64_t count, const char *what) const {
    if (offset < 0 || count < 0 || offset % 4 != 0 || static_cast<uint64_t>(offset) + static_cast<uint64_t>(count) * 4 > bytes) {
      throw std::range_error(std::string(what) + " lies outside the heap");
    }
    return reinterpret_cast<float *>(base + offset);
  }
};

// "name,threads T,d1,d2,...": a plan's key (oneDNN fixes a primitive's thread count when it
// creates it, so the key holds it too).
std::string planKey(const char *name, std::initializer_list<int64_t> dims) {
  std::ostringstream key;
  key << name << ",threads " << omp_get_max_threads();
  for (int64_t d : dims) key << ',' << d;
  return key.str();
}

// What a 2-D convolution is, in tfjs's terms (NHWC activations, HWIO filter).
struct ConvShape {
  int64_t n, ih, iw, ic, kh, kw, oc, oh, ow, sh, sw, dh, dw, padTop, padLeft, padBottom, padRight;

  memory::desc activations(int64_t h, int64_t w, int64_t c) const { return memory::desc({n, c, h, w}, dt::f32, tag::nhwc); }
  memory::desc src() const { return activations(ih, iw, ic); }
  // Forward, dx and dW each cost this (multiply-adds x 2).
  double flop() const { return 2.0 * n * oh * ow * oc * ic * kh * kw; }
  memory::desc dst() const { return activations(oh, ow, oc); }
  memory::desc weightsHwio() const { return memory::desc({oc, ic, kh, kw}, dt::f32, tag::hwio); }
  memory::desc weightsAny() const { return memory::desc({oc, ic, kh, kw}, dt::f32, tag::any); }
  memory::dims strides() const { return {sh, sw}; }
  // oneDNN counts dilation from 0 (no gaps), tfjs from 1.
  memory::dims dilations() const { return {dh - 1, dw - 1}; }
  memory::dims padBefore() const { return {padTop, padLeft}; }
  memory::dims padAfter() const { return {padBottom, padRight}; }

  std::string key(const char *kind) const {
    return planKey(kind, {n, ih, iw, ic, kh, kw, oc, oh, ow, sh, sw, dh, dw, padTop, padLeft, padBottom, padRight});
  }
};

// Primitives take their scratch memory from us (threadScratchpad), not from oneDNN, which
// otherwise allocates it on every execution: measured, that made a small dW 3-8x slower when
// other kernels ran between two of its calls, as they do in a training step.
dnnl::primitive_attr userScratchpad() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

// One scratch buffer per thread, 64-byte aligned as oneDNN prefers, grown to the largest a
// primitive has asked for and reused.
memory threadScratchpad(const memory::desc &desc) {
  thread_local std::unique_ptr<void, decltype(&std::free)> buffer(nullptr, &std::free);
  thread_local size_t capacity = 0;
  size_t needed = desc.get_size();
  if (needed > capacity) {
    capacity = (needed + 63) / 64 * 64;
    buffer.reset(std::aligned_alloc(64, capacity));
    if (!buffer) throw std::bad_alloc();
  }
  return memory(desc, cpuEngine(), buffer.get());
}

dnnl::convolution_forward::primitive_desc forwardDesc(const ConvShape &s) {
  dnnl::convolution_forward::desc desc(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct, s.src(),
                                       s.weightsAny(), s.dst(), s.strides(), s.dilations(), s.padBefore(), s.padAfter());
  return dnnl::convolution_forward::primitive_desc(desc, userScratchpad(), cpuEngine());
}

// A convolution primitive with its weights in the layout it chose: where that is not tfjs's
// HWIO, a reorder to or from it and the buffer that holds the weights in between.
struct ConvPlan {
  dnnl::primitive conv;
  memory::desc scratchpadDesc;
  memory::desc weightsDesc;
  dnnl::reorder weightsReorder;
  std::unique_ptr<memory> weightsBuffer;

  ConvPlan(dnnl::primitive primitive, const memory::desc &scratchpad, const memory::desc &chosen, const memory::desc &hwio, bool weightsAreOutput)
      : conv(std::move(primitive)), scratchpadDesc(scratchpad), weightsDesc(chosen) {
    if (chosen == hwio) return;
    weightsBuffer = std::make_unique<memory>(chosen, cpuEngine());
    weightsReorder = weightsAreOutput ? dnnl::reorder(dnnl::reorder::primitive_desc(cpuEngine(), chosen, cpuEngine(), hwio))
                                      : dnnl::reorder(dnnl::reorder::primitive_desc(cpuEngine(), hwio, cpuEngine(), chosen));
  }
};

// The threads setThreads allows this OS thread's kernels (OpenMP's setting at first).
thread_local int allowedThreads = 0;

// Work below this many FLOPs a thread is not split further: waking a sleeping OpenMP thread
// (OMP_WAIT_POLICY=PASSIVE) and joining it cost tens of microseconds, and on a shared machine
// a split kernel waits for its slowest thread, so a quick-start conv at batch 8 ran slower on
// two threads than on one. 20 MFLOP is about 0.2 ms of one core's oneDNN.
constexpr double kMinFlopPerThread = 20e6;

// Elementwise kernels split across threads only above this many values: below it, waking a
// second thread costs more than the half of the work it would take.
constexpr double kMinValuesPerThread = 1 << 16;

// Sets OpenMP's threads for a kernel of `work` units (FLOPs, values): as many as allowed, but
// no more than its work fills at `minPerThread` units a thread.
void useThreadsForWork(double work, double minPerThread) {
  if (allowedThreads == 0) allowedThreads = omp_get_max_threads();
  double wanted = work / minPerThread;
  omp_set_num_threads(wanted < 1 ? 1 : (wanted > allowedThreads ? allowedThreads : static_cast<int>(wanted)));
}

void useThreadsFor(double flop) { useThreadsForWork(flop, kMinFlopPerThread); }
void useThreadsForValues(int64_t values) { useThreadsForWork(static_cast<double>(values), kMinValuesPerThread); }

// Plans (primitives and what they need beside them) by key (planKey), per thread: a plan's
// weights buffer is scratch that two threads must not share. Bounded: a process that sees ever new shapes (tests) starts over.
constexpr size_t kMaxPlans = 512;

template <typename Plan, typename Make>
Plan &cachedPlan(const std::string &key, Make make) {
  thread_local std::unordered_map<std::string, std::unique_ptr<Plan>> plans;
  auto found = plans.find(key);
  if (found != plans.end()) return *found->second;
  if (plans.size() >= kMaxPlans) plans.clear();
  return *plans.emplace(key, std::make_unique<Plan>(make())).first->second;
}

template <typename Plan>
Plan &planFor(const std::string &key, Plan (*make)(const ConvShape &), const ConvShape &s) {
  return cachedPlan<Plan>(key, [&] { return make(s); });
}

ConvPlan makeForward(const ConvShape &s) {
  auto pd = forwardDesc(s);
  return ConvPlan(dnnl::convolution_forward(pd), pd.scratchpad_desc(), pd.weights_desc(), s.weightsHwio(), false);
}

ConvPlan makeBackwardData(const ConvShape &s) {
  dnnl::convolution_backward_data::desc desc(dnnl::algorithm::convolution_direct, s.src(), s.weightsAny(), s.dst(), s.strides(),
                                             s.dilations(), s.padBefore(), s.padAfter());
  dnnl::convolution_backward_data::primitive_desc pd(desc, userScratchpad(), cpuEngine(), forwardDesc(s));
  return ConvPlan(dnnl::convolution_backward_data(pd), pd.scratchpad_desc(), pd.weights_desc(), s.weightsHwio(), false);
}

ConvPlan makeBackwardWeights(const ConvShape &s) {
  dnnl::convolution_backward_weights::desc desc(dnnl::algorithm::convolution_direct, s.src(), s.weightsAny(), s.dst(),
                                                s.strides(), s.dilations(), s.padBefore(), s.padAfter());
  dnnl::convolution_backward_weights::primitive_desc pd(desc, userScratchpad(), cpuEngine(), forwardDesc(s));
  return ConvPlan(dnnl::convolution_backward_weights(pd), pd.scratchpad_desc(), pd.diff_weights_desc(), s.weightsHwio(), true);
}

// The weights argument of a plan: tfjs's HWIO tensor itself, or the plan's buffer (filled
// from it first when the weights are an input).
memory weightsArg(ConvPlan &plan, memory &hwio, bool isInput) {
  if (!plan.weightsBuffer) return hwio;
  if (isInput) plan.weightsReorder.execute(threadStream(), hwio, *plan.weightsBuffer);
  return *plan.weightsBuffer;
}

// --- N-API plumbing ---------------------------------------------------------------------

struct Args {
  napi_env env;
  std::vector<napi_value> values;

  Args(napi_env env, napi_callback_info info, size_t expected) : env(env), values(expected) {
    size_t count = expected;
    napi_get_cb_info(env, info, &count, values.data(), nullptr, nullptr);
    if (count != expected) throw std::invalid_argument("expected " + std::to_string(expected) + " arguments, got " + std::to_string(count));
  }

  Heap heap(size_t i) const {
    bool isBuffer = false;
    napi_is_arraybuffer(env, values[i], &isBuffer);
    if (!isBuffer) throw std::invalid_argument("argument " + std::to_string(i) + " must be the wasm heap's ArrayBuffer");
    void *data = nullptr;
    size_t bytes = 0;
    napi_get_arraybuffer_info(env, values[i], &data, &bytes);
    return {static_cast<uint8_t *>(data), bytes};
  }

  int64_t integer(size_t i) const {
    int64_t v = 0;
    if (napi_get_value_int64(env, values[i], &v) != napi_ok) throw std::invalid_argument("argument " + std::to_string(i) + " must be a number");
    return v;
  }

  double number(size_t i) const {
    double v = 0;
    if (napi_get_value_double(env, values[i], &v) != napi_ok) throw std::invalid_argument("argument " + std::to_string(i) + " must be a number");
    return v;
  }

  bool flag(size_t i) const {
    bool v = false;
    if (napi_get_value_bool(env, values[i], &v) != napi_ok) throw std::invalid_argument("argument " + std::to_string(i) + " must be a boolean");
    return v;
  }
};

// Runs `body`, turning a C++ or oneDNN exception into a JavaScript Error.
template <typename Body>
napi_value guarded(napi_env env, Body body) {
  try {
    return body();
  } catch (const dnnl::error &e) {
    napi_throw_error(env, nullptr, (std::string("oneDNN: ") + e.what()).c_str());
  } catch (const std::exception &e) {
    napi_throw_error(env, nullptr, e.what());
  }
  return nullptr;
}

napi_value undefinedOf(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

// Arguments 4..20 of every conv call: the ConvShape fields in order.
ConvShape convShapeFrom(const Args &a) {
  ConvShape s{};
  int64_t *fields[] = {&s.n, &s.ih, &s.iw, &s.ic, &s.kh, &s.kw, &s.oc, &s.oh, &s.ow, &s.sh, &s.sw, &s.dh, &s.dw, &s.padTop, &s.padLeft, &s.padBottom, &s.padRight};
  for (size_t i = 0; i < 17; i++) {
    *fields[i] = a.integer(4 + i);
    if (*fields[i] < 0 || (i < 13 && *fields[i] == 0)) throw std::invalid_argument("conv dimension " + std::to_string(i) + " out of range");
  }
  return s;
}

constexpr size_t kConvArgs = 21;

// conv2d(heap, xOffset, filterOffset, yOffset, ...shape)
napi_value Conv2D(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, kConvArgs);
    Heap heap = a.heap(0);
    ConvShape s = convShapeFrom(a);
    memory x(s.src(), cpuEngine(), heap.at(a.integer(1), s.n * s.ih * s.iw * s.ic, "x"));
    memory w(s.weightsHwio(), cpuEngine(), heap.at(a.integer(2), s.kh * s.kw * s.ic * s.oc, "filter"));
    memory y(s.dst(), cpuEngine(), heap.at(a.integer(3), s.n * s.oh * s.ow * s.oc, "y"));
    useThreadsFor(s.flop());
    ConvPlan &plan = planFor(s.key("fwd"), makeForward, s);
    memory weights = weightsArg(plan, w, true);
    plan.conv.execute(threadStream(), {{DNNL_ARG_SRC, x}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DST, y}, {DNNL_ARG_SCRATCHPAD, threadScratchpad(plan.scratchpadDesc)}});
    threadStream().wait();
    return undefinedOf(env);
  });
}

// conv2dBackpropInput(heap, dyOffset, filterOffset, dxOffset, ...shape)
napi_value Conv2DBackpropInput(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, kConvArgs);
    Heap heap = a.heap(0);
    ConvShape s = convShapeFrom(a);
    memory dy(s.dst(), cpuEngine(), heap.at(a.integer(1), s.n * s.oh * s.ow * s.oc, "dy"));
    memory w(s.weightsHwio(), cpuEngine(), heap.at(a.integer(2), s.kh * s.kw * s.ic * s.oc, "filter"));
    memory dx(s.src(), cpuEngine(), heap.at(a.integer(3), s.n * s.ih * s.iw * s.ic, "dx"));
    useThreadsFor(s.flop());
    ConvPlan &plan = planFor(s.key("bwd_data"), makeBackwardData, s);
    memory weights = weightsArg(plan, w, true);
    plan.conv.execute(threadStream(), {{DNNL_ARG_DIFF_DST, dy}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DIFF_SRC, dx}, {DNNL_ARG_SCRATCHPAD, threadScratchpad(plan.scratchpadDesc)}});
    threadStream().wait();
    return undefinedOf(env);
  });
}

// conv2dBackpropFilter(heap, xOffset, dyOffset, dwOffset, ...shape)
napi_value Conv2DBackpropFilter(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, kConvArgs);
    Heap heap = a.heap(0);
    ConvShape s = convShapeFrom(a);
    memory x(s.src(), cpuEngine(), heap.at(a.integer(1), s.n * s.ih * s.iw * s.ic, "x"));
    memory dy(s.dst(), cpuEngine(), heap.at(a.integer(2), s.n * s.oh * s.ow * s.oc, "dy"));
    memory dw(s.weightsHwio(), cpuEngine(), heap.at(a.integer(3), s.kh * s.kw * s.ic * s.oc, "dW"));
    useThreadsFor(s.flop());
    ConvPlan &plan = planFor(s.key("bwd_weights"), makeBackwardWeights, s);
    memory weights = weightsArg(plan, dw, false);
    plan.conv.execute(threadStream(), {{DNNL_ARG_SRC, x}, {DNNL_ARG_DIFF_DST, dy}, {DNNL_ARG_DIFF_WEIGHTS, weights}, {DNNL_ARG_SCRATCHPAD, threadScratchpad(plan.scratchpadDesc)}});
    if (plan.weightsBuffer) plan.weightsReorder.execute(threadStream(), weights, dw);
    threadStream().wait();
    return undefinedOf(env);
  });
}

// A batch of matrix products C[b] = op(A[b]) x op(B[b]), where a batch of one is shared by
// every product; op transposes an operand stored as [.., k, m] / [.., n, k].
struct MatMulShape {
  int64_t batchA, batchB, m, k, n;
  bool transposeA, transposeB;

  int64_t batch() const { return batchA > batchB ? batchA : batchB; }
  memory::desc a() const { return transposeA ? memory::desc({batchA, m, k}, dt::f32, memory::dims{m * k, 1, m}) : memory::desc({batchA, m, k}, dt::f32, memory::dims{m * k, k, 1}); }
  memory::desc b() const { return transposeB ? memory::desc({batchB, k, n}, dt::f32, memory::dims{k * n, 1, k}) : memory::desc({batchB, k, n}, dt::f32, memory::dims{k * n, n, 1}); }
  memory::desc c() const { return memory::desc({batch(), m, n}, dt::f32, tag::abc); }

  std::string key() const { return planKey("matmul", {batchA, batchB, m, k, n, transposeA, transposeB}); }
};

struct MatMulPlan {
  dnnl::matmul product;
  memory::desc scratchpadDesc;
};

MatMulPlan &matmulFor(const MatMulShape &s) {
  return cachedPlan<MatMulPlan>(s.key(), [&] {
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(s.a(), s.b(), s.c()), userScratchpad(), cpuEngine());
    return MatMulPlan{dnnl::matmul(pd), pd.scratchpad_desc()};
  });
}

// batchMatMul(heap, aOffset, bOffset, cOffset, batchA, batchB, m, k, n, transposeA, transposeB)
napi_value BatchMatMul(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, 11);
    Heap heap = a.heap(0);
    MatMulShape s{a.integer(4), a.integer(5), a.integer(6), a.integer(7), a.integer(8), a.flag(9), a.flag(10)};
    if (s.batchA < 1 || s.batchB < 1 || s.m < 1 || s.k < 1 || s.n < 1) throw std::invalid_argument("matmul dimensions must be positive");
    if (s.batchA != s.batchB && s.batchA != 1 && s.batchB != 1) throw std::invalid_argument("matmul batches must be equal or one of them 1");
    memory ma(s.a(), cpuEngine(), heap.at(a.integer(1), s.batchA * s.m * s.k, "a"));
    memory mb(s.b(), cpuEngine(), heap.at(a.integer(2), s.batchB * s.k * s.n, "b"));
    memory mc(s.c(), cpuEngine(), heap.at(a.integer(3), s.batch() * s.m * s.n, "c"));
    useThreadsFor(2.0 * s.batch() * s.m * s.k * s.n);
    MatMulPlan &plan = matmulFor(s);
    plan.product.execute(threadStream(), {{DNNL_ARG_SRC, ma}, {DNNL_ARG_WEIGHTS, mb}, {DNNL_ARG_DST, mc}, {DNNL_ARG_SCRATCHPAD, threadScratchpad(plan.scratchpadDesc)}});
    threadStream().wait();
    return undefinedOf(env);
  });
}

// The exact GELU, x·Φ(x) with erf (oneDNN's gelu_erf), forward and backward, on n values.
struct GeluPlan {
  dnnl::eltwise_forward forward;
  dnnl::eltwise_backward backward;
};

GeluPlan &geluFor(int64_t n) {
  return cachedPlan<GeluPlan>(planKey("gelu", {n}), [&] {
    memory::desc values({n}, dt::f32, tag::a);
    dnnl::eltwise_forward::primitive_desc forward(
        dnnl::eltwise_forward::desc(dnnl::prop_kind::forward_training, dnnl::algorithm::eltwise_gelu_erf, values, 0.f, 0.f), cpuEngine());
    dnnl::eltwise_backward::primitive_desc backward(
        dnnl::eltwise_backward::desc(dnnl::algorithm::eltwise_gelu_erf, values, values, 0.f, 0.f), cpuEngine(), forward);
    return GeluPlan{dnnl::eltwise_forward(forward), dnnl::eltwise_backward(backward)};
  });
}

int64_t positiveCount(const Args &a, size_t i) {
  int64_t n = a.integer(i);
  if (n < 1) throw std::invalid_argument("the value count must be positive");
  return n;
}

// gelu(heap, xOffset, yOffset, n)
napi_value Gelu(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, 4);
    Heap heap = a.heap(0);
    int64_t n = positiveCount(a, 3);
    memory::desc values({n}, dt::f32, tag::a);
    memory x(values, cpuEngine(), heap.at(a.integer(1), n, "x"));
    memory y(values, cpuEngine(), heap.at(a.integer(2), n, "y"));
    useThreadsForValues(n);
    geluFor(n).forward.execute(threadStream(), {{DNNL_ARG_SRC, x}, {DNNL_ARG_DST, y}});
    threadStream().wait();
    return undefinedOf(env);
  });
}

// geluGrad(heap, xOffset, dyOffset, dxOffset, n): dx = dy·(Φ(x) + x·φ(x))
napi_value GeluGrad(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, 5);
    Heap heap = a.heap(0);
    int64_t n = positiveCount(a, 4);
    memory::desc values({n}, dt::f32, tag::a);
    memory x(values, cpuEngine(), heap.at(a.integer(1), n, "x"));
    memory dy(values, cpuEngine(), heap.at(a.integer(2), n, "dy"));
    memory dx(values, cpuEngine(), heap.at(a.integer(3), n, "dx"));
    useThreadsForValues(n);
    geluFor(n).backward.execute(threadStream(), {{DNNL_ARG_SRC, x}, {DNNL_ARG_DIFF_DST, dy}, {DNNL_ARG_DIFF_SRC, dx}});
    threadStream().wait();
    return undefinedOf(env);
  });
}

// copyColumns(heap, srcOffset, srcRowLength, srcColumn, dstOffset, dstRowLength, dstColumn, rows, columns):
// `columns` 4-byte values of each of `rows` rows, from column srcColumn of a source whose rows
// are srcRowLength values long to column dstColumn of a destination's. One call per input of a
// concatenation, or per output of a split, along any axis (the axes before it are the rows).
napi_value CopyColumns(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, 9);
    Heap heap = a.heap(0);
    int64_t srcRow = a.integer(2), srcColumn = a.integer(3), dstRow = a.integer(5), dstColumn = a.integer(6);
    int64_t rows = a.integer(7), columns = a.integer(8);
    if (rows < 1 || columns < 1 || srcColumn < 0 || dstColumn < 0 || srcColumn + columns > srcRow || dstColumn + columns > dstRow) {
      throw std::invalid_argument("copyColumns: rows and columns out of range");
    }
    const float *src = heap.at(a.integer(1), (rows - 1) * srcRow + srcColumn + columns, "source") + srcColumn;
    float *dst = heap.at(a.integer(4), (rows - 1) * dstRow + dstColumn + columns, "destination") + dstColumn;
    useThreadsForValues(rows * columns);
    const size_t bytes = static_cast<size_t>(columns) * 4;
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; r++) std::memcpy(dst + r * dstRow, src + r * srcRow, bytes);
    return undefinedOf(env);
  });
}

// --- Normalization over groups of consecutive values, gamma and beta per channel ----------
// (GroupNorm(1) over an NHWC example, LayerNorm over a position's channels), as
// fused-kernels.ts defines it; oneDNN 2.6 has no group normalization. The loops are compiled
// for AVX-512, AVX2 and plain x86-64, picked at load time for the machine at hand.
#define XP_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))

// Sums of x − shift and of its square over n values, in double precision.
XP_VECTOR_CLONES void shiftedSums(const float *x, int64_t n, double shift, double *sum, double *squares) {
  double s = 0, q = 0;
#pragma omp simd reduction(+ : s, q)
  for (int64_t i = 0; i < n; i++) {
    double d = static_cast<double>(x[i]) - shift;
    s += d;
    q += d * d;
  }
  *sum = s;
  *squares = q;
}

// y = (x − mean)·scale[c] + beta[c] over `positions` runs of `channels` values. The mean is
// subtracted first, as a float pair hi + lo (x − hi is exact where x is near it): folding it
// into an offset, or rounding it to one float, loses the digits that matter where |mean| ≫ σ.
XP_VECTOR_CLONES void centerAndScale(const float *x, float *y, double mean, const float *scale, const float *beta, int64_t positions, int64_t channels) {
  const float hi = static_cast<float>(mean);
  const float lo = static_cast<float>(mean - hi);
  for (int64_t p = 0; p < positions; p++) {
    const float *xp = x + p * channels;
    float *yp = y + p * channels;
#pragma omp simd
    for (int64_t c = 0; c < channels; c++) yp[c] = ((xp[c] - hi) - lo) * scale[c] + beta[c];
  }
}

// Per channel over a group's positions: Σdy and Σdy·(x − mean), in double precision; the
// group's Σg, Σg·x̂ (g = dy·gamma, x̂ = (x − mean)·invStd) and dGamma, dBeta follow from these
// per channel. One pass of vector adds: a sum over the group reduced at every position, as
// before, cost three to four times as much at the UNets' 8-64 channels.
XP_VECTOR_CLONES void channelSums(const float *x, const float *dy, int64_t positions, int64_t channels, float mean, double *sumDy, double *sumDyCentered) {
  std::fill(sumDy, sumDy + channels, 0.0);
  std::fill(sumDyCentered, sumDyCentered + channels, 0.0);
  for (int64_t p = 0; p < positions; p++) {
    const float *xp = x + p * channels;
    const float *dyp = dy + p * channels;
#pragma omp simd
    for (int64_t c = 0; c < channels; c++) {
      const double g = dyp[c];
      sumDy[c] += g;
      sumDyCentered[c] += g * static_cast<double>(xp[c] - mean);
    }
  }
}

// dx = (dy·gamma − gMean − x̂·projection)·invStd.
XP_VECTOR_CLONES void normalizedGradient(const float *x, const float *dy, const float *gamma, float *dx, int64_t positions, int64_t channels,
                                         float mean, float invStd, float gMean, float projection) {
  for (int64_t p = 0; p < positions; p++) {
    const float *xp = x + p * channels;
    const float *dyp = dy + p * channels;
    float *dxp = dx + p * channels;
#pragma omp simd
    for (int64_t c = 0; c < channels; c++) dxp[c] = (dyp[c] * gamma[c] - gMean - (xp[c] - mean) * invStd * projection) * invStd;
  }
}

// Checked sizes of a normalization call: n values in groups of groupSize, each a whole number of positions of `channels`.
struct NormShape {
  int64_t n, groupSize, channels;

  NormShape(int64_t n, int64_t groupSize, int64_t channels) : n(n), groupSize(groupSize), channels(channels) {
    if (n < 1 || groupSize < 1 || channels < 1 || n % groupSize != 0 || groupSize % channels != 0) {
      throw std::invalid_argument("normalize: n, groupSize and channels must be positive, n a multiple of groupSize and groupSize of channels");
    }
  }
  int64_t groups() const { return n / groupSize; }
  int64_t positions() const { return groupSize / channels; }
};

// normalize(heap, x, gamma, beta, y, statistics, n, groupSize, channels, epsilon): statistics gets each group's mean and 1/σ.
napi_value Normalize(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, 10);
    Heap heap = a.heap(0);
    NormShape s(a.integer(6), a.integer(7), a.integer(8));
    double epsilon = a.number(9);
    if (!(epsilon >= 0)) throw std::invalid_argument("epsilon must be a number >= 0");
    const float *x = heap.at(a.integer(1), s.n, "x");
    const float *gamma = heap.at(a.integer(2), s.channels, "gamma");
    const float *beta = heap.at(a.integer(3), s.channels, "beta");
    float *y = heap.at(a.integer(4), s.n, "y");
    float *statistics = heap.at(a.integer(5), 2 * s.groups(), "statistics");
    useThreadsForValues(s.groups() > 1 ? s.n : 1);
#pragma omp parallel
    {
      std::vector<float> scale(s.channels);
#pragma omp for schedule(static)
      for (int64_t group = 0; group < s.groups(); group++) {
        const float *gx = x + group * s.groupSize;
        double sum = 0, squares = 0;
        shiftedSums(gx, s.groupSize, gx[0], &sum, &squares);
        double mean = sum / s.groupSize;
        double variance = squares / s.groupSize - mean * mean;
        double invStd = 1 / std::sqrt((variance > 0 ? variance : 0) + epsilon);
        mean += gx[0];
        statistics[2 * group] = static_cast<float>(mean);
        statistics[2 * group + 1] = static_cast<float>(invStd);
        for (int64_t c = 0; c < s.channels; c++) scale[c] = static_cast<float>(invStd * gamma[c]);
        centerAndScale(gx, y + group * s.groupSize, mean, scale.data(), beta, s.positions(), s.channels);
      }
    }
    return undefinedOf(env);
  });
}

// normalizeGrad(heap, x, gamma, dy, statistics, dx, dGamma, dBeta, n, groupSize, channels)
napi_value NormalizeGrad(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, 11);
    Heap heap = a.heap(0);
    NormShape s(a.integer(8), a.integer(9), a.integer(10));
    const float *x = heap.at(a.integer(1), s.n, "x");
    const float *gamma = heap.at(a.integer(2), s.channels, "gamma");
    const float *dy = heap.at(a.integer(3), s.n, "dy");
    const float *statistics = heap.at(a.integer(4), 2 * s.groups(), "statistics");
    float *dx = heap.at(a.integer(5), s.n, "dx");
    float *dGamma = heap.at(a.integer(6), s.channels, "dGamma");
    float *dBeta = heap.at(a.integer(7), s.channels, "dBeta");
    useThreadsForValues(s.groups() > 1 ? s.n : 1);
    // Each thread sums dGamma and dBeta over its own groups (a static split: the same groups
    // every call), and the threads' sums are added in thread order, so a given thread count
    // gives the same bits every time.
    const int threads = omp_get_max_threads();
    std::vector<double> perThread(static_cast<size_t>(threads) * 2 * s.channels, 0.0);
#pragma omp parallel num_threads(threads)
    {
      double *myGamma = perThread.data() + static_cast<size_t>(omp_get_thread_num()) * 2 * s.channels;
      double *myBeta = myGamma + s.channels;
      std::vector<double> sumDy(static_cast<size_t>(s.channels)), sumDyCentered(static_cast<size_t>(s.channels));
#pragma omp for schedule(static)
      for (int64_t group = 0; group < s.groups(); group++) {
        const int64_t start = group * s.groupSize;
        const float mean = statistics[2 * group];
        const double invStd = statistics[2 * group + 1];
        channelSums(x + start, dy + start, s.positions(), s.channels, mean, sumDy.data(), sumDyCentered.data());
        double gSum = 0, gDotNormalized = 0;
        for (int64_t c = 0; c < s.channels; c++) {
          const double groupGamma = invStd * sumDyCentered[c];  // Σdy·x̂ over the group's positions
          myGamma[c] += groupGamma;
          myBeta[c] += sumDy[c];
          gSum += gamma[c] * sumDy[c];
          gDotNormalized += gamma[c] * groupGamma;
        }
        normalizedGradient(x + start, dy + start, gamma, dx + start, s.positions(), s.channels, mean,
                           static_cast<float>(invStd), static_cast<float>(gSum / s.groupSize), static_cast<float>(gDotNormalized / s.groupSize));
      }
    }
    for (int64_t c = 0; c < s.channels; c++) {
      double g = 0, b = 0;
      for (int t = 0; t < threads; t++) {
        g += perThread[static_cast<size_t>(t) * 2 * s.channels + c];
        b += perThread[static_cast<size_t>(t) * 2 * s.channels + s.channels + c];
      }
      dGamma[c] = static_cast<float>(g);
      dBeta[c] = static_cast<float>(b);
    }
    return undefinedOf(env);
  });
}

// --- Elementwise add and multiply, with the broadcasts a UNet makes ----------------------
// out[r, i] = a[r, i] op b[r / mid, i] over rows × inner values: the same shape (mid 1), a bias
// over every row ([rows, c] + [c]: mid = rows), a per-example vector over its positions
// ([n, h, w, c] + [n, 1, 1, c]: mid = h·w).
enum class BinaryOp : int64_t { kAdd = 0, kMultiply = 1 };

template <BinaryOp op>
XP_VECTOR_CLONES void binaryRows(const float *a, const float *b, float *out, int64_t rows, int64_t mid, int64_t inner) {
  if (inner == 1 && mid == rows) {  // b is one value: one flat loop, not rows of one
    const float value = b[0];
#pragma omp for simd schedule(static)
    for (int64_t r = 0; r < rows; r++) out[r] = op == BinaryOp::kAdd ? a[r] + value : a[r] * value;
    return;
  }
  if (inner == 1) {  // one b value per run of `mid` values ([n, h, w, 1] by [n, h, w, c]'s rows): runs, not rows of one
#pragma omp for schedule(static)
    for (int64_t g = 0; g < rows / mid; g++) {
      const float value = b[g];
      const float *ag = a + g * mid;
      float *outg = out + g * mid;
#pragma omp simd
      for (int64_t i = 0; i < mid; i++) outg[i] = op == BinaryOp::kAdd ? ag[i] + value : ag[i] * value;
    }
    return;
  }
#pragma omp for schedule(static)
  for (int64_t r = 0; r < rows; r++) {
    const float *ar = a + r * inner;
    const float *br = b + (r / mid) * inner;
    float *outr = out + r * inner;
#pragma omp simd
    for (int64_t i = 0; i < inner; i++) outr[i] = op == BinaryOp::kAdd ? ar[i] + br[i] : ar[i] * br[i];
  }
}

// binary(heap, op, a, b, out, rows, mid, inner): op 0 adds, 1 multiplies.
napi_value Binary(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, 8);
    Heap heap = a.heap(0);
    int64_t op = a.integer(1), rows = a.integer(5), mid = a.integer(6), inner = a.integer(7);
    if (rows < 1 || mid < 1 || inner < 1 || rows % mid != 0) throw std::invalid_argument("binary: rows, mid and inner must be positive, rows a multiple of mid");
    if (op != 0 && op != 1) throw std::invalid_argument("binary: op must be 0 (add) or 1 (multiply)");
    const float *x = heap.at(a.integer(2), rows * inner, "a");
    const float *y = heap.at(a.integer(3), rows / mid * inner, "b");
    float *out = heap.at(a.integer(4), rows * inner, "out");
    useThreadsForValues(rows * inner);
#pragma omp parallel
    {
      if (op == 0) binaryRows<BinaryOp::kAdd>(x, y, out, rows, mid, inner);
      else binaryRows<BinaryOp::kMultiply>(x, y, out, rows, mid, inner);
    }
    return undefinedOf(env);
  });
}

// softmax(heap, x, y, rows, columns): each row's softmax (oneDNN), as tfjs's Softmax over the last axis.
napi_value Softmax(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, 5);
    Heap heap = a.heap(0);
    int64_t rows = a.integer(3), columns = a.integer(4);
    if (rows < 1 || columns < 1) throw std::invalid_argument("softmax: rows and columns must be positive");
    memory::desc values({rows, columns}, dt::f32, tag::ab);
    memory x(values, cpuEngine(), heap.at(a.integer(1), rows * columns, "x"));
    memory y(values, cpuEngine(), heap.at(a.integer(2), rows * columns, "y"));
    useThreadsForValues(rows * columns);
    auto &softmax = cachedPlan<dnnl::softmax_forward>(planKey("softmax", {rows, columns}), [&] {
      return dnnl::softmax_forward(
          dnnl::softmax_forward::primitive_desc(dnnl::softmax_forward::desc(dnnl::prop_kind::forward_inference, values, 1), cpuEngine()));
    });
    softmax.execute(threadStream(), {{DNNL_ARG_SRC, x}, {DNNL_ARG_DST, y}});
    threadStream().wait();
    return undefinedOf(env);
  });
}

// --- Sums over a run of adjacent axes -----------------------------------------------------
// out[o, i] = Σ_m x[o, m, i]: a bias's gradient ([rows, c] -> [c]: outer 1, inner c), a
// per-example one ([n, h, w, c] -> [n, c]), a row's sum ([.., k] -> [..]: inner 1). tfjs-backend-
// wasm transposes the reduced axes to the end before it sums, a pass over the values that this
// saves; the sums are float32, as tfjs's, in a fixed order.
XP_VECTOR_CLONES void sumRuns(const float *x, float *out, int64_t outer, int64_t mid, int64_t inner) {
#pragma omp for schedule(static)
  for (int64_t o = 0; o < outer; o++) {
    const float *xo = x + o * mid * inner;
    float *outo = out + o * inner;
    if (inner == 1) {
      float s = 0;
#pragma omp simd reduction(+ : s)
      for (int64_t m = 0; m < mid; m++) s += xo[m];
      outo[0] = s;
      continue;
    }
    std::memset(outo, 0, static_cast<size_t>(inner) * 4);
    for (int64_t m = 0; m < mid; m++) {
      const float *row = xo + m * inner;
#pragma omp simd
      for (int64_t i = 0; i < inner; i++) outo[i] += row[i];
    }
  }
}

// sum(heap, x, out, outer, mid, inner)
napi_value Sum(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, 6);
    Heap heap = a.heap(0);
    int64_t outer = a.integer(3), mid = a.integer(4), inner = a.integer(5);
    if (outer < 1 || mid < 1 || inner < 1) throw std::invalid_argument("sum: outer, mid and inner must be positive");
    const float *x = heap.at(a.integer(1), outer * mid * inner, "x");
    float *out = heap.at(a.integer(2), outer * inner, "out");
    useThreadsForValues(outer > 1 ? outer * mid * inner : 1);
#pragma omp parallel
    sumRuns(x, out, outer, mid, inner);
    return undefinedOf(env);
  });
}

// --- Max pooling's gradient (NHWC) -----------------------------------------------------------
// Each window's dy goes to the window's largest input, the first one in row-major order on a
// tie, as tfjs's cpu backend routes it; windows are clipped to the image (padding is not a value).
struct PoolShape {
  int64_t n, ih, iw, c, oh, ow, fh, fw, sh, sw, padTop, padLeft;
};

// Window by window, all channels at once: `best` and `where` hold each channel's largest value so far and its index.
XP_VECTOR_CLONES void maxPoolGradOfExample(const float *x, const float *dy, float *dx, const PoolShape &s, float *best, int64_t *where) {
  std::memset(dx, 0, static_cast<size_t>(s.ih * s.iw * s.c) * 4);
  for (int64_t r = 0; r < s.oh; r++) {
    for (int64_t q = 0; q < s.ow; q++) {
      std::fill(best, best + s.c, -INFINITY);
      std::fill(where, where + s.c, int64_t{-1});
      for (int64_t u = 0; u < s.fh; u++) {
        const int64_t row = r * s.sh - s.padTop + u;
        if (row < 0 || row >= s.ih) continue;
        for (int64_t v = 0; v < s.fw; v++) {
          const int64_t column = q * s.sw - s.padLeft + v;
          if (column < 0 || column >= s.iw) continue;
          const int64_t at = (row * s.iw + column) * s.c;
#pragma omp simd
          for (int64_t ch = 0; ch < s.c; ch++) {
            const bool larger = x[at + ch] > best[ch];
            best[ch] = larger ? x[at + ch] : best[ch];
            where[ch] = larger ? at + ch : where[ch];
          }
        }
      }
      const float *dyp = dy + (r * s.ow + q) * s.c;
      for (int64_t ch = 0; ch < s.c; ch++) {
        if (where[ch] >= 0) dx[where[ch]] += dyp[ch];
      }
    }
  }
}

// maxPoolGrad(heap, x, dy, dx, n, ih, iw, c, oh, ow, fh, fw, sh, sw, padTop, padLeft)
napi_value MaxPoolGrad(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, 16);
    Heap heap = a.heap(0);
    PoolShape s{a.integer(4), a.integer(5), a.integer(6), a.integer(7), a.integer(8), a.integer(9),
                a.integer(10), a.integer(11), a.integer(12), a.integer(13), a.integer(14), a.integer(15)};
    if (s.n < 1 || s.ih < 1 || s.iw < 1 || s.c < 1 || s.oh < 1 || s.ow < 1 || s.fh < 1 || s.fw < 1 || s.sh < 1 || s.sw < 1) {
      throw std::invalid_argument("maxPoolGrad: sizes, filter and strides must be positive");
    }
    const int64_t inSize = s.ih * s.iw * s.c, outSize = s.oh * s.ow * s.c;
    const float *x = heap.at(a.integer(1), s.n * inSize, "x");
    const float *dy = heap.at(a.integer(2), s.n * outSize, "dy");
    float *dx = heap.at(a.integer(3), s.n * inSize, "dx");
    useThreadsForValues(s.n * inSize);
#pragma omp parallel
    {
      std::vector<float> best(static_cast<size_t>(s.c));
      std::vector<int64_t> where(static_cast<size_t>(s.c));
#pragma omp for schedule(static)
      for (int64_t e = 0; e < s.n; e++) maxPoolGradOfExample(x + e * inSize, dy + e * outSize, dx + e * inSize, s, best.data(), where.data());
    }
    return undefinedOf(env);
  });
}

// --- Bilinear resizing's gradient (NHWC) -----------------------------------------------------
// Each dy value spread over the four inputs it was interpolated from, with the same weights,
// as tfjs's cpu backend (and TensorFlow's resize_bilinear_op) computes it: source row r·scale.
struct ResizeShape {
  int64_t n, ih, iw, c, oh, ow;
  double heightScale, widthScale;
};

XP_VECTOR_CLONES void resizeBilinearGradOfExample(const float *dy, float *dx, const ResizeShape &s) {
  std::memset(dx, 0, static_cast<size_t>(s.ih * s.iw * s.c) * 4);
  for (int64_t r = 0; r < s.oh; r++) {
    const double sourceRow = r * s.heightScale;
    const int64_t top = static_cast<int64_t>(std::floor(sourceRow));
    const int64_t bottom = std::min(static_cast<int64_t>(std::ceil(sourceRow)), s.ih - 1);
    const double down = sourceRow - top;
    for (int64_t q = 0; q < s.ow; q++) {
      const double sourceColumn = q * s.widthScale;
      const int64_t left = static_cast<int64_t>(std::floor(sourceColumn));
      const int64_t right = std::min(static_cast<int64_t>(std::ceil(sourceColumn)), s.iw - 1);
      const double across = sourceColumn - left;
      const float weights[4] = {static_cast<float>((1 - down) * (1 - across)), static_cast<float>((1 - down) * across),
                                static_cast<float>(down * (1 - across)), static_cast<float>(down * across)};
      float *targets[4] = {dx + (top * s.iw + left) * s.c, dx + (top * s.iw + right) * s.c, dx + (bottom * s.iw + left) * s.c,
                           dx + (bottom * s.iw + right) * s.c};
      const float *dyp = dy + (r * s.ow + q) * s.c;
      // One corner after another: two corners may be the same input (at an edge, or an exact source position).
      for (int k = 0; k < 4; k++) {
        float *t = targets[k];
        const float w = weights[k];
#pragma omp simd
        for (int64_t ch = 0; ch < s.c; ch++) t[ch] += dyp[ch] * w;
      }
    }
  }
}

// resizeBilinearGrad(heap, dy, dx, n, ih, iw, c, oh, ow, heightScale, widthScale)
napi_value ResizeBilinearGrad(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, 11);
    Heap heap = a.heap(0);
    ResizeShape s{a.integer(3), a.integer(4), a.integer(5), a.integer(6), a.integer(7), a.integer(8), a.number(9), a.number(10)};
    if (s.n < 1 || s.ih < 1 || s.iw < 1 || s.c < 1 || s.oh < 1 || s.ow < 1) throw std::invalid_argument("resizeBilinearGrad: sizes must be positive");
    if (!(s.heightScale >= 0) || !(s.widthScale >= 0) || (s.oh - 1) * s.heightScale >= s.ih || (s.ow - 1) * s.widthScale >= s.iw) {
      throw std::invalid_argument("resizeBilinearGrad: scales reach outside the image");
    }
    const int64_t inSize = s.ih * s.iw * s.c, outSize = s.oh * s.ow * s.c;
    const float *dy = heap.at(a.integer(1), s.n * outSize, "dy");
    float *dx = heap.at(a.integer(2), s.n * inSize, "dx");
    useThreadsForValues(s.n * outSize);
#pragma omp parallel for schedule(static)
    for (int64_t e = 0; e < s.n; e++) resizeBilinearGradOfExample(dy + e * outSize, dx + e * inSize, s);
    return undefinedOf(env);
  });
}

// setThreads(n): the most OpenMP threads the calling thread's kernels may use from now on.
napi_value SetThreads(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, 1);
    int64_t n = a.integer(0);
    if (n < 1 || n > 1024) throw std::invalid_argument("threads must be between 1 and 1024");
    allowedThreads = static_cast<int>(n);
    return undefinedOf(env);
  });
}

napi_value Threads(napi_env env, napi_callback_info) {
  if (allowedThreads == 0) allowedThreads = omp_get_max_threads();
  napi_value v;
  napi_create_int32(env, allowedThreads, &v);
  return v;
}

// version(): "oneDNN 2.6.3 (cpu runtime: OpenMP)".
napi_value Version(napi_env env, napi_callback_info) {
  const dnnl_version_t *v = dnnl_version();
  std::string text = "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch) +
                     (v->cpu_runtime == DNNL_RUNTIME_OMP ? " (OpenMP)" : "");
  napi_value s;
  napi_create_string_utf8(env, text.c_str(), text.size(), &s);
  return s;
}

}  // namespace

NAPI_MODULE_INIT() {
  napi_property_descriptor functions[] = {
      {"conv2d", nullptr, Conv2D, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"conv2dBackpropInput", nullptr, Conv2DBackpropInput, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"conv2dBackpropFilter", nullptr, Conv2DBackpropFilter, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"batchMatMul", nullptr, BatchMatMul, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"gelu", nullptr, Gelu, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"geluGrad", nullptr, GeluGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"copyColumns", nullptr, CopyColumns, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"binary", nullptr, Binary, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"softmax", nullptr, Softmax, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"normalize", nullptr, Normalize, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"normalizeGrad", nullptr, NormalizeGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sum", nullptr, Sum, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"maxPoolGrad", nullptr, MaxPoolGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"resizeBilinearGrad", nullptr, ResizeBilinearGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setThreads", nullptr, SetThreads, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"threads", nullptr, Threads, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"version", nullptr, Version, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof(functions) / sizeof(functions[0]), functions);
  return exports;
}
