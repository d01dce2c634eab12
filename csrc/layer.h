// layer.h: the Layer base class and the registry of layer types by Caffe type name.
//
// A layer reads its `bottom` blobs and writes its `top` blobs. Caffe's gradient rule holds
// throughout: parameter diffs accumulate (+=) and the solver zeroes them; bottom diffs are
// overwritten (=); a blob consumed twice goes through a Split layer, which sums the gradients.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "blob.h"
#include "common.h"
#include "proto/message.h"

namespace pycolorize {

using Blobs = std::vector<Blob*>;

class Layer {
 public:
  Layer(const proto::Message& param, Phase phase) : param_(param), phase_(phase) {}
  virtual ~Layer() = default;

  // Checks the bottom/top counts, runs layer_setup and reshape, and sets the loss weights.
  void setup(const Blobs& bottom, const Blobs& top);
  // Reshapes, runs the forward pass on the current mode's device and returns this layer's loss.
  float forward(const Blobs& bottom, const Blobs& top);
  void backward(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom);

  virtual void reshape(const Blobs& bottom, const Blobs& top) = 0;
  virtual const char* type() const = 0;

  // Blob-count rules (-1 = no rule), checked by setup().
  virtual int exact_bottoms() const { return -1; }
  virtual int min_bottoms() const { return -1; }
  virtual int max_bottoms() const { return -1; }
  virtual int exact_tops() const { return -1; }
  virtual int min_tops() const { return -1; }
  virtual bool equal_bottom_top_count() const { return false; }
  // Whether force_backward may compute a gradient for this bottom (false for labels).
  virtual bool allow_force_backward(int bottom) const { return true; }
  // Loss layers put a default loss_weight of 1 on their first top.
  virtual bool is_loss() const { return false; }
  // Layers whose blobs are statistics, not weights (BatchNorm): lr_mult defaults to 0.
  virtual bool frozen_params() const { return false; }

  const std::string& name() const { return name_; }
  const proto::Message& param() const { return param_; }
  Phase phase() const { return phase_; }
  std::vector<std::shared_ptr<Blob>>& blobs() { return blobs_; }
  float loss(int top) const { return top < static_cast<int>(loss_.size()) ? loss_[top] : 0.f; }
  bool param_propagate_down(int i) const { return i < (int)param_propagate_down_.size() && param_propagate_down_[i]; }
  void set_param_propagate_down(int i, bool v);

 protected:
  virtual void layer_setup(const Blobs& bottom, const Blobs& top) {}
  virtual void forward_cpu(const Blobs& bottom, const Blobs& top) = 0;
  virtual void backward_cpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) = 0;
  // Until a layer has its CUDA kernels, the GPU mode runs its CPU code (the blobs sync themselves).
  virtual void forward_gpu(const Blobs& bottom, const Blobs& top) { forward_cpu(bottom, top); }
  virtual void backward_gpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) {
    backward_cpu(top, propagate_down, bottom);
  }
  // "layer 'conv1' (Convolution, file:line:col)" for error messages.
  std::string where() const;

  proto::Message param_;
  Phase phase_;
  std::string name_ = param_.get_string("name");
  std::vector<std::shared_ptr<Blob>> blobs_;
  std::vector<bool> param_propagate_down_;
  std::vector<float> loss_;
};

// ---- registry ----------------------------------------------------------------------------------
using LayerCreator = std::function<std::unique_ptr<Layer>(const proto::Message&, Phase)>;

class LayerRegistry {
 public:
  static std::map<std::string, LayerCreator>& creators();
  static std::unique_ptr<Layer> create(const proto::Message& param, Phase phase);
  static std::vector<std::string> types();
};

struct LayerRegisterer {
  LayerRegisterer(const std::string& type, LayerCreator creator) { LayerRegistry::creators()[type] = std::move(creator); }
};

// Declares forward_gpu/backward_gpu in a layer class whose CUDA twin (x_layer.cu) defines them.
#ifdef USE_CUDA
#define PYC_GPU_METHODS                                                   \
  void forward_gpu(const Blobs& bottom, const Blobs& top) override;       \
  void backward_gpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) override;
#else
#define PYC_GPU_METHODS
#endif

// One visible line per type, in the layer's .cpp: REGISTER_LAYER("ReLU", ReLULayer);
#define REGISTER_LAYER(type_name, cls)                                                        \
  static ::pycolorize::LayerRegisterer g_register_##cls(                                     \
      type_name, [](const ::pycolorize::proto::Message& p, ::pycolorize::Phase ph) {         \
        return std::unique_ptr<::pycolorize::Layer>(new cls(p, ph));                         \
      })

}  // namespace pycolorize
