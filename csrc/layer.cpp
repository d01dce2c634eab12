// layer.cpp
#include "layer.h"

#include "util/blas.h"

namespace pycolorize {

std::string Layer::where() const { return str("layer '", name_, "' (", type(), ", ", param_.loc.str(), ")"); }

void Layer::set_param_propagate_down(int i, bool v) {
  if (static_cast<int>(param_propagate_down_.size()) <= i) param_propagate_down_.resize(i + 1, true);
  param_propagate_down_[i] = v;
}

void Layer::setup(const Blobs& bottom, const Blobs& top) {
  const int nb = static_cast<int>(bottom.size()), nt = static_cast<int>(top.size());
  PYC_CHECK(exact_bottoms() < 0 || nb == exact_bottoms(), where(), " takes ", exact_bottoms(), " bottom blob(s), got ", nb);
  PYC_CHECK(min_bottoms() < 0 || nb >= min_bottoms(), where(), " takes at least ", min_bottoms(), " bottom blob(s), got ", nb);
  PYC_CHECK(max_bottoms() < 0 || nb <= max_bottoms(), where(), " takes at most ", max_bottoms(), " bottom blob(s), got ", nb);
  PYC_CHECK(exact_tops() < 0 || nt == exact_tops(), where(), " produces ", exact_tops(), " top blob(s), got ", nt);
  PYC_CHECK(min_tops() < 0 || nt >= min_tops(), where(), " produces at least ", min_tops(), " top blob(s), got ", nt);
  PYC_CHECK(!equal_bottom_top_count() || nb == nt, where(), " needs as many tops as bottoms, got ", nb, " and ", nt);
  layer_setup(bottom, top);
  reshape(bottom, top);
  param_propagate_down_.resize(blobs_.size(), true);
  // Loss weights: the top's diff holds its weight, so forward's loss is dot(data, diff) and the
  // backward pass starts from that diff (as in Caffe).
  std::vector<float> weights = param_.floats("loss_weight");
  if (weights.empty() && is_loss()) weights.push_back(1.f);  // Caffe's LossLayer default
  if (is_loss()) weights.resize(nt, 0.f);
  PYC_CHECK(weights.empty() || (int)weights.size() == nt, where(), " has ", weights.size(), " loss_weight value(s) for ", nt, " top(s)");
  loss_.assign(nt, 0.f);
  for (int i = 0; i < (int)weights.size(); ++i) {
    loss_[i] = weights[i];
    if (weights[i] != 0.f) blas::set(top[i]->count(), weights[i], top[i]->mutable_cpu_diff());
  }
}

float Layer::forward(const Blobs& bottom, const Blobs& top) {
  reshape(bottom, top);
  if (Runtime::mode() == Mode::GPU)
    forward_gpu(bottom, top);
  else
    forward_cpu(bottom, top);
  double loss = 0;
  for (size_t i = 0; i < top.size(); ++i)
    if (loss_[i] != 0.f) loss += blas::dot(top[i]->count(), top[i]->cpu_data(), top[i]->cpu_diff());
  return static_cast<float>(loss);
}

void Layer::backward(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) {
  if (Runtime::mode() == Mode::GPU)
    backward_gpu(top, propagate_down, bottom);
  else
    backward_cpu(top, propagate_down, bottom);
}

std::map<std::string, LayerCreator>& LayerRegistry::creators() {
  static std::map<std::string, LayerCreator> m;
  return m;
}

std::vector<std::string> LayerRegistry::types() {
  std::vector<std::string> v;
  for (const auto& kv : creators()) v.push_back(kv.first);
  return v;
}

std::unique_ptr<Layer> LayerRegistry::create(const proto::Message& param, Phase phase) {
  const std::string type = param.get_string("type");
  auto it = creators().find(type);
  if (it == creators().end()) {
    std::string known;
    for (const auto& t : types()) known += (known.empty() ? "" : ", ") + t;
    throw Error(str(param.loc.str(), ": layer '", param.get_string("name"), "': unknown type '", type,
                    "'; known types: ", known));
  }
  return it->second(param, phase);
}

}  // namespace pycolorize
