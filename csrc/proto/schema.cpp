// proto/schema.cpp: the schema table, the validator and the defaults. Names and defaults follow BVLC caffe.proto.
#include "proto/schema.h"

#include <cerrno>
#include <cfloat>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <map>

#include "common.h"

namespace pycolorize {
namespace proto {

namespace {

using T = FieldType;
FieldSpec opt(const std::string& n, T t, const std::string& def, const std::string& doc, const std::string& tn = "") {
  return {n, t, false, tn, def, doc};
}
FieldSpec rep(const std::string& n, T t, const std::string& doc, const std::string& tn = "") {
  return {n, t, true, tn, "", doc};
}
FieldSpec sub(const std::string& n, const std::string& tn, const std::string& doc) {
  return {n, T::MESSAGE, false, tn, "", doc};
}
FieldSpec subs(const std::string& n, const std::string& tn, const std::string& doc) {
  return {n, T::MESSAGE, true, tn, "", doc};
}
FieldSpec en(const std::string& n, const std::string& tn, const std::string& def, const std::string& doc) {
  return {n, T::ENUM, false, tn, def, doc};
}

std::vector<EnumSpec> make_enums() {
  return {
      {"Phase", {"TRAIN", "TEST"}},
      {"Engine", {"DEFAULT", "CAFFE", "CUDNN"}},
      {"PoolMethod", {"MAX", "AVE"}},
      {"RoundMode", {"CEIL", "FLOOR"}},
      {"EltwiseOp", {"PROD", "SUM", "MAX"}},
      {"VarianceNorm", {"FAN_IN", "FAN_OUT", "AVERAGE"}},
      {"NormalizationMode", {"FULL", "VALID", "BATCH_SIZE", "NONE"}},
      {"DimCheckMode", {"STRICT", "PERMISSIVE"}},
      {"KLDType", {"KL_DIVERGENCE", "CROSS_ENTROPY"}},
      {"SolverMode", {"CPU", "GPU"}},
      {"SnapshotFormat", {"HDF5", "BINARYPROTO"}},
      {"SolverType", {"SGD", "NESTEROV", "ADAGRAD", "RMSPROP", "ADADELTA", "ADAM"}},
  };
}

std::vector<MessageSpec> make_messages() {
  const std::string engine_doc = "DEFAULT picks the best engine for the mode; CAFFE = the plain implementation; CUDNN = cuDNN on the GPU";
  return {
      {"NetParameter", "A network: the top level of a net prototxt.",
       {opt("name", T::STRING, "", "the net's name"),
        subs("layer", "LayerParameter", "the layers, in order"),
        rep("input", T::STRING, "legacy input blob names (become an Input layer)"),
        subs("input_shape", "BlobShape", "legacy input shapes, one per `input`"),
        rep("input_dim", T::INT, "legacy 4-d input dims, four per `input`"),
        opt("force_backward", T::BOOL, "false", "compute gradients for every layer and every input that allows it, even where no loss needs them"),
        sub("state", "NetState", "the phase/level/stages the net is built for (the phase given to Net() wins)"),
        opt("debug_info", T::BOOL, "false", "accepted for compatibility; ignored")}},
      {"NetState", "The state a net is instantiated in; include/exclude rules are matched against it.",
       {en("phase", "Phase", "TEST", "TRAIN or TEST"),
        opt("level", T::INT, "0", "level compared with min_level/max_level"),
        rep("stage", T::STRING, "stages compared with stage/not_stage")}},
      {"NetStateRule", "A rule in a layer's include/exclude list; a layer is kept if it matches any include rule (or there are none) and no exclude rule.",
       {en("phase", "Phase", "", "matches when the net's phase is this"),
        opt("min_level", T::INT, "", "matches when the net's level is at least this"),
        opt("max_level", T::INT, "", "matches when the net's level is at most this"),
        rep("stage", T::STRING, "matches when the net has all these stages"),
        rep("not_stage", T::STRING, "matches when the net has none of these stages")}},
      {"ParamSpec", "Per-parameter-blob settings of a layer (one `param` per blob, in blob order).",
       {opt("name", T::STRING, "", "blobs with the same non-empty name are shared between layers"),
        en("share_mode", "DimCheckMode", "STRICT", "STRICT: shared blobs must have equal shapes; PERMISSIVE: equal counts"),
        opt("lr_mult", T::FLOAT, "1", "learning-rate multiplier; 0 freezes the blob (no gradient unless force_backward)"),
        opt("decay_mult", T::FLOAT, "1", "weight-decay multiplier")}},
      {"BlobShape", "A blob shape.", {rep("dim", T::INT, "the dimensions, outermost first")}},
      {"FillerParameter", "How a parameter blob is initialised.",
       {opt("type", T::STRING, "constant", "constant, uniform, gaussian, xavier, msra or bilinear"),
        opt("value", T::FLOAT, "0", "constant: the value"),
        opt("min", T::FLOAT, "0", "uniform: lower bound (inclusive)"),
        opt("max", T::FLOAT, "1", "uniform: upper bound (exclusive)"),
        opt("mean", T::FLOAT, "0", "gaussian: mean"),
        opt("std", T::FLOAT, "1", "gaussian: standard deviation"),
        opt("sparse", T::INT, "-1", "gaussian: if > 0, keep each weight with probability sparse/num_output"),
        en("variance_norm", "VarianceNorm", "FAN_IN", "xavier/msra: normalise by fan_in, fan_out or their average")}},
      {"LayerParameter", "One layer. Unknown fields are errors; the *_param message matching `type` configures it.",
       {opt("name", T::STRING, "", "the layer's name (weights are stored under it)"),
        opt("type", T::STRING, "", "the layer type, e.g. \"Convolution\" (see the layer table)"),
        rep("bottom", T::STRING, "input blob names"),
        rep("top", T::STRING, "output blob names; top == bottom makes the layer in-place"),
        en("phase", "Phase", "", "accepted for compatibility; the net's phase is used"),
        rep("loss_weight", T::FLOAT, "weight of each top in the loss (loss layers default to 1 for top 0)"),
        subs("param", "ParamSpec", "per-parameter-blob learning-rate/decay multipliers and sharing"),
        rep("propagate_down", T::BOOL, "per bottom: false stops the gradient into that bottom"),
        subs("include", "NetStateRule", "keep the layer only in matching states"),
        subs("exclude", "NetStateRule", "drop the layer in matching states"),
        sub("loss_param", "LossParameter", "loss layers: ignore_label, normalization"),
        sub("batch_norm_param", "BatchNormParameter", "BatchNorm"),
        sub("concat_param", "ConcatParameter", "Concat"),
        sub("convolution_param", "ConvolutionParameter", "Convolution, Deconvolution, Projection, ResampleAdd"),
        sub("dropout_param", "DropoutParameter", "Dropout"),
        sub("eltwise_param", "EltwiseParameter", "Eltwise"),
        sub("flatten_param", "FlattenParameter", "Flatten"),
        sub("inner_product_param", "InnerProductParameter", "InnerProduct"),
        sub("input_param", "InputParameter", "Input"),
        sub("pooling_param", "PoolingParameter", "Pooling"),
        sub("power_param", "PowerParameter", "Power"),
        sub("relu_param", "ReLUParameter", "ReLU"),
        sub("reshape_param", "ReshapeParameter", "Reshape"),
        sub("scale_param", "ScaleParameter", "Scale"),
        sub("slice_param", "SliceParameter", "Slice"),
        sub("softmax_param", "SoftmaxParameter", "Softmax, SoftmaxWithLoss, SoftmaxKLDLoss"),
        sub("parameter_param", "ParameterParameter", "Parameter"),
        sub("sparse_hypercolumn_extractor_param", "SparseHypercolumnExtractorParameter", "SparseHypercolumnExtractor (the authors' field 300)"),
        sub("softmax_kld_loss_param", "SoftmaxKLDLossParameter", "SoftmaxKLDLoss (the authors' field 305)")}},
      {"LossParameter", "Shared by the loss layers.",
       {opt("ignore_label", T::INT, "", "targets equal to this contribute neither loss nor gradient (none by default)"),
        en("normalization", "NormalizationMode", "VALID", "divide the loss by: FULL = all positions, VALID = non-ignored positions, BATCH_SIZE = outer count, NONE = 1"),
        opt("normalize", T::BOOL, "", "legacy: true = VALID, false = BATCH_SIZE (overrides normalization when given)")}},
      {"SolverParameter", "A solver prototxt (Caffe's SolverParameter). pycolorize runs SGD with momentum; testing during training is left to tools/evaluate.py.",
       {opt("net", T::STRING, "", "the training net's prototxt, relative to the current directory (as Caffe resolves it)"),
        opt("train_net", T::STRING, "", "legacy name of net"),
        opt("type", T::STRING, "SGD", "the solver type; only SGD (with momentum) is implemented"),
        en("solver_type", "SolverType", "SGD", "legacy enum form of type"),
        opt("base_lr", T::FLOAT, "", "the base learning rate (required)"),
        opt("lr_policy", T::STRING, "fixed", "fixed, step, exp, inv, multistep, poly or sigmoid"),
        opt("gamma", T::FLOAT, "", "step/exp/inv/multistep/sigmoid: the decay factor"),
        opt("power", T::FLOAT, "", "inv/poly: the exponent"),
        opt("stepsize", T::INT, "", "step: iterations per decay; sigmoid: the midpoint"),
        rep("stepvalue", T::INT, "multistep: the iterations at which the rate is multiplied by gamma"),
        opt("max_iter", T::INT, "", "iterations of a full run (also the horizon of poly)"),
        opt("momentum", T::FLOAT, "0", "momentum of the update"),
        opt("weight_decay", T::FLOAT, "0", "weight decay, times each blob's decay_mult"),
        opt("regularization_type", T::STRING, "L2", "L2 (weight decay) or L1"),
        opt("iter_size", T::INT, "1", "forward/backward passes whose gradients are averaged per update"),
        opt("clip_gradients", T::FLOAT, "-1", "if >= 0: scale the gradient so its global L2 norm is at most this"),
        opt("display", T::INT, "0", "print Caffe's 'Iteration i, loss = ..., lr = ...' every this many iterations (0: never)"),
        opt("average_loss", T::INT, "1", "the displayed loss is the mean of this many iterations"),
        opt("snapshot", T::INT, "0", "snapshot every this many iterations (0: only on request)"),
        opt("snapshot_prefix", T::STRING, "", "path prefix of snapshots: <prefix>_iter_<N>.caffemodel.h5"),
        en("snapshot_format", "SnapshotFormat", "HDF5", "HDF5 (the only format written)"),
        opt("snapshot_after_train", T::BOOL, "true", "snapshot when max_iter is reached"),
        en("solver_mode", "SolverMode", "GPU", "does not choose the device (--gpu ID or pycolorize.use_gpu() does); a warning when it differs"),
        opt("device_id", T::INT, "0", "does not choose the device (--gpu ID does); a warning on the GPU when it differs"),
        opt("random_seed", T::INT, "-1", "if >= 0: seed for fillers and Dropout"),
        opt("debug_info", T::BOOL, "false", "ignored, with a warning when true"),
        rep("test_iter", T::INT, "ignored with a warning: no test nets are run (score snapshots with pycolorize evaluate)"),
        opt("test_interval", T::INT, "0", "ignored with a warning: no test nets are run"),
        opt("test_initialization", T::BOOL, "true", "ignored with a warning: no test nets are run"),
        rep("test_net", T::STRING, "ignored with a warning: no test nets are run")}},
      {"ParameterParameter", "Parameter: a learned blob of the given shape, exposed as the layer's top.",
       {sub("shape", "BlobShape", "the blob's shape")}},
      {"SparseHypercolumnExtractorParameter",
       "SparseHypercolumnExtractor (Larsson et al.): per feature bottom l, a map cell k sits at input pixel scale*k + offset.",
       {rep("scale", T::FLOAT, "per feature bottom: its stride relative to the centroids' pixel frame (one per bottom)"),
        rep("offset_height", T::FLOAT, "per feature bottom: row of map cell 0 in the pixel frame ((scale - 1) / 2 for VGG)"),
        rep("offset_width", T::FLOAT, "per feature bottom: column of map cell 0 in the pixel frame"),
        rep("activation_mult", T::FLOAT, "per feature bottom, from the first: a factor on its features (missing entries are 1)")}},
      {"SoftmaxKLDLossParameter", "SoftmaxKLDLoss (Larsson et al.): KL divergence (or cross-entropy) from a target distribution to softmax(x).",
       {en("type", "KLDType", "KL_DIVERGENCE", "KL_DIVERGENCE: -sum q (log p - log q); CROSS_ENTROPY: -sum q log p")}},
      {"InputParameter", "Input: tops whose data is set from outside (Python).",
       {subs("shape", "BlobShape", "one shape per top, or a single shape for all tops")}},
      {"ConvolutionParameter", "Convolution and Deconvolution (2-D spatial).",
       {opt("num_output", T::UINT, "", "number of output channels (required)"),
        opt("bias_term", T::BOOL, "true", "add a learned bias per output channel"),
        rep("pad", T::UINT, "zero padding: one value for both axes or (h, w); default 0"),
        rep("kernel_size", T::UINT, "kernel size: one value or (h, w)"),
        rep("stride", T::UINT, "stride: one value or (h, w); default 1"),
        rep("dilation", T::UINT, "dilation: one value or (h, w); default 1"),
        opt("pad_h", T::UINT, "0", "padding height (instead of pad)"),
        opt("pad_w", T::UINT, "0", "padding width (instead of pad)"),
        opt("kernel_h", T::UINT, "", "kernel height (instead of kernel_size)"),
        opt("kernel_w", T::UINT, "", "kernel width (instead of kernel_size)"),
        opt("stride_h", T::UINT, "", "stride height (instead of stride)"),
        opt("stride_w", T::UINT, "", "stride width (instead of stride)"),
        opt("group", T::UINT, "1", "split input and output channels into this many independent groups"),
        sub("weight_filler", "FillerParameter", "initialisation of the weights (default constant 0)"),
        sub("bias_filler", "FillerParameter", "initialisation of the bias (default constant 0)"),
        en("engine", "Engine", "DEFAULT", engine_doc),
        opt("axis", T::INT, "1", "the channel axis"),
        opt("force_nd_im2col", T::BOOL, "false", "accepted for compatibility; ignored")}},
      {"PoolingParameter", "Pooling (2-D spatial). Output size uses Caffe's rounding (round_mode).",
       {en("pool", "PoolMethod", "MAX", "MAX or AVE"),
        opt("pad", T::UINT, "0", "zero padding (both axes)"),
        opt("pad_h", T::UINT, "0", "padding height"),
        opt("pad_w", T::UINT, "0", "padding width"),
        opt("kernel_size", T::UINT, "", "kernel size (both axes)"),
        opt("kernel_h", T::UINT, "", "kernel height"),
        opt("kernel_w", T::UINT, "", "kernel width"),
        opt("stride", T::UINT, "1", "stride (both axes)"),
        opt("stride_h", T::UINT, "", "stride height"),
        opt("stride_w", T::UINT, "", "stride width"),
        en("engine", "Engine", "DEFAULT", engine_doc),
        opt("global_pooling", T::BOOL, "false", "pool over the whole spatial extent"),
        en("round_mode", "RoundMode", "CEIL", "CEIL (Caffe's default) or FLOOR output-size rounding")}},
      {"ReLUParameter", "ReLU.",
       {opt("negative_slope", T::FLOAT, "0", "slope for x < 0 (leaky ReLU)"),
        en("engine", "Engine", "DEFAULT", engine_doc)}},
      {"DropoutParameter", "Dropout (inverted: kept values are scaled by 1/(1 - ratio) in TRAIN; identity in TEST).",
       {opt("dropout_ratio", T::FLOAT, "0.5", "probability of dropping a value")}},
      {"ReshapeParameter", "Reshape: a view with a new shape.",
       {sub("shape", "BlobShape", "new dims; 0 copies the bottom dim, -1 is inferred (at most one)"),
        opt("axis", T::INT, "0", "first bottom axis replaced"),
        opt("num_axes", T::INT, "-1", "number of bottom axes replaced (-1: all from axis on)")}},
      {"FlattenParameter", "Flatten: merge axes axis..end_axis.",
       {opt("axis", T::INT, "1", "first axis merged"), opt("end_axis", T::INT, "-1", "last axis merged")}},
      {"ConcatParameter", "Concat.",
       {opt("axis", T::INT, "1", "axis along which bottoms are concatenated"),
        opt("concat_dim", T::UINT, "", "legacy name of axis")}},
      {"SliceParameter", "Slice: the inverse of Concat.",
       {opt("axis", T::INT, "1", "axis to slice"),
        rep("slice_point", T::UINT, "indices where a new top starts (tops - 1 of them); none = equal parts"),
        opt("slice_dim", T::UINT, "", "legacy name of axis")}},
      {"EltwiseParameter", "Eltwise: element-wise operation over bottoms of equal shape.",
       {en("operation", "EltwiseOp", "SUM", "PROD, SUM or MAX"),
        rep("coeff", T::FLOAT, "SUM only: one coefficient per bottom (default 1)"),
        opt("stable_prod_grad", T::BOOL, "true", "PROD: compute the gradient without dividing by the bottom")}},
      {"PowerParameter", "Power: y = (shift + scale * x) ^ power.",
       {opt("power", T::FLOAT, "1", "exponent"), opt("scale", T::FLOAT, "1", "scale"), opt("shift", T::FLOAT, "0", "shift")}},
      {"SoftmaxParameter", "Softmax and SoftmaxWithLoss.",
       {en("engine", "Engine", "DEFAULT", engine_doc), opt("axis", T::INT, "1", "axis the softmax normalises over")}},
      {"InnerProductParameter", "InnerProduct (fully connected).",
       {opt("num_output", T::UINT, "", "number of outputs (required)"),
        opt("bias_term", T::BOOL, "true", "add a learned bias"),
        sub("weight_filler", "FillerParameter", "initialisation of the weights"),
        sub("bias_filler", "FillerParameter", "initialisation of the bias"),
        opt("axis", T::INT, "1", "axes from this one on are flattened into the input vector"),
        opt("transpose", T::BOOL, "false", "weights stored as (K, N) instead of (N, K)")}},
      {"BatchNormParameter", "BatchNorm: blobs are mean sum, variance sum and the scalar moving-average factor (mean = blob0/blob2).",
       {opt("use_global_stats", T::BOOL, "", "use the stored statistics (default: true in TEST, false in TRAIN)"),
        opt("moving_average_fraction", T::FLOAT, "0.999", "decay of the running statistics"),
        opt("eps", T::FLOAT, "1e-05", "added to the variance")}},
      {"ScaleParameter", "Scale: multiply by a learned (or second-bottom) scale broadcast along axes, optionally add a bias.",
       {opt("axis", T::INT, "1", "first axis of the bottom the scale covers"),
        opt("num_axes", T::INT, "1", "number of axes the scale covers (-1: all from axis on)"),
        sub("filler", "FillerParameter", "initialisation of the scale (default constant 1)"),
        opt("bias_term", T::BOOL, "false", "also learn a bias"),
        sub("bias_filler", "FillerParameter", "initialisation of the bias (default constant 0)")}},
  };
}

double parse_number(const Field& f, const FieldSpec& spec, const std::string& msg_type) {
  const std::string& s = f.text;
  auto bad = [&](const std::string& what) -> double {
    throw Error(str(f.loc.str(), ": field '", spec.name, "' of ", msg_type, " expects ", what, ", got '", clipped(s), "'"));
  };
  if (f.quoted) return bad(spec.type == T::BOOL ? "true or false" : "a number");
  if (spec.type == T::BOOL) {
    if (s == "true" || s == "True" || s == "t" || s == "1") return 1;
    if (s == "false" || s == "False" || s == "f" || s == "0") return 0;
    return bad("true or false");
  }
  if (spec.type == T::FLOAT) {
    std::string l = s;
    for (auto& c : l) c = static_cast<char>(std::tolower(c));
    if (l == "inf" || l == "infinity" || l == "+inf") return INFINITY;
    if (l == "-inf" || l == "-infinity") return -INFINITY;
    if (l == "nan") return NAN;
    std::string t = s;
    if (!t.empty() && (t.back() == 'f' || t.back() == 'F')) t.pop_back();
    char* end = nullptr;
    double v = std::strtod(t.c_str(), &end);
    if (t.empty() || *end) return bad("a number");
    // Fields are read as float (get_float): a finite value past FLT_MAX has no float (UB to convert).
    if (std::isfinite(v) && std::fabs(v) > FLT_MAX) return bad(str("a number within +-", FLT_MAX));
    return v;
  }
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(s.c_str(), &end, 0);
  if (s.empty() || *end) return bad("an integer");
  // Integers are read as int (get_int, Caffe's int32/uint32 fields used as int): anything wider
  // would be undefined to convert. strtoll saturates out-of-range text, hence errno.
  const long long lo = spec.type == T::UINT ? 0 : INT_MIN;
  if (errno == ERANGE || v < lo || v > INT_MAX)
    return bad(str(spec.type == T::UINT ? "a non-negative integer" : "an integer", " in [", lo, ", ", INT_MAX, "]"));
  return static_cast<double>(v);
}

}  // namespace

const std::vector<MessageSpec>& all_messages() {
  static const std::vector<MessageSpec> m = make_messages();
  return m;
}
const std::vector<EnumSpec>& all_enums() {
  static const std::vector<EnumSpec> e = make_enums();
  return e;
}

const MessageSpec& message_spec(const std::string& name) {
  for (const auto& m : all_messages())
    if (m.name == name) return m;
  throw Error(str("internal: unknown message type ", name));
}
const EnumSpec& enum_spec(const std::string& name) {
  for (const auto& e : all_enums())
    if (e.name == name) return e;
  throw Error(str("internal: unknown enum type ", name));
}

const FieldSpec* MessageSpec::field(const std::string& n) const {
  for (const auto& f : fields)
    if (f.name == n) return &f;
  return nullptr;
}

std::string MessageSpec::field_names() const {
  std::string s;
  for (const auto& f : fields) s += (s.empty() ? "" : ", ") + f.name;
  return s;
}

std::string type_name(const FieldSpec& f) {
  switch (f.type) {
    case T::INT: return "int";
    case T::UINT: return "uint";
    case T::FLOAT: return "float";
    case T::BOOL: return "bool";
    case T::STRING: return "string";
    case T::ENUM: return "enum " + f.type_name;
    case T::MESSAGE: return f.type_name;
  }
  return "?";
}

void validate(Message& m, const std::string& type) {
  const MessageSpec& spec = message_spec(type);
  m.type = type;
  std::map<std::string, int> seen;
  for (Field& f : m.fields) {
    const FieldSpec* fs = spec.field(f.name);
    if (!fs)
      throw Error(str(f.loc.str(), ": unknown field '", f.name, "' in ", type, "; known fields: ", spec.field_names()));
    if (!fs->repeated && seen[f.name]++)
      throw Error(str(f.loc.str(), ": field '", f.name, "' of ", type, " is not repeated but given more than once"));
    if (fs->type == T::MESSAGE) {
      if (!f.msg) throw Error(str(f.loc.str(), ": field '", f.name, "' of ", type, " is a message: write ", f.name, " { ... }"));
      validate(*f.msg, fs->type_name);
      continue;
    }
    if (f.msg) throw Error(str(f.loc.str(), ": field '", f.name, "' of ", type, " is a ", type_name(*fs), ", not a message"));
    if (fs->type == T::STRING) {
      if (!f.quoted) throw Error(str(f.loc.str(), ": field '", f.name, "' of ", type, " expects a quoted string, got ", f.text));
    } else if (fs->type == T::ENUM) {
      const EnumSpec& es = enum_spec(fs->type_name);
      bool ok = false;
      for (size_t i = 0; i < es.values.size(); ++i)
        if (!f.quoted && es.values[i] == f.text) {
          ok = true;
          f.number = static_cast<double>(i);
        }
      if (!ok) {
        std::string known;
        for (const auto& v : es.values) known += (known.empty() ? "" : ", ") + v;
        throw Error(str(f.loc.str(), ": field '", f.name, "' of ", type, ": unknown value '", f.text,
                        "'; known values: ", known));
      }
    } else {
      f.number = parse_number(f, *fs, type);
    }
  }
}

// ---- defaults, for Message's getters ----------------------------------------------------------

double default_number(const FieldSpec& fs, const std::string& msg_type) {
  if (fs.type == T::ENUM) {
    const auto& vals = enum_spec(fs.type_name).values;
    for (size_t i = 0; i < vals.size(); ++i)
      if (vals[i] == fs.default_value) return static_cast<double>(i);
  }
  Field tmp;
  tmp.text = fs.default_value;
  return parse_number(tmp, fs, msg_type);
}

const Message& empty_message(const std::string& type) {
  // Built once, before any caller can see it (a thread-safe static), and never changed after.
  static const std::map<std::string, Message> empties = [] {
    std::map<std::string, Message> m;
    for (const MessageSpec& spec : all_messages()) m[spec.name].type = spec.name;
    return m;
  }();
  const auto it = empties.find(type);
  PYC_CHECK(it != empties.end(), "internal: unknown message type ", type);
  return it->second;
}

}  // namespace proto
}  // namespace pycolorize
