// graph/net_optimize.cpp: the hypercolumn projection pass.
//
// The algebra. A 1x1 Convolution P (weights W: O x C, bias b) over a Concat of inputs u_1..u_n
// (C_i channels each, C = sum C_i) computes, per pixel p,
//     y(p) = b + sum_i W_i u_i(p)                    W_i = the C_i columns of W that meet u_i.
// The authors' dense hypercolumn makes most u_i by upsampling a coarser map x_i with the same fixed
// linear map R applied to every channel on its own: the Reshape (N, C, h, w) -> (N*C, 1, h, w),
// a single-channel Deconvolution with kernel k (the bilinear filler, lr_mult 0), and the Reshape
// back to (N, C, H, W), i.e. u_i(c, p) = sum_q R(p, q) x_i(c, q) with R(p, q) built from k. As R
// acts on space and W_i on channels, they commute:
//     W_i u_i(p) = sum_q R(p, q) (W_i x_i)(q)       = R(W_i x_i)(p),
// and inputs upsampled by the same R (same kernel values, geometry and sizes) share it:
//     y = b + sum_{plain i} W_i u_i + sum_R R(sum_{i upsampled by R} W_i x_i).
// So each group of inputs is projected by its slice of W at its own (coarse) resolution, the O-
// channel sums are upsampled once per group (O = 1024 channels instead of up to 8192), and the
// groups are added, with the bias once, in a group that is not resampled (near the border the
// bilinear weights do not sum to 1, so R would change a constant). For the authors' net at 256x256
// this is about 15 instead of 104 GFLOP for h_fc1, and the 12,417-channel hypercolumn is never
// materialised. Inputs that are not upsampled (AVE pooling, native conv3) are projected where they
// are: projecting before a downsampling would cost more, not less.
//
// The rewritten graph: per group, a Projection of the group's inputs (a 1x1 convolution of their
// concatenation without the concatenation) that views their columns of W in place
// (ProjectionLayer::view_weight_columns). The group that is not resampled projects straight into
// P's top, with the bias; each resampled group's O-channel sum is then upsampled and added into
// that top in place by a ResampleAdd with the first member's kernel blob. So the only blobs left
// beside P's top are the coarse sums (at 512x512, 85 instead of 515 MB for the authors' net). The
// removed layers' parameters stay in the net (Net::literal_layers):
// weights load into and save from the literal layers, and the kernels of a group are compared before
// each forward (the sum is exact only while they are equal).
//
// (An input cannot change between its read in the literal graph and P: a layer writing it in place
// would be a second reader, and the net's split insertion makes that an error, as in Caffe.)
//
// Conditions (anything else leaves the graph literal): a TEST net without force_backward; the Concat
// on axis 1, its top read by P alone; P a 1x1, stride-1, unpadded, group-1 Convolution with
// unshared parameters; an upsampled input is exactly Reshape{-1,1} (axis 0, num_axes 2) ->
// Deconvolution (num_output 1, group 1, no bias, lr_mult 0) -> Reshape{-1,C} (axis 0, num_axes 2),
// each intermediate read by the next layer alone (no ReLU or other consumer in between), with the
// shapes that make it a per-channel resampling; at least one input is upsampled and, when P has a
// bias, one is not. The names the pass creates (<P>_part<k>_...) must be new. (An InnerProduct
// over such a concat mixes positions, not only channels, so it does not commute with upsampling.)
#include "graph/net_optimize.h"

#include <algorithm>
#include <map>
#include <set>

#include "layers/projection_layer.h"
#include "util/window.h"
#include "net.h"

namespace pycolorize {

using proto::Message;

namespace graph {
namespace {

std::vector<int> shape_of(Net& net, const std::string& blob) {
  const int i = net.blob_index(blob);
  return i < 0 ? std::vector<int>{} : net.blob(i)->shape();
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

struct Graph {
  const std::vector<Message>& layers;
  // The last layer before `before` that writes `blob`; -1 when none.
  int producer(const std::string& blob, int before) const {
    for (int i = before - 1; i >= 0; --i)
      if (contains(layers[i].strings("top"), blob)) return i;
    return -1;
  }
  // Reads of `blob` after `producer` (an in-place layer reads it too).
  int readers(const std::string& blob, int producer) const {
    int n = 0;
    for (int j = producer + 1; j < (int)layers.size(); ++j) {
      const auto b = layers[j].strings("bottom");
      n += static_cast<int>(std::count(b.begin(), b.end(), blob));
    }
    return n;
  }
  bool one_to_one(int i, const char* type) const {
    return i >= 0 && layers[i].get_string("type") == type && layers[i].count("bottom") == 1 && layers[i].count("top") == 1;
  }
};

// Reshape (axis 0, num_axes 2) to exactly `dims`.
bool reshape_is(const Message& layer, std::vector<int> dims) {
  const Message& p = layer.msg("reshape_param");
  return p.get_int("axis") == 0 && p.get_int("num_axes") == 2 && p.msg("shape").ints("dim") == dims;
}

Message make_layer(const Message& like, const std::string& name, const std::string& type,
                   const std::vector<std::string>& bottoms, const std::string& top) {
  Message m;
  m.type = "LayerParameter";
  m.loc = like.loc;
  m.add("name", name, true);
  m.add("type", type, true);
  for (const auto& b : bottoms) m.add("bottom", b, true);
  m.add("top", top, true);
  return m;
}

struct Member {
  int index;           // bottom index in the Concat
  std::string native;  // the blob projected: the coarse map of an upsampled input, else the input
  int offset;          // first column of P's weights
  int removed[3];      // Reshape, Deconvolution, Reshape (upsampled inputs), else -1
};

struct Group {
  std::string key;  // empty for inputs used as they are
  std::vector<Member> members;
};

// One match (Concat at ci read by P at pi): appends the new layers to `out`, the views and checks
// to `rw`, and the removed layer indices to `removed`. False when the pattern does not hold.
bool plan_one(Net& net, const Graph& g, int ci, int pi, std::vector<Message>& out, Rewrite& rw, std::set<int>& removed) {
  const auto& L = g.layers;
  const Message& C = L[ci];
  const Message& P = L[pi];
  const std::string pname = P.get_string("name"), ptop = P.strings("top")[0];
  const Message& cp = C.msg("concat_param");
  const int axis = cp.has("concat_dim") ? cp.get_int("concat_dim") : cp.get_int("axis");
  if (axis != 1 && axis != -3) return false;
  const Message& pp = P.msg("convolution_param");
  const std::string where = pname;
  const WindowPair k = read_window_pair(pp, "kernel_size", -1, where), s = read_window_pair(pp, "stride", 1, where),
                   pad = read_window_pair(pp, "pad", 0, where);
  if (k.h != 1 || k.w != 1 || s.h != 1 || s.w != 1 || pad.h || pad.w || pp.get_int("group") != 1 || pp.get_int("axis") != 1)
    return false;
  if (ptop == P.strings("bottom")[0]) return false;
  for (const Message* spec : P.msgs("param"))
    if (!spec->get_string("name").empty()) return false;
  const int pl = net.layer_index(pname);
  if (pl < 0 || net.layer(pl).blobs().empty()) return false;
  const std::vector<int> wshape = net.layer(pl).blobs()[0]->shape();
  const int O = wshape[0];
  const bool has_bias = net.layer(pl).blobs().size() > 1;

  std::vector<Group> groups;
  std::vector<int> dropped;
  int offset = 0, upsampled = 0;
  const auto bottoms = C.strings("bottom");
  for (int j = 0; j < (int)bottoms.size(); ++j) {
    const std::string& b = bottoms[j];
    const std::vector<int> sb = shape_of(net, b);
    if (sb.size() != 4) return false;
    Member m{j, b, offset, {-1, -1, -1}};
    std::string key;
    // b = Reshape{-1,C}(Deconvolution(Reshape{-1,1}(x)))?
    const int r2 = g.producer(b, ci);
    const int d = g.one_to_one(r2, "Reshape") && g.readers(b, r2) == 1 ? g.producer(L[r2].strings("bottom")[0], r2) : -1;
    const int r1 = g.one_to_one(d, "Deconvolution") && g.readers(L[d].strings("top")[0], d) == 1
                       ? g.producer(L[d].strings("bottom")[0], d) : -1;
    if (g.one_to_one(r1, "Reshape") && g.readers(L[r1].strings("top")[0], r1) == 1) {
      const std::string x = L[r1].strings("bottom")[0];
      const std::vector<int> sx = shape_of(net, x), s1 = shape_of(net, L[r1].strings("top")[0]),
                             sd = shape_of(net, L[d].strings("top")[0]);
      const Message& dp = L[d].msg("convolution_param");
      const auto specs = L[d].msgs("param");
      const int dl = net.layer_index(L[d].get_string("name"));
      const bool frozen = !specs.empty() && specs[0]->get_float("lr_mult") == 0.f && specs[0]->get_string("name").empty();
      if (sx.size() == 4 && sx[1] == sb[1] && sx[0] == sb[0] && s1 == std::vector<int>{sx[0] * sx[1], 1, sx[2], sx[3]} &&
          sd == std::vector<int>{sx[0] * sx[1], 1, sb[2], sb[3]} && reshape_is(L[r1], {-1, 1}) &&
          reshape_is(L[r2], {-1, sx[1]}) && dp.get_int("num_output") == 1 && dp.get_int("group") == 1 &&
          !dp.get_bool("bias_term") && frozen && dl >= 0 && net.layer(dl).blobs().size() == 1) {
        const WindowPair dk = read_window_pair(dp, "kernel_size", -1, where), ds = read_window_pair(dp, "stride", 1, where),
                         dpad = read_window_pair(dp, "pad", 0, where);
        const auto dil = dp.ints("dilation");
        key = str("k", dk.h, "x", dk.w, " s", ds.h, "x", ds.w, " p", dpad.h, "x", dpad.w, " d",
                  dil.empty() ? 1 : dil[0], "x", dil.empty() ? 1 : dil.back(), " ", sx[2], "x", sx[3], "->", sb[2], "x", sb[3]);
        m.native = x;
        m.removed[0] = r1, m.removed[1] = d, m.removed[2] = r2;
        ++upsampled;
      }
    }
    offset += sb[1];
    auto it = std::find_if(groups.begin(), groups.end(), [&](const Group& gr) { return gr.key == key; });
    if (it == groups.end()) {
      groups.push_back({key, {}});
      it = groups.end() - 1;
    }
    it->members.push_back(m);
  }
  if (!upsampled || wshape.size() != 4 || offset != wshape[1]) return false;
  // The bias joins a projection that is not resampled (see the top of the file).
  const auto plain = std::find_if(groups.begin(), groups.end(), [](const Group& gr) { return gr.key.empty(); });
  if (has_bias && plain == groups.end()) return false;

  // One Projection per group, into P's top for the group that is not resampled (with the bias),
  // and then one ResampleAdd per resampled group into that top, in place. Without such a group the
  // first resampled group's ResampleAdd writes the top, and the others add to it.
  std::stable_partition(groups.begin(), groups.end(), [](const Group& gr) { return gr.key.empty(); });
  std::vector<Message> made;
  for (int k = 0; k < (int)groups.size(); ++k) {
    const Group& gr = groups[k];
    std::vector<std::string> ins;
    for (const Member& m : gr.members) ins.push_back(m.native);
    const std::string proj = gr.key.empty() ? ptop : str(pname, "_part", k);
    Message c = make_layer(P, str(pname, "_part", k), "Projection", ins, proj);
    Message& p = c.add_msg("convolution_param", "ConvolutionParameter");
    p.add_number("num_output", O);
    p.add_number("bias_term", has_bias && gr.key.empty() ? 1 : 0);
    made.push_back(c);
    std::vector<int> columns;
    for (const Member& m : gr.members) columns.push_back(m.offset);
    rw.views.push_back({c.get_string("name"), pname, columns, has_bias && gr.key.empty()});
    if (gr.key.empty()) continue;
    const Message& D = L[gr.members[0].removed[1]];
    const std::string up = str(pname, "_part", k, "_up");
    Message u = k == 0 ? make_layer(P, up, "ResampleAdd", {proj}, ptop) : make_layer(P, up, "ResampleAdd", {ptop, proj}, ptop);
    for (const auto& f : D.fields)
      if (f.name == "convolution_param" || f.name == "param") u.fields.push_back(f);
    made.push_back(u);
    rw.views.push_back({u.get_string("name"), D.get_string("name"), {}, false});
    for (size_t i = 1; i < gr.members.size(); ++i)
      rw.equal_kernels.push_back({D.get_string("name"), L[gr.members[i].removed[1]].get_string("name")});
  }
  // the new names must not clash with the net's
  std::set<std::string> taken;
  for (const auto& l : L) {
    taken.insert(l.get_string("name"));
    for (const auto& t : l.strings("top")) taken.insert(t);
  }
  for (const auto& l : made)
    if (taken.count(l.get_string("name")) || (l.strings("top")[0] != ptop && taken.count(l.strings("top")[0]))) return false;

  out.insert(out.end(), made.begin(), made.end());
  removed.insert(ci);
  removed.insert(pi);
  for (const Group& gr : groups)
    for (const Member& m : gr.members)
      for (int r : m.removed)
        if (r >= 0) removed.insert(r);
  return true;
}

}  // namespace

bool plan_hypercolumn_projection(Net& literal, const std::vector<Message>& layers, Rewrite* out) {
  const Graph g{layers};
  Rewrite rw;
  std::set<int> removed;
  std::map<int, std::vector<Message>> inserted;  // at P's position
  for (int ci = 0; ci < (int)layers.size(); ++ci) {
    const Message& C = layers[ci];
    if (C.get_string("type") != "Concat" || C.count("top") != 1 || removed.count(ci)) continue;
    const std::string top = C.strings("top")[0];
    if (g.readers(top, ci) != 1) continue;
    int pi = ci + 1;
    while (pi < (int)layers.size() && !contains(layers[pi].strings("bottom"), top)) ++pi;
    if (pi == (int)layers.size() || !g.one_to_one(pi, "Convolution") || removed.count(pi)) continue;
    std::vector<Message> made;
    Rewrite attempt = rw;
    std::set<int> gone = removed;
    if (!plan_one(literal, g, ci, pi, made, attempt, gone)) continue;
    rw = std::move(attempt);
    removed = std::move(gone);
    inserted[pi] = std::move(made);
  }
  if (inserted.empty()) return false;
  for (int i = 0; i < (int)layers.size(); ++i) {
    if (inserted.count(i))
      rw.layers.insert(rw.layers.end(), inserted[i].begin(), inserted[i].end());
    if (removed.count(i))
      rw.removed_layers.push_back(layers[i].get_string("name"));
    else
      rw.layers.push_back(layers[i]);
  }
  *out = std::move(rw);
  return true;
}

}  // namespace graph

void Net::apply_rewrite(const Message& param, const graph::Rewrite& rw) {
  // What Python sees as the net's parameters and layer list (weights load and save through it).
  std::vector<LiteralLayer> literal;
  for (int i = 0; i < num_layers(); ++i) {
    LiteralLayer l{layer_names_[i], layers_[i]->type(), layers_[i]->blobs(), {}};
    for (int p = 0; p < (int)l.params.size(); ++p) l.owners.push_back(param_owner(i, p));
    literal.push_back(std::move(l));
  }
  const std::vector<std::string> old_blobs = blob_names_;
  // Layers with parameters that stay keep their objects (and weights; their reshape sets their
  // tops); the others are set up afresh (an Input layer shapes its tops only then).
  std::map<std::string, std::unique_ptr<Layer>> reuse;
  for (int i = 0; i < num_layers(); ++i)
    if (!layers_[i]->blobs().empty()) reuse[layer_names_[i]] = std::move(layers_[i]);
  for (const auto& name : rw.removed_layers) reuse.erase(name);
  *this = Net(name_, phase_);
  init(param, &reuse);
  literal_ = std::move(literal);
  auto literal_params = [&](const std::string& name) -> std::vector<std::shared_ptr<Blob>>& {
    for (auto& l : literal_)
      if (l.name == name) return l.params;
    throw Error(str("projection pass: no literal layer '", name, "'"));
  };
  for (const auto& v : rw.views) {
    const int id = layer_index(v.layer);
    auto& src = literal_params(v.source);
    Layer& l = *layers_[id];
    if (!v.columns.empty())
      dynamic_cast<ProjectionLayer&>(l).view_weight_columns(src[0], v.columns, v.bias ? src[1] : nullptr);
    else
      l.blobs()[0] = src[0];
    for (int p = 0; p < (int)l.blobs().size(); ++p) params_[param_ids_[id][p]] = l.blobs()[p];
  }
  for (const auto& [kept, gone] : rw.equal_kernels)
    equal_kernels_.push_back({kept, literal_params(kept)[0], gone, literal_params(gone)[0]});
  for (const auto& b : old_blobs)
    if (blob_index(b) < 0) removed_blobs_.push_back(b);
  removed_layers_ = rw.removed_layers;
}

void Net::check_equal_kernels() {
  for (const auto& k : equal_kernels_) {
    const float *a = k.kept->cpu_data(), *b = k.removed->cpu_data();
    PYC_CHECK(k.kept->count() == k.removed->count() && std::equal(a, a + k.kept->count(), b),
              "layers '", k.kept_name, "' and '", k.removed_name, "' now hold different upsampling kernels, so the "
              "projection pass, which upsamples their projected sum once with the first one's, no longer computes "
              "the net as written; build the net with optimize=False for this weights file");
  }
}

}  // namespace pycolorize
