// net.cpp: building the graph (filtering, legacy inputs, split insertion), setting up layers and
// deciding which backward passes run, all following BVLC Caffe's Net::Init.
#include "net.h"

#include <algorithm>
#include <set>
#include <utility>

#include "proto/schema.h"
#include "proto/text_format.h"
#include "util/blas.h"
#include "util/gpu.h"

namespace pycolorize {

using proto::Message;

namespace {

// Blob and allocation errors know shapes and sizes, not layers: an error from layer `name` that does
// not say so already is thrown again behind `prefix` ("file:line:col: layer 'x' (Type)").
[[noreturn]] void rethrow_naming_layer(const Error& e, const std::string& name, const std::string& prefix) {
  const std::string msg = e.what();
  if (msg.find(str("layer '", name, "'")) != std::string::npos) throw e;
  throw Error(str(prefix, ": ", msg));
}

bool state_meets_rule(Phase phase, int level, const std::vector<std::string>& stages, const Message& rule) {
  if (rule.has("phase") && rule.get_int("phase") != static_cast<int>(phase)) return false;
  if (rule.has("min_level") && level < rule.get_int("min_level")) return false;
  if (rule.has("max_level") && level > rule.get_int("max_level")) return false;
  for (const auto& s : rule.strings("stage"))
    if (std::find(stages.begin(), stages.end(), s) == stages.end()) return false;
  for (const auto& s : rule.strings("not_stage"))
    if (std::find(stages.begin(), stages.end(), s) != stages.end()) return false;
  return true;
}

std::vector<Message> filter_layers(const Message& net, Phase phase, int level, const std::vector<std::string>& stages) {
  std::vector<Message> kept;
  for (const Message* lp : net.msgs("layer")) {
    const auto inc = lp->msgs("include"), exc = lp->msgs("exclude");
    PYC_CHECK(inc.empty() || exc.empty(), lp->loc.str(), ": layer '", lp->get_string("name"),
              "': give either include or exclude rules, not both");
    bool included = inc.empty();
    for (const Message* r : exc)
      if (state_meets_rule(phase, level, stages, *r)) included = false;
    for (const Message* r : inc)
      if (state_meets_rule(phase, level, stages, *r)) included = true;
    if (included) kept.push_back(*lp);
  }
  return kept;
}

// Legacy `input: "data" input_shape { ... }` (or input_dim) becomes a leading Input layer.
void upgrade_legacy_inputs(const Message& net, std::vector<Message>& layers) {
  const auto inputs = net.strings("input");
  if (inputs.empty()) return;
  const auto shapes = net.msgs("input_shape");
  const auto dims = net.ints("input_dim");
  PYC_CHECK(shapes.empty() || dims.empty(), net.loc.str(), ": give input_shape or input_dim, not both");
  PYC_CHECK(shapes.size() == inputs.size() || dims.size() == 4 * inputs.size(), net.loc.str(), ": ", inputs.size(),
            " legacy input(s) need as many input_shape entries or 4 input_dim values each");
  Message in;
  in.type = "LayerParameter";
  in.loc = net.loc;
  in.add("name", "input", true);
  in.add("type", "Input", true);
  Message& ip = in.add_msg("input_param", "InputParameter");
  for (size_t i = 0; i < inputs.size(); ++i) {
    in.add("top", inputs[i], true);
    Message& s = ip.add_msg("shape", "BlobShape");
    if (!shapes.empty()) {
      for (int d : shapes[i]->ints("dim")) s.add_number("dim", d);
    } else {
      for (int k = 0; k < 4; ++k) s.add_number("dim", dims[4 * i + k]);
    }
  }
  layers.insert(layers.begin(), in);
}

// Caffe's InsertSplits: a top consumed by more than one bottom (or by a bottom and the loss) is
// routed through a Split layer named "<blob>_<layer>_<top index>_split" with tops "..._split_<k>".
std::vector<Message> insert_splits(const std::vector<Message>& layers) {
  using Idx = std::pair<int, int>;
  std::map<std::string, Idx> last_top;
  std::map<Idx, Idx> bottom_source;
  std::map<Idx, int> consumers;
  std::map<Idx, float> loss_weight;
  std::map<Idx, int> next_split;
  for (int i = 0; i < (int)layers.size(); ++i) {
    const Message& lp = layers[i];
    const auto bottoms = lp.strings("bottom");
    for (int j = 0; j < (int)bottoms.size(); ++j) {
      auto it = last_top.find(bottoms[j]);
      if (it == last_top.end()) {
        std::string known;
        for (const auto& kv : last_top) known += (known.empty() ? "" : ", ") + kv.first;
        throw Error(str(lp.loc.str(), ": layer '", lp.get_string("name"), "': unknown bottom blob '", bottoms[j],
                        "' (bottom ", j, "); blobs produced before it: ", known.empty() ? "none" : known));
      }
      bottom_source[{i, j}] = it->second;
      ++consumers[it->second];
    }
    const auto tops = lp.strings("top");
    for (int j = 0; j < (int)tops.size(); ++j) last_top[tops[j]] = {i, j};
    const auto lw = lp.floats("loss_weight");
    for (int j = 0; j < (int)std::min(lw.size(), tops.size()); ++j) {
      Idx t = last_top[tops[j]];
      loss_weight[t] = lw[j];
      if (lw[j] != 0.f) ++consumers[t];
    }
  }
  std::vector<Message> out;
  for (int i = 0; i < (int)layers.size(); ++i) {
    Message lp = layers[i];
    const std::string lname = lp.get_string("name");
    // rewrite shared bottoms
    int j = 0;
    for (auto& f : lp.fields) {
      if (f.name != "bottom") continue;
      Idx src = bottom_source[{i, j}];
      if (consumers[src] > 1)
        f.text = str(f.text, "_", layers[src.first].get_string("name"), "_", src.second, "_split_", next_split[src]++);
      ++j;
    }
    out.push_back(lp);
    const auto tops = lp.strings("top");
    for (int t = 0; t < (int)tops.size(); ++t) {
      Idx idx{i, t};
      const int n = consumers[idx];
      if (n <= 1) continue;
      Message sp;
      sp.type = "LayerParameter";
      sp.loc = lp.loc;
      sp.add("name", str(tops[t], "_", lname, "_", t, "_split"), true);
      sp.add("type", "Split", true);
      sp.add("bottom", tops[t], true);
      const float lw = loss_weight[idx];
      for (int k = 0; k < n; ++k) {
        sp.add("top", str(tops[t], "_", lname, "_", t, "_split_", k), true);
        if (lw != 0.f) sp.add_number("loss_weight", k == 0 ? lw : 0.f);
      }
      if (lw != 0.f) {
        out.back().remove("loss_weight");
        next_split[idx]++;
      }
      out.push_back(sp);
    }
  }
  return out;
}

// `param` with `layers` as its layers.
Message with_layers(const Message& param, const std::vector<Message>& layers) {
  Message net = param;
  net.remove("layer");
  for (auto& l : layers) {
    net.fields.push_back({});
    net.fields.back().name = "layer";
    net.fields.back().msg = std::make_shared<Message>(l);
  }
  return net;
}

}  // namespace

std::unique_ptr<Net> Net::from_text(const std::string& text, const std::string& filename, Phase phase, int level,
                                    const std::vector<std::string>& stages, bool optimize) {
  Message m = proto::parse_text(text, filename);
  proto::validate(m, "NetParameter");
  return std::make_unique<Net>(m, phase, level, stages, optimize);
}

Net::Net(const Message& param, Phase phase, int level, const std::vector<std::string>& stages, bool optimize)
    : phase_(phase) {
  name_ = param.get_string("name");
  std::vector<Message> layers = filter_layers(param, phase, level, stages);
  upgrade_legacy_inputs(param, layers);
  init(with_layers(param, insert_splits(layers)));
  graph::Rewrite rw;
  if (optimize && phase == Phase::TEST && !param.get_bool("force_backward") &&
      graph::plan_hypercolumn_projection(*this, layers, &rw))
    apply_rewrite(with_layers(param, insert_splits(rw.layers)), rw);
}

int Net::blob_index(const std::string& name) const {
  auto it = blob_index_.find(name);
  return it == blob_index_.end() ? -1 : it->second;
}
int Net::layer_index(const std::string& name) const {
  auto it = layer_index_.find(name);
  return it == layer_index_.end() ? -1 : it->second;
}

void Net::init(const Message& param, std::map<std::string, std::unique_ptr<Layer>>* reuse) {
  std::set<std::string> available;  // produced and not yet consumed
  for (const Message* lp_ptr : param.msgs("layer")) {
    const Message& lp = *lp_ptr;
    const int id = static_cast<int>(layers_.size());
    const std::string lname = lp.get_string("name");
    auto reused = reuse ? reuse->find(lname) : std::map<std::string, std::unique_ptr<Layer>>::iterator{};
    const bool is_reused = reuse && reused != reuse->end();
    std::unique_ptr<Layer> layer = is_reused ? std::move(reused->second) : LayerRegistry::create(lp, phase_);
    PYC_CHECK(!layer_index_.count(lname), lp.loc.str(), ": duplicate layer name '", lname, "'");
    layer_names_.push_back(lname);
    layer_index_[lname] = id;
    bottom_vecs_.emplace_back();
    top_vecs_.emplace_back();
    bottom_ids_.emplace_back();
    top_ids_.emplace_back();
    param_ids_.emplace_back();
    bottom_need_backward_.emplace_back();
    bool need_backward = false;

    const auto bottoms = lp.strings("bottom");
    const auto prop = lp.numbers("propagate_down");
    PYC_CHECK(prop.empty() || prop.size() == bottoms.size(), lp.loc.str(), ": layer '", lname, "' has ", prop.size(),
              " propagate_down values for ", bottoms.size(), " bottoms");
    for (int j = 0; j < (int)bottoms.size(); ++j) {
      PYC_CHECK(available.count(bottoms[j]), lp.loc.str(), ": layer '", lname, "': bottom blob '", bottoms[j],
                "' is not available (already consumed by an in-place layer?)");
      const int b = blob_index_.at(bottoms[j]);
      bottom_vecs_[id].push_back(blobs_[b].get());
      bottom_ids_[id].push_back(b);
      bottom_need_backward_[id].push_back(prop.empty() ? blob_need_backward_[b] : prop[j] != 0);
      need_backward = need_backward || blob_need_backward_[b];
      available.erase(bottoms[j]);
    }
    const auto tops = lp.strings("top");
    for (int j = 0; j < (int)tops.size(); ++j) {
      const bool in_place = j < (int)bottoms.size() && bottoms[j] == tops[j];
      int b;
      if (in_place) {
        b = blob_index_.at(tops[j]);
      } else {
        PYC_CHECK(!blob_index_.count(tops[j]), lp.loc.str(), ": layer '", lname, "': top blob '", tops[j],
                  "' is already produced by another layer");
        b = static_cast<int>(blobs_.size());
        blobs_.push_back(std::make_shared<Blob>());
        blob_names_.push_back(tops[j]);
        blob_index_[tops[j]] = b;
        blob_need_backward_.push_back(false);
        blob_loss_weights_.push_back(0.f);
      }
      top_vecs_[id].push_back(blobs_[b].get());
      top_ids_[id].push_back(b);
      available.insert(tops[j]);
      if (lp.get_string("type") == "Input") input_blobs_.push_back(b);
    }
    try {
      if (is_reused)
        layer->reshape(bottom_vecs_[id], top_vecs_[id]);
      else
        layer->setup(bottom_vecs_[id], top_vecs_[id]);
    } catch (const Error& e) {
      rethrow_naming_layer(e, lname, str(lp.loc.str(), ": layer '", lname, "' (", lp.get_string("type"), ")"));
    }
    for (int j = 0; j < (int)tops.size(); ++j) blob_loss_weights_[top_ids_[id][j]] = layer->loss(j);

    const auto specs = lp.msgs("param");
    const int nparams = static_cast<int>(layer->blobs().size());
    PYC_CHECK((int)specs.size() <= nparams, lp.loc.str(), ": layer '", lname, "' has ", specs.size(),
              " param specs but only ", nparams, " parameter blob(s)");
    for (int p = 0; p < nparams; ++p) {
      const float lr = p < (int)specs.size() ? specs[p]->get_float("lr_mult") : layer->frozen_params() ? 0.f : 1.f;
      layer->set_param_propagate_down(p, lr != 0.f);
      need_backward = need_backward || lr != 0.f;
    }
    layers_.push_back(std::move(layer));
    for (int p = 0; p < nparams; ++p) append_param(lp, id, p);
    layer_need_backward_.push_back(need_backward);
    if (need_backward)
      for (int b : top_ids_[id]) blob_need_backward_[b] = true;
  }

  // Walk backwards: a layer needs backward only if it contributes to a loss and something below
  // wants its gradient (Caffe's blobs_under_loss / blobs_skip_backp logic).
  std::set<std::string> under_loss, skip_backp;
  for (int id = num_layers() - 1; id >= 0; --id) {
    bool contributes = false, skip = true;
    for (int t = 0; t < (int)top_ids_[id].size(); ++t) {
      const std::string& bn = blob_names_[top_ids_[id][t]];
      if (layers_[id]->loss(t) != 0.f || under_loss.count(bn)) contributes = true;
      if (!skip_backp.count(bn)) skip = false;
      if (contributes && !skip) break;
    }
    if (layer_need_backward_[id] && skip) {
      layer_need_backward_[id] = false;
      std::fill(bottom_need_backward_[id].begin(), bottom_need_backward_[id].end(), false);
    }
    if (!contributes) layer_need_backward_[id] = false;
    for (int j = 0; j < (int)bottom_ids_[id].size(); ++j) {
      const std::string& bn = blob_names_[bottom_ids_[id][j]];
      if (contributes)
        under_loss.insert(bn);
      else
        bottom_need_backward_[id][j] = false;
      if (!bottom_need_backward_[id][j]) skip_backp.insert(bn);
    }
  }
  if (param.get_bool("force_backward")) {
    for (int id = 0; id < num_layers(); ++id) {
      layer_need_backward_[id] = true;
      for (int j = 0; j < (int)bottom_ids_[id].size(); ++j) {
        const bool nb = bottom_need_backward_[id][j] || layers_[id]->allow_force_backward(j);
        bottom_need_backward_[id][j] = nb;
        blob_need_backward_[bottom_ids_[id][j]] = blob_need_backward_[bottom_ids_[id][j]] || nb;
      }
      for (int p = 0; p < (int)layers_[id]->blobs().size(); ++p) layers_[id]->set_param_propagate_down(p, true);
    }
  }
  for (int b = 0; b < (int)blobs_.size(); ++b)
    if (available.count(blob_names_[b])) output_blobs_.push_back(b);
  // Shared parameters view their owner's data and diff.
  for (size_t i = 0; i < params_.size(); ++i) {
    if (param_owners_[i] < 0) continue;
    params_[i]->share_data(*params_[param_owners_[i]]);
    params_[i]->share_diff(*params_[param_owners_[i]]);
  }
}

void Net::append_param(const Message& lp, int layer_id, int param_id) {
  const auto specs = lp.msgs("param");
  const Message* spec = param_id < (int)specs.size() ? specs[param_id] : nullptr;
  const std::string pname = spec ? spec->get_string("name") : "";
  const int net_id = static_cast<int>(params_.size());
  auto blob = layers_[layer_id]->blobs()[param_id];
  params_.push_back(blob);
  param_ids_[layer_id].push_back(net_id);
  params_lr_.push_back(spec ? spec->get_float("lr_mult") : layers_[layer_id]->frozen_params() ? 0.f : 1.f);
  params_decay_.push_back(spec ? spec->get_float("decay_mult") : 1.f);
  if (pname.empty() || !param_names_index_.count(pname)) {
    param_owners_.push_back(-1);
    if (!pname.empty()) param_names_index_[pname] = net_id;
    return;
  }
  const int owner = param_names_index_[pname];
  const Blob& ob = *params_[owner];
  if (spec->get_string("share_mode") == "PERMISSIVE") {
    PYC_CHECK(blob->count() == ob.count(), lp.loc.str(), ": shared param '", pname, "' has ", blob->count(),
              " elements in layer '", lp.get_string("name"), "' but ", ob.count(), " in its owner");
  } else {
    PYC_CHECK(blob->shape() == ob.shape(), lp.loc.str(), ": shared param '", pname, "' has shape ",
              blob->shape_string(), " in layer '", lp.get_string("name"), "' but ", ob.shape_string(), " in its owner");
  }
  param_owners_.push_back(owner);
}

float Net::forward_from_to(int start, int end) {
  PYC_CHECK(start >= 0 && end < num_layers() && start <= end + 1, "forward_from_to(", start, ", ", end, "): net has ",
            num_layers(), " layers");
  Runtime::bind_thread();
  if (!equal_kernels_.empty()) check_equal_kernels();
  if (reuse_) {
    PYC_CHECK(start == 0, "net '", name_, "' reuses memory (reuse_memory), so a forward pass starts at its first "
              "layer, not at '", layer_names_[start], "': the blobs before it may hold later layers' values");
    if (Runtime::mode() == Mode::CPU) {  // (the arena is host memory; the GPU keeps its own buffers)
      reshape();
      bool same = planned_counts_.size() == blobs_.size();
      for (size_t b = 0; same && b < blobs_.size(); ++b) same = planned_counts_[b] == blobs_[b]->count();
      if (!same) plan_memory();
    }
  }
  float loss = 0;
  if (reuse_) {  // the layers up to `end` in the memory schedule's order (graph/net_memory.cpp)
    for (int i : exec_order_)
      if (i <= end) loss += layers_[i]->forward(bottom_vecs_[i], top_vecs_[i]);
    return loss;
  }
  for (int i = start; i <= end; ++i) loss += layers_[i]->forward(bottom_vecs_[i], top_vecs_[i]);
  return loss;
}

void Net::backward_from_to(int start, int end) {
  PYC_CHECK(end >= 0 && start < num_layers() && end <= start + 1, "backward_from_to(", start, ", ", end,
            "): net has ", num_layers(), " layers");
  Runtime::bind_thread();
  for (int i = start; i >= end; --i)
    if (layer_need_backward_[i]) layers_[i]->backward(top_vecs_[i], bottom_need_backward_[i], bottom_vecs_[i]);
}

void Net::reshape() {
  for (int i = 0; i < num_layers(); ++i) {
    try {
      layers_[i]->reshape(bottom_vecs_[i], top_vecs_[i]);
    } catch (const Error& e) {  // a new input shape too big, say
      rethrow_naming_layer(e, layers_[i]->name(), str("layer '", layers_[i]->name(), "' (", layers_[i]->type(), ")"));
    }
  }
}

void Net::clear_param_diffs() {
  for (size_t i = 0; i < params_.size(); ++i)
    if (param_owners_[i] < 0) {
      if (Runtime::mode() == Mode::GPU)
        gpu::memset_zero(params_[i]->mutable_gpu_diff(), params_[i]->count() * sizeof(float));
      else
        blas::set(params_[i]->count(), 0.f, params_[i]->mutable_cpu_diff());
    }
}

}  // namespace pycolorize
