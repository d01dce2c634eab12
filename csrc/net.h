// net.h: a network built from a NetParameter prototxt (Caffe's Net).
//
// Construction: layers are filtered by phase/level/stage (include/exclude rules), legacy `input`
// fields become an Input layer, blobs consumed by several layers get Split layers (which sum their
// gradients on the way back), in-place layers reuse their bottom blob, and each layer is set up in
// order. Which layers and bottoms need a backward pass follows Caffe exactly (loss contribution,
// lr_mult, propagate_down, force_backward). A TEST net built with optimize (the default) then runs
// the hypercolumn projection pass (graph/net_optimize.cpp): the layers it replaces, and their blobs, are
// gone from layers and blobs but listed (removed_layers, removed_blobs), and their parameters stay
// reachable through literal_layers, the layer list as written.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "layer.h"
#include "graph/net_optimize.h"
#include "proto/message.h"

namespace pycolorize {

class Net {
 public:
  // `param` is a validated NetParameter.
  Net(const proto::Message& param, Phase phase, int level = 0, const std::vector<std::string>& stages = {},
      bool optimize = true);
  // Parses and validates prototxt text; `filename` names it in errors.
  static std::unique_ptr<Net> from_text(const std::string& text, const std::string& filename, Phase phase,
                                        int level = 0, const std::vector<std::string>& stages = {},
                                        bool optimize = true);

  float forward() { return forward_from_to(0, num_layers() - 1); }
  float forward_from_to(int start, int end);  // inclusive; returns the summed weighted loss
  void backward() { backward_from_to(num_layers() - 1, 0); }
  void backward_from_to(int start, int end);  // start >= end, inclusive
  void reshape();
  void clear_param_diffs();

  const std::string& name() const { return name_; }
  Phase phase() const { return phase_; }
  int num_layers() const { return static_cast<int>(layers_.size()); }
  Layer& layer(int i) { return *layers_[i]; }
  const std::vector<std::string>& layer_names() const { return layer_names_; }
  const std::vector<std::string>& blob_names() const { return blob_names_; }
  std::shared_ptr<Blob> blob(int i) { return blobs_[i]; }
  int blob_index(const std::string& name) const;  // -1 when absent
  int layer_index(const std::string& name) const;
  const std::vector<int>& input_blob_indices() const { return input_blobs_; }
  const std::vector<int>& output_blob_indices() const { return output_blobs_; }
  const std::vector<int>& bottom_ids(int layer) const { return bottom_ids_[layer]; }
  const std::vector<int>& top_ids(int layer) const { return top_ids_[layer]; }
  bool layer_need_backward(int layer) const { return layer_need_backward_[layer]; }
  const std::vector<bool>& bottom_need_backward(int layer) const { return bottom_need_backward_[layer]; }
  float blob_loss_weight(int blob) const { return blob_loss_weights_[blob]; }

  // All parameter blobs in net order, who owns each (-1 = itself, else the index of the shared
  // owner), and their learning-rate and decay multipliers.
  const std::vector<std::shared_ptr<Blob>>& params() const { return params_; }
  const std::vector<int>& param_owners() const { return param_owners_; }
  const std::vector<float>& params_lr() const { return params_lr_; }
  const std::vector<float>& params_decay() const { return params_decay_; }
  int param_owner(int layer, int i) const { return param_owners_[param_ids_[layer][i]]; }
  // Parameter i of `layer`: its lr_mult and decay_mult (ParamSpec; 1 when not given).
  float param_lr_mult(int layer, int i) const { return params_lr_[param_ids_[layer][i]]; }
  float param_decay_mult(int layer, int i) const { return params_decay_[param_ids_[layer][i]]; }

  // The projection pass (empty lists when it did not apply). A literal layer: its name, type,
  // parameter blobs (shared with the layers that run) and each parameter's owner, as param_owner
  // gives them in the literal net.
  struct LiteralLayer {
    std::string name, type;
    std::vector<std::shared_ptr<Blob>> params;
    std::vector<int> owners;
  };
  bool optimized() const { return !literal_.empty(); }
  const std::vector<LiteralLayer>& literal_layers() const { return literal_; }
  const std::vector<std::string>& removed_layers() const { return removed_layers_; }
  const std::vector<std::string>& removed_blobs() const { return removed_blobs_; }

  // Memory reuse for a TEST net that only runs forward (graph/net_memory.cpp): the blobs that are neither
  // inputs, outputs, parameters' views nor in `keep` share one host arena, placed by when each is
  // first written and last read, so a blob holds its values only until its last reader has run;
  // and forward runs the layers in an order that lets blobs die early (each layer still after
  // every layer whose blobs it reads or overwrites, so the results are the same). Forward then
  // always starts at the first layer. Off by default; an error for a TRAIN net or one that needs a
  // backward pass. The plan is made at the next CPU forward and again when shapes change (host
  // memory: on the GPU the blobs keep their own device buffers). Once per net.
  void enable_memory_reuse(const std::vector<std::string>& keep = {});
  bool reuse_memory() const { return reuse_; }
  const std::vector<std::string>& reused_blobs() const { return reused_blobs_; }  // the arena's blobs
  size_t arena_bytes() const { return arena_bytes_; }

 private:
  Net(const std::string& name, Phase phase) : name_(name), phase_(phase) {}
  // `reuse`: layer objects with parameters to take by name instead of creating them (set up
  // already: only reshaped).
  void init(const proto::Message& param, std::map<std::string, std::unique_ptr<Layer>>* reuse = nullptr);
  // Rebuilds this (literal) net as `param`, the rewritten layers with splits (graph/net_optimize.cpp).
  void apply_rewrite(const proto::Message& param, const graph::Rewrite& rw);
  void check_equal_kernels();  // before each forward of an optimized net
  // Blob groups sharing one buffer (Split, Reshape, in-place), for memory reuse: each group's blob
  // ids, each blob's group, and whether a group may go into the arena.
  struct MemoryGroups {
    std::vector<std::vector<int>> members;
    std::vector<int> of;
    std::vector<bool> reusable;
  };
  MemoryGroups memory_groups() const;
  std::vector<int> schedule(const MemoryGroups& groups) const;
  void plan_memory();
  void append_param(const proto::Message& layer_param, int layer_id, int param_id);

  std::string name_;
  Phase phase_;
  std::vector<std::unique_ptr<Layer>> layers_;
  std::vector<std::string> layer_names_;
  std::vector<std::shared_ptr<Blob>> blobs_;
  std::vector<std::string> blob_names_;
  std::map<std::string, int> blob_index_, layer_index_;
  std::vector<Blobs> bottom_vecs_, top_vecs_;
  std::vector<std::vector<int>> bottom_ids_, top_ids_, param_ids_;
  std::vector<bool> layer_need_backward_, blob_need_backward_;
  std::vector<std::vector<bool>> bottom_need_backward_;
  std::vector<float> blob_loss_weights_;
  std::vector<int> input_blobs_, output_blobs_;
  std::vector<std::shared_ptr<Blob>> params_;
  std::vector<int> param_owners_;
  std::vector<float> params_lr_, params_decay_;
  std::map<std::string, int> param_names_index_;
  std::vector<LiteralLayer> literal_;
  std::vector<std::string> removed_layers_, removed_blobs_;
  struct EqualKernels {
    std::string kept_name;
    std::shared_ptr<Blob> kept;
    std::string removed_name;
    std::shared_ptr<Blob> removed;
  };
  std::vector<EqualKernels> equal_kernels_;
  bool reuse_ = false;
  std::vector<int> keep_;                    // blob ids kept out of the arena
  std::vector<std::string> reused_blobs_;
  std::vector<int> exec_order_;              // the layers in the order forward runs them
  std::vector<int64_t> planned_counts_;      // every blob's count when the plan was made
  size_t arena_bytes_ = 0;
};

}  // namespace pycolorize
