// The Primitives<T> table over the kernel files, and the kernel library's
// entry point (see ../kernels.h).
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>

#include "../../ops/bjorck_kernels.h"
#include "../../ops/polar_kernels.h"
#include "../../ops/power_iteration_kernels.h"
#include "../kernels.h"
#include "common.h"
#include "primitives.h"

namespace ortho::cpu {
namespace {

// The ops' fused-kernel interfaces (ops/fused.h) over Fused<T>.
template <typename T>
struct CpuPowerIterationKernels final : ops::PowerIterationKernels<T> {
  bool forward(int64_t batch, Mat<const T> X, T* u, T* v, int niter, T eps, T* coef, T* Y) override {
    return Fused<T>::powerIteration(batch, X, u, v, niter, eps, coef, Y);
  }
};

template <typename T>
struct CpuBjorckKernels final : ops::BjorckKernels<T> {
  bool keepsGram(int64_t m, int64_t n) override { return Fused<T>::keepsBjorckGram(m, n); }
  bool forward(int64_t batch, T beta, int steps, Mat<const T> X, Mat<T> Y, T* const* saves,
               T* const* grams) override {
    return Fused<T>::bjorck(batch, X, Y, steps, beta, saves, grams);
  }
  bool backward(int64_t batch, T beta, int steps, const T* const* ws, const T* const* ms, Mat<const T> G,
                Mat<T> dX) override {
    return Fused<T>::bjorckBackward(batch, ws, ms, steps, G, dX, beta);
  }
};

template <typename T>
struct CpuPolarKernels final : ops::PolarKernels<T> {
  bool forward(int64_t count, const int64_t* which, Mat<const T> In, Mat<T> Out, bool transposed,
               const PolarPlan& plan, PolarTrack* tracks) override {
    return Fused<T>::polar(count, which, In, Out, transposed, plan, tracks);
  }
};

template <typename T>
class CpuPrimitives final : public Primitives<T> {
 public:
  void gemm(int64_t batch, T alpha, Mat<const T> A, Op opA, Mat<const T> B, Op opB, T beta, Mat<T> C) override {
    Products<T>::gemm(batch, alpha, A, opA, B, opB, beta, C);
  }
  void syrk(int64_t batch, T alpha, Mat<const T> A, Op opA, T beta, Mat<T> C) override {
    Products<T>::syrk(batch, alpha, A, opA, beta, C);
  }
  void trsm(int64_t batch, Side side, Uplo uplo, Op opA, T alpha, Mat<const T> A, Mat<T> B) override {
    Products<T>::trsm(batch, side, uplo, opA, alpha, A, B);
  }
  void potrf(int64_t batch, Mat<T> A, int* info) override { Factorizations<T>::potrf(batch, A, info); }
  void qr(int64_t batch, Mat<const T> A, Op opA, Mat<T> Q, Mat<T> R) override {
    Factorizations<T>::qr(batch, A, opA, Q, R);
  }
  void singularValues(int64_t batch, Mat<const T> A, T* S) override { Factorizations<T>::singularValues(batch, A, S); }
  void copy(int64_t batch, Mat<const T> A, Op opA, Mat<T> B) override { Elementwise<T>::copy(batch, A, opA, B); }
  void axpby(int64_t batch, T alpha, Mat<const T> A, T beta, Mat<T> B) override {
    Elementwise<T>::axpby(batch, alpha, A, beta, B);
  }
  void addTransposed(int64_t batch, T alpha, Mat<const T> A, T beta, Mat<T> B) override {
    Elementwise<T>::addTransposed(batch, alpha, A, beta, B);
  }
  void fill(int64_t batch, Mat<T> A, T value) override { Elementwise<T>::fill(batch, A, value); }
  void addDiagonal(int64_t batch, Mat<T> A, T value) override { Elementwise<T>::addDiagonal(batch, A, value); }
  void triangle(int64_t batch, Mat<T> A, TriOp op) override { Elementwise<T>::triangle(batch, A, op); }
  void scalarMap(int64_t n, ScalarFn f, const T* a, const T* b, T p, T* out) override {
    Elementwise<T>::scalarMap(n, f, a, b, p, out);
  }
  void groupDot(const GroupLayout& g, const T* x, const T* y, T* out) override { Reductions<T>::groupDot(g, x, y, out); }
  void groupScale(const GroupLayout& g, const T* a, const T* x, const T* b, const T* y, T* out) override {
    Reductions<T>::groupScale(g, a, x, b, y, out);
  }
  int64_t countNonFinite(int64_t n, const T* x) override { return Reductions<T>::countNonFinite(n, x); }
  void* fusedKernels(const char* name) override {
    if (std::strcmp(name, ops::BjorckKernels<T>::kName) == 0) return static_cast<ops::BjorckKernels<T>*>(&bjorck_);
    if (std::strcmp(name, ops::PowerIterationKernels<T>::kName) == 0)
      return static_cast<ops::PowerIterationKernels<T>*>(&powerIteration_);
    if (std::strcmp(name, ops::PolarKernels<T>::kName) == 0) return static_cast<ops::PolarKernels<T>*>(&polar_);
    return nullptr;
  }

 private:
  CpuPowerIterationKernels<T> powerIteration_;
  CpuBjorckKernels<T> bjorck_;
  CpuPolarKernels<T> polar_;
};

// The level these files were compiled for, from the compiler's own macros
// (the build passes -march per level; see CMakeLists.txt).
constexpr const char* compiledLevel() {
#if defined(__x86_64__) || defined(_M_X64)
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512CD__) && defined(__AVX512DQ__) && \
    defined(__AVX512VL__)
  return "v4";
#elif defined(__AVX2__) && defined(__FMA__) && defined(__BMI2__)
  return "v3";
#elif defined(__SSE4_2__) && defined(__POPCNT__)
  return "v2";
#else
  return "baseline";
#endif
#elif defined(__aarch64__) || defined(_M_ARM64)
  return "arm64";
#else
  return "generic";
#endif
}

std::string detail() {
  std::ostringstream os;
  os << "Eigen " << EIGEN_WORLD_VERSION << '.' << EIGEN_MAJOR_VERSION << '.' << EIGEN_MINOR_VERSION << " ("
     <<
#if defined(__AVX2__) && defined(__FMA__) && !defined(__AVX512F__)
      // Eigen names AVX only, though it uses AVX2 and FMA where compiled in.
      "AVX2, FMA, " <<
#endif
      Eigen::SimdInstructionSetsInUse() << ")";
  return os.str();
}

}  // namespace

#if ORTHO_CPU_KERNEL_LIBRARY
// The addon's services, set by the entry point before any kernel runs.
const HostServices* gHost = nullptr;
#endif

}  // namespace ortho::cpu

#if ORTHO_CPU_KERNEL_LIBRARY
// In a kernel library, the core functions the kernels call are the addon's,
// reached through HostServices (core/parallel.cpp and core/error.cpp are
// not linked in: there is one pool and one OrthoError type per process).
namespace ortho {

int cpuThreads() { return cpu::gHost->threads(); }

void parallelFor(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  using Fn = std::function<void(int64_t, int64_t)>;
  cpu::gHost->parallelFor(
      n, grain, [](void* ctx, int64_t b, int64_t e) { (*static_cast<const Fn*>(ctx))(b, e); },
      const_cast<Fn*>(&fn));
}

void throwError(const char* code, ErrorKind kind, const std::string& message) {
  cpu::gHost->throwError(code, static_cast<int>(kind), message.c_str());
  std::abort();  // not reached: the host throws
}

}  // namespace ortho
#define ORTHO_CPU_EXPORT __attribute__((visibility("default")))
#else
#define ORTHO_CPU_EXPORT
#endif

extern "C" ORTHO_CPU_EXPORT const ortho::cpu::KernelSet* ortho_cpu_kernels_v1(const ortho::cpu::HostServices* host) {
  using namespace ortho::cpu;
  if (!host || host->abi != kKernelAbi) return nullptr;
#if ORTHO_CPU_KERNEL_LIBRARY
  gHost = host;
#endif
  // Built on first call, after the addon has checked that this CPU runs
  // this level (no code of the level runs at load time: no static
  // initializers here).
  static CpuPrimitives<float> f32;
  static CpuPrimitives<double> f64;
  static const std::string text = detail();
  static const KernelSet set{kKernelAbi, compiledLevel(), text.c_str(), &f32, &f64};
  return &set;
}
