// Compile-time proof that libs.h matches the real cuBLAS and cuSOLVER
// headers. Compiled (never linked) only where cublas_v2.h and cusolverDn.h
// exist (CMake: ORTHO_CUDA_HEADER_CHECK). Nothing here runs.
#include <cublas_v2.h>
#include <cusolverDn.h>

#include <type_traits>

#include "libs.h"

// The same function table, expanded where the type names mean the real
// types: every symbol's exact function type must equal ours. The cast
// picks the overload of that exact type (the C++ header adds inline
// wrappers beside some symbols, cublasGemmStridedBatchedEx's taking the
// older cudaDataType compute type); it does not compile when none has it.
namespace ortho_real_abi {
using ::cublasComputeType_t;
using ::cublasDiagType_t;
using ::cublasFillMode_t;
using ::cublasGemmAlgo_t;
using ::cublasHandle_t;
using ::cublasMath_t;
using ::cublasOperation_t;
using ::cublasPointerMode_t;
using ::cublasSideMode_t;
using ::cublasStatus_t;
using ::cusolverDnHandle_t;
using ::cusolverDnParams_t;
using ::cusolverEigMode_t;
using ::cusolverStatus_t;
using ::gesvdjInfo_t;

#define ORTHO_CHECK_SIGNATURE(name, ret, params)                                             \
  static_assert(std::is_same<decltype(static_cast<ret(*) params>(&::name)), ret(*) params>::value, \
                #name ": the declaration in native/cuda/libs.h differs from the real header");
ORTHO_CUBLAS_FUNCTIONS(ORTHO_CHECK_SIGNATURE)
ORTHO_CUSOLVER_FUNCTIONS(ORTHO_CHECK_SIGNATURE)
#undef ORTHO_CHECK_SIGNATURE
}  // namespace ortho_real_abi

// Our types must be ABI-identical to the real ones.
namespace L = ortho::cudalib;
static_assert(std::is_same<L::cublasHandle_t, ::cublasHandle_t>::value, "cublasHandle_t");
static_assert(std::is_same<L::cusolverDnHandle_t, ::cusolverDnHandle_t>::value, "cusolverDnHandle_t");
static_assert(std::is_same<L::gesvdjInfo_t, ::gesvdjInfo_t>::value, "gesvdjInfo_t");
static_assert(std::is_same<L::cusolverDnParams_t, ::cusolverDnParams_t>::value, "cusolverDnParams_t");
#define ORTHO_CHECK_ENUM_SIZE(ours, real) \
  static_assert(sizeof(L::ours) == sizeof(::real) && alignof(L::ours) == alignof(::real), #real " size");
ORTHO_CHECK_ENUM_SIZE(cublasStatus_t, cublasStatus_t)
ORTHO_CHECK_ENUM_SIZE(cublasOperation_t, cublasOperation_t)
ORTHO_CHECK_ENUM_SIZE(cublasFillMode_t, cublasFillMode_t)
ORTHO_CHECK_ENUM_SIZE(cublasSideMode_t, cublasSideMode_t)
ORTHO_CHECK_ENUM_SIZE(cublasDiagType_t, cublasDiagType_t)
ORTHO_CHECK_ENUM_SIZE(cublasPointerMode_t, cublasPointerMode_t)
ORTHO_CHECK_ENUM_SIZE(cublasMath_t, cublasMath_t)
ORTHO_CHECK_ENUM_SIZE(cublasComputeType_t, cublasComputeType_t)
ORTHO_CHECK_ENUM_SIZE(cublasGemmAlgo_t, cublasGemmAlgo_t)
ORTHO_CHECK_ENUM_SIZE(cusolverStatus_t, cusolverStatus_t)
ORTHO_CHECK_ENUM_SIZE(cusolverEigMode_t, cusolverEigMode_t)
#undef ORTHO_CHECK_ENUM_SIZE

// Every enumerator we use has the real value.
#define ORTHO_CHECK_VALUE(ours, real) static_assert(static_cast<int>(L::ours) == static_cast<int>(::real), #real);
ORTHO_CHECK_VALUE(cublasStatus_t::SUCCESS, CUBLAS_STATUS_SUCCESS)
ORTHO_CHECK_VALUE(cublasStatus_t::NOT_INITIALIZED, CUBLAS_STATUS_NOT_INITIALIZED)
ORTHO_CHECK_VALUE(cublasStatus_t::ALLOC_FAILED, CUBLAS_STATUS_ALLOC_FAILED)
ORTHO_CHECK_VALUE(cublasStatus_t::INVALID_VALUE, CUBLAS_STATUS_INVALID_VALUE)
ORTHO_CHECK_VALUE(cublasStatus_t::ARCH_MISMATCH, CUBLAS_STATUS_ARCH_MISMATCH)
ORTHO_CHECK_VALUE(cublasStatus_t::MAPPING_ERROR, CUBLAS_STATUS_MAPPING_ERROR)
ORTHO_CHECK_VALUE(cublasStatus_t::EXECUTION_FAILED, CUBLAS_STATUS_EXECUTION_FAILED)
ORTHO_CHECK_VALUE(cublasStatus_t::INTERNAL_ERROR, CUBLAS_STATUS_INTERNAL_ERROR)
ORTHO_CHECK_VALUE(cublasStatus_t::NOT_SUPPORTED, CUBLAS_STATUS_NOT_SUPPORTED)
ORTHO_CHECK_VALUE(cublasStatus_t::LICENSE_ERROR, CUBLAS_STATUS_LICENSE_ERROR)
ORTHO_CHECK_VALUE(cublasOperation_t::N, CUBLAS_OP_N)
ORTHO_CHECK_VALUE(cublasOperation_t::T, CUBLAS_OP_T)
ORTHO_CHECK_VALUE(cublasFillMode_t::LOWER, CUBLAS_FILL_MODE_LOWER)
ORTHO_CHECK_VALUE(cublasFillMode_t::UPPER, CUBLAS_FILL_MODE_UPPER)
ORTHO_CHECK_VALUE(cublasSideMode_t::LEFT, CUBLAS_SIDE_LEFT)
ORTHO_CHECK_VALUE(cublasSideMode_t::RIGHT, CUBLAS_SIDE_RIGHT)
ORTHO_CHECK_VALUE(cublasDiagType_t::NON_UNIT, CUBLAS_DIAG_NON_UNIT)
ORTHO_CHECK_VALUE(cublasDiagType_t::UNIT, CUBLAS_DIAG_UNIT)
ORTHO_CHECK_VALUE(cublasPointerMode_t::HOST, CUBLAS_POINTER_MODE_HOST)
ORTHO_CHECK_VALUE(cublasPointerMode_t::DEVICE, CUBLAS_POINTER_MODE_DEVICE)
ORTHO_CHECK_VALUE(cublasMath_t::DEFAULT, CUBLAS_DEFAULT_MATH)
ORTHO_CHECK_VALUE(cublasMath_t::PEDANTIC, CUBLAS_PEDANTIC_MATH)
ORTHO_CHECK_VALUE(cublasMath_t::TF32_TENSOR_OP, CUBLAS_TF32_TENSOR_OP_MATH)
ORTHO_CHECK_VALUE(cublasComputeType_t::COMPUTE_32F, CUBLAS_COMPUTE_32F)
ORTHO_CHECK_VALUE(cublasComputeType_t::COMPUTE_32F_FAST_TF32, CUBLAS_COMPUTE_32F_FAST_TF32)
ORTHO_CHECK_VALUE(cublasGemmAlgo_t::DEFAULT, CUBLAS_GEMM_DEFAULT)
ORTHO_CHECK_VALUE(cusolverStatus_t::SUCCESS, CUSOLVER_STATUS_SUCCESS)
ORTHO_CHECK_VALUE(cusolverStatus_t::NOT_INITIALIZED, CUSOLVER_STATUS_NOT_INITIALIZED)
ORTHO_CHECK_VALUE(cusolverStatus_t::ALLOC_FAILED, CUSOLVER_STATUS_ALLOC_FAILED)
ORTHO_CHECK_VALUE(cusolverStatus_t::INVALID_VALUE, CUSOLVER_STATUS_INVALID_VALUE)
ORTHO_CHECK_VALUE(cusolverStatus_t::ARCH_MISMATCH, CUSOLVER_STATUS_ARCH_MISMATCH)
ORTHO_CHECK_VALUE(cusolverStatus_t::MAPPING_ERROR, CUSOLVER_STATUS_MAPPING_ERROR)
ORTHO_CHECK_VALUE(cusolverStatus_t::EXECUTION_FAILED, CUSOLVER_STATUS_EXECUTION_FAILED)
ORTHO_CHECK_VALUE(cusolverStatus_t::INTERNAL_ERROR, CUSOLVER_STATUS_INTERNAL_ERROR)
ORTHO_CHECK_VALUE(cusolverStatus_t::MATRIX_TYPE_NOT_SUPPORTED, CUSOLVER_STATUS_MATRIX_TYPE_NOT_SUPPORTED)
ORTHO_CHECK_VALUE(cusolverStatus_t::NOT_SUPPORTED, CUSOLVER_STATUS_NOT_SUPPORTED)
ORTHO_CHECK_VALUE(cusolverStatus_t::ZERO_PIVOT, CUSOLVER_STATUS_ZERO_PIVOT)
ORTHO_CHECK_VALUE(cusolverStatus_t::INVALID_LICENSE, CUSOLVER_STATUS_INVALID_LICENSE)
ORTHO_CHECK_VALUE(cusolverEigMode_t::NOVECTOR, CUSOLVER_EIG_MODE_NOVECTOR)
ORTHO_CHECK_VALUE(cusolverEigMode_t::VECTOR, CUSOLVER_EIG_MODE_VECTOR)
#undef ORTHO_CHECK_VALUE
