// layers/parameter_layer.cpp
#include "layers/parameter_layer.h"

namespace pycolorize {

void ParameterLayer::layer_setup(const Blobs& bottom, const Blobs& top) {
  PYC_CHECK(param_.has("parameter_param"), where(), ": needs parameter_param { shape { dim: ... } }");
  blobs_.push_back(std::make_shared<Blob>(param_.msg("parameter_param").msg("shape").ints("dim")));
}

void ParameterLayer::reshape(const Blobs& bottom, const Blobs& top) {
  top[0]->reshape_like(*blobs_[0]);
  top[0]->share_data(*blobs_[0]);
  top[0]->share_diff(*blobs_[0]);
}

REGISTER_LAYER("Parameter", ParameterLayer);

}  // namespace pycolorize
