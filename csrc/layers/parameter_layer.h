// layers/parameter_layer.h: Parameter: a learned blob of parameter_param.shape whose top *is* the
// blob (data and diff shared), as in Caffe. Lets a net learn an input directly.
#pragma once

#include "layer.h"

namespace pycolorize {

class ParameterLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "Parameter"; }
  int exact_bottoms() const override { return 0; }
  int exact_tops() const override { return 1; }
  void reshape(const Blobs& bottom, const Blobs& top) override;

 protected:
  void layer_setup(const Blobs& bottom, const Blobs& top) override;
  void forward_cpu(const Blobs&, const Blobs&) override {}
  void backward_cpu(const Blobs&, const std::vector<bool>&, const Blobs&) override {}
};

}  // namespace pycolorize
