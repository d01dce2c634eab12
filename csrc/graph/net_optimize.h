// graph/net_optimize.h: the hypercolumn projection pass, a rewrite of a TEST net's layer graph at
// construction into one that computes the same outputs with less arithmetic (graph/net_optimize.cpp
// explains the algebra and the conditions). Net applies it unless built with optimize = false.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "proto/message.h"

namespace pycolorize {

class Net;

namespace graph {

// A parameter of a layer the pass creates that is a literal layer's parameter, not a copy.
struct ParamView {
  std::string layer;   // the new layer
  std::string source;  // the literal layer whose blobs it uses
  std::vector<int> columns;  // not empty: a Projection viewing, for each of its bottoms, the weight
                             // columns of source from this one on (and its bias when `bias`);
                             // empty: blob 0 of source itself (a ResampleAdd's kernel)
  bool bias;
};

struct Rewrite {
  std::vector<proto::Message> layers;  // the rewritten layer list, before split insertion
  std::vector<ParamView> views;
  // (kept, removed) pairs of resampling Deconvolutions whose kernels the rewrite sums before
  // resampling once: their weights must stay equal (Net checks them before each forward).
  std::vector<std::pair<std::string, std::string>> equal_kernels;
  std::vector<std::string> removed_layers;  // the literal layers no longer run
};

// Plans the pass over `layers` (phase-filtered, before split insertion), from which `literal` was
// built (its blob shapes and weights are read). False, and `out` untouched, when nothing matches.
bool plan_hypercolumn_projection(Net& literal, const std::vector<proto::Message>& layers, Rewrite* out);

}  // namespace graph
}  // namespace pycolorize
