// layers/flatten_layer.cpp
#include "layers/flatten_layer.h"

namespace pycolorize {

void FlattenLayer::reshape(const Blobs& bottom, const Blobs& top) {
  const proto::Message& fp = param_.msg("flatten_param");
  const Blob& b = *bottom[0];
  const int a = b.canonical_axis(fp.get_int("axis"));
  const int e = b.canonical_axis(fp.get_int("end_axis"));
  PYC_CHECK(a <= e, where(), ": axis must not come after end_axis");
  std::vector<int> shape;
  for (int i = 0; i < a; ++i) shape.push_back(b.shape(i));
  shape.push_back(static_cast<int>(b.count(a, e + 1)));
  for (int i = e + 1; i < b.num_axes(); ++i) shape.push_back(b.shape(i));
  top[0]->reshape(shape);
  top[0]->share_data(b);
  top[0]->share_diff(b);
}

void FlattenLayer::forward_cpu(const Blobs&, const Blobs&) {}
void FlattenLayer::backward_cpu(const Blobs&, const std::vector<bool>&, const Blobs&) {}

REGISTER_LAYER("Flatten", FlattenLayer);

}  // namespace pycolorize
