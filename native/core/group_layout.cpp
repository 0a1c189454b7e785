// GroupLayout (backend.h): plain arithmetic on shapes, compiled into the
// addon and into each CPU kernel library (native/cpu/kernels/).
#include "backend.h"

namespace ortho {

int64_t GroupLayout::numel() const {
  int64_t n = 1;
  for (int64_t s : sizes) n *= s;
  return n;
}

int64_t GroupLayout::groups() const {
  int64_t n = 1;
  for (std::size_t i = 0; i < sizes.size(); ++i)
    if (!reduce[i]) n *= sizes[i];
  return n;
}

int64_t GroupLayout::groupSize() const {
  int64_t n = 1;
  for (std::size_t i = 0; i < sizes.size(); ++i)
    if (reduce[i]) n *= sizes[i];
  return n;
}

GroupLayout GroupLayout::make(const std::vector<int64_t>& dims, const std::vector<bool>& reduceDims) {
  GroupLayout g;
  for (std::size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] == 1) continue;  // size-1 dims change nothing
    if (!g.sizes.empty() && g.reduce.back() == reduceDims[i]) {
      g.sizes.back() *= dims[i];
    } else {
      g.sizes.push_back(dims[i]);
      g.reduce.push_back(reduceDims[i]);
    }
  }
  if (g.sizes.empty()) {
    g.sizes.push_back(1);
    g.reduce.push_back(true);
  }
  return g;
}

GroupLayout GroupLayout::perMatrix(int64_t batch, int64_t size) {
  return make({batch, size}, {false, true});
}

bool GroupLayout::contiguousGroups() const {
  // [kept..., reduced] or a single reduced run.
  return reduce.back() && (sizes.size() == 1 || (sizes.size() == 2 && !reduce[0]));
}

}  // namespace ortho
