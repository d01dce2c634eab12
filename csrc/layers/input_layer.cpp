// layers/input_layer.cpp
#include "layers/input_layer.h"

namespace pycolorize {

void InputLayer::layer_setup(const Blobs& bottom, const Blobs& top) {
  const auto shapes = param_.msg("input_param").msgs("shape");
  PYC_CHECK(shapes.size() == 1 || shapes.size() == top.size(), where(), ": input_param needs one shape for all tops or one per top (",
            top.size(), "), got ", shapes.size());
  for (size_t i = 0; i < top.size(); ++i) top[i]->reshape(shapes[shapes.size() == 1 ? 0 : i]->ints("dim"));
}

void InputLayer::reshape(const Blobs&, const Blobs&) {}  // the tops keep whatever shape they were given
void InputLayer::forward_cpu(const Blobs&, const Blobs&) {}
void InputLayer::backward_cpu(const Blobs&, const std::vector<bool>&, const Blobs&) {}

REGISTER_LAYER("Input", InputLayer);

}  // namespace pycolorize
