// solver.h: SGD with momentum, as Caffe's SGDSolver (solver.cpp + sgd_solver.cpp).
//
// One iteration: zero the parameter diffs; iter_size times (before_forward callback, forward,
// backward), gradients accumulating; then ApplyUpdate: rate = lr_policy(iter); clip the global
// gradient norm (clip_gradients); per learnable blob: diff /= iter_size, diff += weight_decay *
// decay_mult * data (L2; L1 adds the sign), history = momentum * history + rate * lr_mult * diff,
// diff = history, data -= diff; iter += 1. With N ranks (set_gradient_sync) the diffs are summed
// across ranks first and the norm is 1 / (N iter_size). The state needed to resume exactly is iter,
// current_step (multistep) and the history blobs (plus the Dropout generator, kept by Runtime).
// Snapshots (files) are written by the Python side (pycolorize/solver.py), with h5py.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "net.h"
#include "parallel/parallel.h"
#include "proto/message.h"

namespace pycolorize {

class Solver {
 public:
  // `param` is a validated SolverParameter; `net` its training net.
  Solver(const proto::Message& param, std::shared_ptr<Net> net);
  // Parses and validates a solver prototxt: the schema, then check().
  static proto::Message parse(const std::string& text, const std::string& filename);
  // Throws an Error naming the file and the field for a value pycolorize does not implement (a
  // solver type other than SGD, an unknown lr_policy, snapshot_format BINARYPROTO) or that Caffe
  // refuses (net and train_net both, a policy's missing parameter, average_loss < 1, ...).
  static void check(const proto::Message& param);

  // Runs `iters` iterations; `before_forward` (may be empty) runs before every forward pass, so a
  // caller can feed a fresh batch to each of the iter_size passes. Returns the last iteration's
  // loss (averaged over iter_size).
  float step(int iters, const std::function<void()>& before_forward = {});
  // The rate the next update applies (a multistep boundary at the current iteration included).
  float learning_rate() const;

  int iter() const { return iter_; }
  void set_iter(int iter);
  int current_step() const { return current_step_; }
  void set_current_step(int s) { current_step_ = s; }
  const std::shared_ptr<Net>& net() const { return net_; }
  // One history blob per learnable (non-shared) parameter, in net order.
  const std::vector<std::shared_ptr<Blob>>& history() const { return history_; }
  const std::vector<int>& learnable() const { return learnable_; }
  const proto::Message& param() const { return param_; }

  // Data-parallel training (parallel/parallel.h): the last backward pass of each iteration runs
  // layer by layer, handing each layer's finished gradients to `sync`, and the update divides by
  // world_size * iter_size and waits for each parameter's sum before updating it. Null: one process.
  void set_gradient_sync(std::shared_ptr<GradientSync> sync);
  // For each layer, the learnable parameters (lr_mult != 0, owners; indices into net().params())
  // whose gradient is final once that layer's backward pass has run: a shared parameter's after
  // the lowest layer that uses it.
  const std::vector<std::vector<int>>& reduce_after_layer() const { return reduce_after_; }

 private:
  void apply_update();
  void backward_reducing();  // the last backward pass of an iteration with a GradientSync
  void clip_gradients();
  float rate(int step) const;  // the policy's rate at iter_, with `step` multistep decays
  bool multistep_due() const;  // a multistep boundary is reached at iter_ (Caffe advances by one)

  proto::Message param_;
  std::shared_ptr<Net> net_;
  std::vector<int> learnable_;  // indices into net_->params() of the owners
  std::vector<std::shared_ptr<Blob>> history_;
  int iter_ = 0;
  int current_step_ = 0;
  std::string policy_;
  std::shared_ptr<GradientSync> sync_;
  std::vector<std::vector<int>> reduce_after_;
};

// The update of one blob (solver.cpp on the CPU, solver.cu on the GPU): with g = diff * norm +
// decay * (L1 ? sign(data) : data), history = momentum * history + rate * g, diff = history,
// data -= history.
void sgd_update_cpu(int64_t n, float* data, float* diff, float* history, float norm, float decay, bool l1,
                    float momentum, float rate);
// Element j of that update, shared by the CPU loop and the kernel: the same float operations, in
// the same order, as Caffe's Normalize, Regularize, ComputeUpdateValue and Net::Update.
PYC_HOST_DEVICE void sgd_update_element(int64_t j, float* data, float* diff, float* history, float norm, float decay,
                                        bool l1, float momentum, float rate) {
  float g = norm == 1.f ? diff[j] : diff[j] * norm;
  if (decay != 0.f) g += decay * (l1 ? static_cast<float>((data[j] > 0) - (data[j] < 0)) : data[j]);
  const float v = rate * g + momentum * history[j];
  history[j] = v;
  diff[j] = v;
  data[j] -= v;
}
void sgd_update_gpu(int64_t n, float* data, float* diff, float* history, float norm, float decay, bool l1,
                    float momentum, float rate);

}  // namespace pycolorize
