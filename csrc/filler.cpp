// filler.cpp
#include "filler.h"

#include <cmath>
#include <random>

#include "common.h"

namespace pycolorize {

namespace {
const char* const kTypes[] = {"constant", "uniform", "gaussian", "xavier", "msra", "bilinear", nullptr};

// The fan used by xavier/msra: FAN_IN = count/shape(0), FAN_OUT = count/shape(1), AVERAGE = mean.
double fan(const Blob& b, const proto::Message& p) {
  double fan_in = static_cast<double>(b.count()) / b.shape(0);
  double fan_out = b.num_axes() > 1 ? static_cast<double>(b.count()) / b.shape(1) : static_cast<double>(b.count());
  std::string norm = p.get_string("variance_norm");
  if (norm == "FAN_OUT") return fan_out;
  if (norm == "AVERAGE") return (fan_in + fan_out) / 2;
  return fan_in;
}
}  // namespace

const char* const* filler_types() { return kTypes; }

void fill(Blob& blob, const proto::Message& p) {
  const std::string type = p.get_string("type");
  float* d = blob.mutable_cpu_data();
  const int64_t n = blob.count();
  auto& rng = Runtime::rng();
  if (type == "constant") {
    const float v = p.get_float("value");
    for (int64_t i = 0; i < n; ++i) d[i] = v;
  } else if (type == "uniform") {
    std::uniform_real_distribution<float> u(p.get_float("min"), p.get_float("max"));
    for (int64_t i = 0; i < n; ++i) d[i] = u(rng);
  } else if (type == "gaussian") {
    std::normal_distribution<float> g(p.get_float("mean"), p.get_float("std"));
    for (int64_t i = 0; i < n; ++i) d[i] = g(rng);
    const int sparse = p.get_int("sparse");
    if (sparse >= 0) {
      PYC_CHECK(blob.num_axes() >= 1, p.loc.str(), ": sparse gaussian filler needs a blob with an output axis");
      std::bernoulli_distribution keep(static_cast<double>(sparse) / blob.shape(0));
      for (int64_t i = 0; i < n; ++i) d[i] *= keep(rng) ? 1.f : 0.f;
    }
  } else if (type == "xavier") {
    const float scale = static_cast<float>(std::sqrt(3.0 / fan(blob, p)));
    std::uniform_real_distribution<float> u(-scale, scale);
    for (int64_t i = 0; i < n; ++i) d[i] = u(rng);
  } else if (type == "msra") {
    std::normal_distribution<float> g(0.f, static_cast<float>(std::sqrt(2.0 / fan(blob, p))));
    for (int64_t i = 0; i < n; ++i) d[i] = g(rng);
  } else if (type == "bilinear") {
    // Caffe's BilinearFiller: the same kernel for every (in, out) slice, for upsampling by f.
    PYC_CHECK(blob.num_axes() == 4 && blob.shape(2) == blob.shape(3), p.loc.str(),
              ": bilinear filler needs a 4-d blob with square kernels, got ", blob.shape_string());
    const int w = blob.shape(3), h = blob.shape(2);
    const int f = static_cast<int>(std::ceil(w / 2.0));
    const double c = (w - 1) / (2.0 * f);
    for (int64_t i = 0; i < n; ++i) {
      const double x = i % w, y = (i / w) % h;
      d[i] = static_cast<float>((1 - std::fabs(x / f - c)) * (1 - std::fabs(y / f - c)));
    }
  } else {
    std::string known;
    for (const char* const* t = kTypes; *t; ++t) known += std::string(known.empty() ? "" : ", ") + *t;
    throw Error(str(p.loc.str(), ": unknown filler type '", type, "'; known types: ", known));
  }
}

}  // namespace pycolorize
