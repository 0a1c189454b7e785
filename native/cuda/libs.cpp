// Run-time loading of cuBLAS and cuSOLVER.
//
// Search order for each library file (first hit wins), modelled on NVIDIA's
// cuda-pathfinder:
//   1. already in the process (dlopen RTLD_NOLOAD), e.g. loaded by PyTorch;
//   2. $ORTHO_CUDA_LIB_DIR/<file> (a folder the user names);
//   3. the plain soname (LD_LIBRARY_PATH, ldconfig cache, RUNPATH);
//   4. $CUDA_HOME, $CUDA_PATH, /usr/local/cuda: lib64/ and targets/*/lib/;
//   5. pip wheel folders under every site-packages we can find
//      (nvidia/cu13/lib for CUDA 13 wheels; nvidia/{cublas,cusolver,
//      cusparse,nvjitlink}/lib for CUDA 12 wheels), and conda's lib/.
// CUDA 13 sonames first (cuBLAS .13 with cuSOLVER .12), then CUDA 12
// (cuBLAS .12 with cuSOLVER .11). Majors are mapped explicitly: cuSOLVER's
// major is not CUDA's. Dependencies are loaded first with RTLD_GLOBAL so
// cuSOLVER's DT_NEEDED entries resolve to them even across wheel folders.
#include "libs.h"

#include <dlfcn.h>
#include <glob.h>
#include <link.h>
#include <unistd.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <sstream>

namespace ortho::cudalib {
namespace {

struct Flavor {
  const char* cuda;  // "13" or "12", for messages
  // Load order: dependencies first.
  std::vector<std::string> files;
  std::string cublas, cusolver;
};

std::vector<Flavor> flavors() {
  return {
      {"13",
       {"libcublasLt.so.13", "libcublas.so.13", "libnvJitLink.so.13", "libcusparse.so.12", "libcusolver.so.12"},
       "libcublas.so.13",
       "libcusolver.so.12"},
      {"12",
       {"libcublasLt.so.12", "libcublas.so.12", "libnvJitLink.so.12", "libcusparse.so.12", "libcusolver.so.11"},
       "libcublas.so.12",
       "libcusolver.so.11"},
  };
}

bool isFile(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

void globInto(const std::string& pattern, std::vector<std::string>& out) {
  glob_t g{};
  if (::glob(pattern.c_str(), GLOB_NOSORT, nullptr, &g) == 0)
    for (std::size_t i = 0; i < g.gl_pathc; ++i) out.emplace_back(g.gl_pathv[i]);
  ::globfree(&g);
}

std::string envOr(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

// site-packages folders: common prefixes first; python3 itself only when
// none of them has an nvidia/ folder (it costs a process start).
std::vector<std::string> sitePackages() {
  std::vector<std::string> dirs;
  std::vector<std::string> prefixes = {"/usr/local/lib", "/usr/lib", "/opt/conda/lib"};
  for (const char* env : {"VIRTUAL_ENV", "CONDA_PREFIX"}) {
    std::string p = envOr(env);
    if (!p.empty()) prefixes.insert(prefixes.begin(), p + "/lib");
  }
  std::string home = envOr("HOME");
  if (!home.empty()) prefixes.push_back(home + "/.local/lib");
  for (const std::string& pre : prefixes) {
    globInto(pre + "/python3*/site-packages", dirs);
    globInto(pre + "/python3*/dist-packages", dirs);
  }
  globInto("/usr/lib/python3/dist-packages", dirs);
  bool any = false;
  for (const std::string& d : dirs) any = any || ::access((d + "/nvidia").c_str(), F_OK) == 0;
  if (!any) {
    // Last resort: ask the interpreter (a venv or a prefix we did not guess).
    if (FILE* f = ::popen(
            "python3 -c \"import site,sys; print('\\n'.join(site.getsitepackages()+[site.getusersitepackages()]))\" "
            "2>/dev/null",
            "r")) {
      char line[4096];
      while (std::fgets(line, sizeof line, f)) {
        std::string s(line);
        while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
        if (!s.empty()) dirs.push_back(s);
      }
      ::pclose(f);
    }
  }
  return dirs;
}

// Folders to try, in order, after the loader's own search (step 3).
std::vector<std::string> candidateDirs() {
  std::vector<std::string> dirs;
  for (const char* env : {"CUDA_HOME", "CUDA_PATH"}) {
    std::string p = envOr(env);
    if (p.empty()) continue;
    dirs.push_back(p + "/lib64");
    dirs.push_back(p + "/lib");
    globInto(p + "/targets/*/lib", dirs);
  }
  dirs.push_back("/usr/local/cuda/lib64");
  globInto("/usr/local/cuda/targets/*/lib", dirs);
  globInto("/usr/local/cuda-1[23]*/lib64", dirs);
  for (const std::string& sp : sitePackages()) {
    dirs.push_back(sp + "/nvidia/cu13/lib");
    for (const char* lib : {"cublas", "cusolver", "cusparse", "nvjitlink"}) dirs.push_back(sp + "/nvidia/" + lib + "/lib");
  }
  std::string conda = envOr("CONDA_PREFIX");
  if (!conda.empty()) dirs.push_back(conda + "/lib");
  return dirs;
}

const char* dlerr() {
  const char* e = ::dlerror();
  return e ? e : "unknown dlopen error";
}

// Opens one library file by the search order above. On failure, appends
// what was tried to `why`.
void* openLibrary(const std::string& file, const std::vector<std::string>& dirs, std::string& why) {
  const int flags = RTLD_NOW | RTLD_GLOBAL;
  if (void* h = ::dlopen(file.c_str(), flags | RTLD_NOLOAD)) return h;
  std::ostringstream tried;
  std::string userDir = envOr("ORTHO_CUDA_LIB_DIR");
  if (!userDir.empty()) {
    std::string p = userDir + "/" + file;
    if (isFile(p)) {
      if (void* h = ::dlopen(p.c_str(), flags)) return h;
      tried << "; " << p << ": " << dlerr();
    } else {
      tried << "; " << p << " (ORTHO_CUDA_LIB_DIR): no such file";
    }
  }
  if (void* h = ::dlopen(file.c_str(), flags)) return h;
  tried << "; dlopen(\"" << file << "\"): " << dlerr();
  int missing = 0;
  for (const std::string& d : dirs) {
    std::string p = d + "/" + file;
    if (!isFile(p)) {
      ++missing;
      continue;
    }
    if (void* h = ::dlopen(p.c_str(), flags)) return h;
    tried << "; " << p << ": " << dlerr();
  }
  if (missing) tried << "; not in " << missing << " other folders (CUDA_HOME, CUDA_PATH, /usr/local/cuda, pip wheels)";
  why += file + " not loadable (" + tried.str().substr(2) + ")";
  return nullptr;
}

// The file a dlopen handle refers to (resolved by the dynamic linker).
std::string handlePath(void* handle, const std::string& fallback) {
  struct link_map* lm = nullptr;
  if (::dlinfo(handle, RTLD_DI_LINKMAP, &lm) == 0 && lm && lm->l_name && lm->l_name[0]) return lm->l_name;
  return fallback;
}

template <typename Fn>
bool resolve(void* handle, const char* name, Fn& fn, std::string& why) {
  ::dlerror();
  void* p = ::dlsym(handle, name);
  if (!p) {
    why += std::string("symbol ") + name + " missing (" + dlerr() + ")";
    return false;
  }
  fn = reinterpret_cast<Fn>(p);
  return true;
}

// Tries one flavor; fills `out` on success.
bool tryFlavor(const Flavor& f, const std::vector<std::string>& dirs, LoadResult& out, std::string& why) {
  void* cublas = nullptr;
  void* cusolver = nullptr;
  std::vector<void*> handles;
  for (const std::string& file : f.files) {
    std::string w;
    void* h = openLibrary(file, dirs, w);
    if (!h) {
      why = w;
      for (void* x : handles) ::dlclose(x);
      return false;
    }
    handles.push_back(h);
    if (file == f.cublas) cublas = h;
    if (file == f.cusolver) cusolver = h;
  }
  Api api;
  std::string w;
  bool ok = true;
#define ORTHO_RESOLVE_CUBLAS(name, ret, params) ok = ok && resolve(cublas, #name, api.name, w);
#define ORTHO_RESOLVE_CUSOLVER(name, ret, params) ok = ok && resolve(cusolver, #name, api.name, w);
  ORTHO_CUBLAS_FUNCTIONS(ORTHO_RESOLVE_CUBLAS)
  ORTHO_CUSOLVER_FUNCTIONS(ORTHO_RESOLVE_CUSOLVER)
#undef ORTHO_RESOLVE_CUBLAS
#undef ORTHO_RESOLVE_CUSOLVER
  if (!ok) {
    why = w + " (" + handlePath(cublas, f.cublas) + ", " + handlePath(cusolver, f.cusolver) + ")";
    for (void* x : handles) ::dlclose(x);
    return false;
  }
  // Version checks: a .so.13 that is not cuBLAS 13 would be a broken install.
  int bmaj = 0, bmin = 0, bpat = 0, smaj = 0, smin = 0, spat = 0;
  api.cublasGetProperty(MAJOR_VERSION, &bmaj);
  api.cublasGetProperty(MINOR_VERSION, &bmin);
  api.cublasGetProperty(PATCH_LEVEL, &bpat);
  api.cusolverGetProperty(MAJOR_VERSION, &smaj);
  api.cusolverGetProperty(MINOR_VERSION, &smin);
  api.cusolverGetProperty(PATCH_LEVEL, &spat);
  std::ostringstream v;
  v << "cuBLAS " << bmaj << '.' << bmin << '.' << bpat << ", cuSOLVER " << smaj << '.' << smin << '.' << spat
    << " (CUDA " << f.cuda << " libraries)";
  out.versions = v.str();
  out.api = api;
  for (std::size_t i = 0; i < handles.size(); ++i) out.files.push_back(handlePath(handles[i], f.files[i]));
  return true;
}

LoadResult loadOnce() {
  LoadResult r;
  const std::vector<std::string> dirs = candidateDirs();
  std::string reasons;
  for (const Flavor& f : flavors()) {
    std::string why;
    if (tryFlavor(f, dirs, r, why)) {
      r.ok = true;
      return r;
    }
    reasons += (reasons.empty() ? "" : "; then ") + std::string("CUDA ") + f.cuda + " libraries: " + why;
  }
  r.reason = "cuBLAS/cuSOLVER could not be loaded: " + reasons +
             ". Install the CUDA 13 libraries (e.g. pip install nvidia-cublas nvidia-cusolver, or the CUDA toolkit) "
             "or set ORTHO_CUDA_LIB_DIR to the folder that holds libcublas.so.13 and libcusolver.so.12";
  return r;
}

}  // namespace

const LoadResult& load() {
  static std::once_flag once;
  static LoadResult* result = nullptr;
  // Why leaked: the handles must outlive every static destructor that could
  // still call into the libraries at exit.
  std::call_once(once, [] { result = new LoadResult(loadOnce()); });
  return *result;
}

std::string statusName(cublasStatus_t s) {
  const char* n = "CUBLAS_STATUS_UNKNOWN";
  switch (s) {
    case cublasStatus_t::SUCCESS: n = "CUBLAS_STATUS_SUCCESS"; break;
    case cublasStatus_t::NOT_INITIALIZED: n = "CUBLAS_STATUS_NOT_INITIALIZED"; break;
    case cublasStatus_t::ALLOC_FAILED: n = "CUBLAS_STATUS_ALLOC_FAILED"; break;
    case cublasStatus_t::INVALID_VALUE: n = "CUBLAS_STATUS_INVALID_VALUE"; break;
    case cublasStatus_t::ARCH_MISMATCH: n = "CUBLAS_STATUS_ARCH_MISMATCH"; break;
    case cublasStatus_t::MAPPING_ERROR: n = "CUBLAS_STATUS_MAPPING_ERROR"; break;
    case cublasStatus_t::EXECUTION_FAILED: n = "CUBLAS_STATUS_EXECUTION_FAILED"; break;
    case cublasStatus_t::INTERNAL_ERROR: n = "CUBLAS_STATUS_INTERNAL_ERROR"; break;
    case cublasStatus_t::NOT_SUPPORTED: n = "CUBLAS_STATUS_NOT_SUPPORTED"; break;
    case cublasStatus_t::LICENSE_ERROR: n = "CUBLAS_STATUS_LICENSE_ERROR"; break;
  }
  return std::string(n) + " (" + std::to_string(static_cast<int>(s)) + ")";
}

std::string statusName(cusolverStatus_t s) {
  const char* n = "CUSOLVER_STATUS_UNKNOWN";
  switch (s) {
    case cusolverStatus_t::SUCCESS: n = "CUSOLVER_STATUS_SUCCESS"; break;
    case cusolverStatus_t::NOT_INITIALIZED: n = "CUSOLVER_STATUS_NOT_INITIALIZED"; break;
    case cusolverStatus_t::ALLOC_FAILED: n = "CUSOLVER_STATUS_ALLOC_FAILED"; break;
    case cusolverStatus_t::INVALID_VALUE: n = "CUSOLVER_STATUS_INVALID_VALUE"; break;
    case cusolverStatus_t::ARCH_MISMATCH: n = "CUSOLVER_STATUS_ARCH_MISMATCH"; break;
    case cusolverStatus_t::MAPPING_ERROR: n = "CUSOLVER_STATUS_MAPPING_ERROR"; break;
    case cusolverStatus_t::EXECUTION_FAILED: n = "CUSOLVER_STATUS_EXECUTION_FAILED"; break;
    case cusolverStatus_t::INTERNAL_ERROR: n = "CUSOLVER_STATUS_INTERNAL_ERROR"; break;
    case cusolverStatus_t::MATRIX_TYPE_NOT_SUPPORTED: n = "CUSOLVER_STATUS_MATRIX_TYPE_NOT_SUPPORTED"; break;
    case cusolverStatus_t::NOT_SUPPORTED: n = "CUSOLVER_STATUS_NOT_SUPPORTED"; break;
    case cusolverStatus_t::ZERO_PIVOT: n = "CUSOLVER_STATUS_ZERO_PIVOT"; break;
    case cusolverStatus_t::INVALID_LICENSE: n = "CUSOLVER_STATUS_INVALID_LICENSE"; break;
  }
  return std::string(n) + " (" + std::to_string(static_cast<int>(s)) + ")";
}

}  // namespace ortho::cudalib
