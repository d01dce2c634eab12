// layers/reshape_layer.cpp: Caffe's ReshapeLayer, including axis/num_axes and 0/-1 dims.
#include "layers/reshape_layer.h"

namespace pycolorize {

void ReshapeLayer::reshape(const Blobs& bottom, const Blobs& top) {
  const proto::Message& rp = param_.msg("reshape_param");
  const std::vector<int> dims = rp.msg("shape").ints("dim");
  const Blob& b = *bottom[0];
  const int nb = b.num_axes();
  const int axis_in = rp.get_int("axis");
  const int start = axis_in >= 0 ? axis_in : nb + axis_in + 1;
  PYC_CHECK(start >= 0 && start <= nb, where(), ": axis ", axis_in, " out of range for bottom ", b.shape_string());
  const int num_axes = rp.get_int("num_axes");
  PYC_CHECK(num_axes >= -1, where(), ": num_axes must be >= -1");
  const int end = num_axes == -1 ? nb : start + num_axes;
  PYC_CHECK(end <= nb, where(), ": axis + num_axes = ", end, " exceeds the bottom's ", nb, " axes ", b.shape_string());
  std::vector<int> shape;
  for (int i = 0; i < start; ++i) shape.push_back(b.shape(i));
  int inferred = -1;
  int64_t explicit_count = 1;
  for (int i = 0; i < (int)dims.size(); ++i) {
    int d = dims[i];
    if (d == 0) {
      PYC_CHECK(start + i < nb, where(), ": dim ", i, " is 0 (copy) but the bottom ", b.shape_string(), " has no axis ", start + i);
      d = b.shape(start + i);
    } else if (d == -1) {
      PYC_CHECK(inferred < 0, where(), ": the new shape has more than one -1 dim");
      inferred = static_cast<int>(shape.size());
    } else {
      PYC_CHECK(d > 0, where(), ": invalid dim ", d);
    }
    if (d != -1) explicit_count *= d;
    shape.push_back(d);
  }
  for (int i = end; i < nb; ++i) shape.push_back(b.shape(i));
  explicit_count *= b.count(0, start) * b.count(end);
  if (inferred >= 0) {
    PYC_CHECK(explicit_count > 0 && b.count() % explicit_count == 0, where(), ": cannot infer the -1 dim: bottom ",
              b.shape_string(), " has ", b.count(), " elements, not a multiple of ", explicit_count);
    shape[inferred] = static_cast<int>(b.count() / explicit_count);
  }
  top[0]->reshape(shape);
  PYC_CHECK(top[0]->count() == b.count(), where(), ": bottom ", b.shape_string(), " (", b.count(), " elements) cannot be reshaped to ",
            top[0]->shape_string(), " (", top[0]->count(), ")");
  top[0]->share_data(b);
  top[0]->share_diff(b);
}

void ReshapeLayer::forward_cpu(const Blobs&, const Blobs&) {}
void ReshapeLayer::backward_cpu(const Blobs&, const std::vector<bool>&, const Blobs&) {}

REGISTER_LAYER("Reshape", ReshapeLayer);

}  // namespace pycolorize
