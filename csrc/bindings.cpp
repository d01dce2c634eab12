// bindings.cpp: the thin pybind11 layer (module pycolorize._core). Conveniences live in Python
// (pycolorize/net.py). Blob memory is exposed to NumPy without copies; each array holds a
// reference to its buffer, so it stays valid after a reshape or after the net is gone.
#include <array>

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "blob.h"
#include "common.h"
#include "layer.h"
#include "layers/base_conv_layer.h"
#include "layers/conv_layer.h"
#include "layers/dropout_layer.h"
#include "net.h"
#include "solver.h"
#include "util/blas.h"
#include "util/gpu.h"
#include "util/gpu_math.h"
#include "util/philox.h"
#include "proto/schema.h"
#include "proto/text_format.h"

namespace py = pybind11;
using namespace pycolorize;

namespace pycolorize {
void bind_parallel(py::module_& m);  // parallel/bind_parallel.cpp: data-parallel training
}

namespace {

py::array view(const Blob& blob, const std::shared_ptr<SyncedMemory>& mem, float* ptr) {
  auto* keep = new std::shared_ptr<SyncedMemory>(mem);
  py::capsule owner(keep, [](void* p) { delete static_cast<std::shared_ptr<SyncedMemory>*>(p); });
  std::vector<py::ssize_t> shape(blob.shape().begin(), blob.shape().end());
  return py::array_t<float>(shape, ptr, owner);
}

py::list schema_list() {
  py::list out;
  for (const auto& m : proto::all_messages()) {
    py::list fields;
    for (const auto& f : m.fields)
      fields.append(py::dict(py::arg("name") = f.name, py::arg("type") = proto::type_name(f),
                             py::arg("repeated") = f.repeated, py::arg("default") = f.default_value,
                             py::arg("doc") = f.doc));
    out.append(py::dict(py::arg("name") = m.name, py::arg("doc") = m.doc, py::arg("fields") = fields));
  }
  return out;
}

py::dict enums_dict() {
  py::dict d;
  for (const auto& e : proto::all_enums()) d[py::str(e.name)] = e.values;
  return d;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "pycolorize core: Caffe-style blobs, layers and nets in C++";
  py::register_exception<Error>(m, "Error", PyExc_ValueError);

  py::class_<Blob, std::shared_ptr<Blob>>(m, "Blob")
      .def(py::init<>())
      .def(py::init<const std::vector<int>&>())
      .def_property_readonly("shape", [](const Blob& b) { return py::tuple(py::cast(b.shape())); })
      .def_property_readonly("count", [](const Blob& b) { return b.count(); })
      .def_property_readonly("data", [](Blob& b) { return view(b, b.data(), b.mutable_cpu_data()); },
                             "the values, a float32 NumPy view (no copy)")
      .def_property_readonly("diff", [](Blob& b) { return view(b, b.diff(), b.mutable_cpu_diff()); },
                             "the gradients, a float32 NumPy view (no copy)")
      .def("reshape", [](Blob& b, const std::vector<int>& shape) { b.reshape(shape); })
      .def("__repr__", [](const Blob& b) { return "<Blob " + b.shape_string() + ">"; });

  py::class_<Layer>(m, "Layer")
      .def_property_readonly("name", &Layer::name)
      .def_property_readonly("type", [](const Layer& l) { return std::string(l.type()); })
      .def_property_readonly("blobs", [](Layer& l) { return l.blobs(); })
      .def("__repr__", [](const Layer& l) { return "<Layer " + l.name() + " (" + l.type() + ")>"; });

  py::class_<Net, std::shared_ptr<Net>>(m, "Net")
      .def(py::init([](const std::string& text, const std::string& filename, int phase, int level,
                       const std::vector<std::string>& stages, bool optimize) {
             return Net::from_text(text, filename, static_cast<Phase>(phase), level, stages, optimize);
           }),
           py::arg("text"), py::arg("filename"), py::arg("phase"), py::arg("level") = 0,
           py::arg("stages") = std::vector<std::string>{}, py::arg("optimize") = true)
      .def_property_readonly("name", &Net::name)
      .def_property_readonly("phase", [](const Net& n) { return static_cast<int>(n.phase()); })
      .def("forward_from_to", &Net::forward_from_to, py::call_guard<py::gil_scoped_release>())
      .def("backward_from_to", &Net::backward_from_to, py::call_guard<py::gil_scoped_release>())
      .def("reshape", &Net::reshape, py::call_guard<py::gil_scoped_release>())
      .def("clear_param_diffs", &Net::clear_param_diffs)
      .def_property_readonly("num_layers", &Net::num_layers)
      .def_property_readonly("layer_names", &Net::layer_names)
      .def_property_readonly("blob_names", &Net::blob_names)
      .def("layer", &Net::layer, py::return_value_policy::reference_internal)
      .def("blob", &Net::blob)
      .def_property_readonly("input_blob_indices", &Net::input_blob_indices)
      .def_property_readonly("output_blob_indices", &Net::output_blob_indices)
      .def("bottom_ids", &Net::bottom_ids)
      .def("top_ids", &Net::top_ids)
      .def("layer_need_backward", &Net::layer_need_backward)
      .def("bottom_need_backward", &Net::bottom_need_backward)
      .def("blob_loss_weight", &Net::blob_loss_weight)
      .def("param_owner", &Net::param_owner)
      .def("param_lr_mult", &Net::param_lr_mult)
      .def("param_decay_mult", &Net::param_decay_mult)
      // the projection pass (graph/net_optimize.h): literal layers as (name, type, params, owners)
      .def_property_readonly("optimized", &Net::optimized)
      .def_property_readonly("removed_layers", &Net::removed_layers)
      .def_property_readonly("removed_blobs", &Net::removed_blobs)
      // memory reuse (graph/net_memory.cpp)
      .def("enable_memory_reuse", &Net::enable_memory_reuse, py::arg("keep") = std::vector<std::string>{})
      .def_property_readonly("reused_blobs", &Net::reused_blobs)
      .def_property_readonly("arena_bytes", &Net::arena_bytes)
      .def_property_readonly("literal_layers", [](const Net& n) {
        py::list out;
        for (const auto& l : n.literal_layers()) out.append(py::make_tuple(l.name, l.type, l.params, l.owners));
        return out;
      });

  py::class_<Solver>(m, "Solver")
      .def(py::init([](const std::string& text, const std::string& filename, std::shared_ptr<Net> net) {
             return std::make_unique<Solver>(Solver::parse(text, filename), std::move(net));
           }),
           py::arg("text"), py::arg("filename"), py::arg("net"))
      .def("step", [](Solver& s, int iters, py::object before_forward) {
             std::function<void()> cb;
             if (!before_forward.is_none()) cb = [before_forward] {
               py::gil_scoped_acquire gil;
               before_forward();
             };
             py::gil_scoped_release nogil;
             return s.step(iters, cb);
           },
           py::arg("iters"), py::arg("before_forward") = py::none())
      .def_property("iter", &Solver::iter, &Solver::set_iter)
      .def_property("current_step", &Solver::current_step, &Solver::set_current_step)
      .def_property_readonly("learning_rate", &Solver::learning_rate)
      .def_property_readonly("net", &Solver::net)
      .def_property_readonly("history", &Solver::history)
      .def_property_readonly("learnable", &Solver::learnable);
  m.def("solver_param", [](const std::string& text, const std::string& filename) {
    // the fields the Python side needs, as a dict of strings / lists
    proto::Message p = Solver::parse(text, filename);
    py::dict d;
    for (const char* f : {"net", "train_net", "snapshot_prefix", "lr_policy", "type"}) d[f] = p.get_string(f);
    for (const char* f : {"max_iter", "snapshot", "display", "average_loss", "iter_size", "random_seed"})
      d[f] = p.has(f) || f != std::string("max_iter") ? py::cast(p.get_int(f)) : py::none();
    d["snapshot_after_train"] = p.get_bool("snapshot_after_train");
    d["debug_info"] = p.get_bool("debug_info");
    d["solver_mode"] = p.get_string("solver_mode");
    d["device_id"] = p.get_int("device_id");
    py::list given;  // the fields the file writes, once each, in file order
    for (const auto& f : p.fields)
      if (!given.contains(f.name)) given.append(f.name);
    d["given"] = given;
    return d;
  }, "parse and validate a solver prototxt; returns the fields the Python Solver uses, and under "
     "'given' the names of those the file writes");
  m.def("rng_state", [] {
    std::ostringstream os;
    os << Runtime::rng();
    return os.str();
  }, "the state of the generator behind fillers and Dropout, as text");
  m.def("set_rng_state", [](const std::string& state) {
    std::istringstream is(state);
    is >> Runtime::rng();
    PYC_CHECK(!is.fail(), "set_rng_state: not a generator state");
  });
  m.def("layer_types", &LayerRegistry::types, "the registered layer types (Caffe names)");
  m.def("schema", &schema_list, "the prototxt schema: messages with their fields, types and defaults");
  m.def("enums", &enums_dict, "the prototxt enums and their values");
  m.def("check_prototxt", [](const std::string& text, const std::string& filename) {
    proto::Message msg = proto::parse_text(text, filename);
    proto::validate(msg, "NetParameter");
  }, "parse and validate a net prototxt without building it (raises Error)");
  m.def("set_mode_cpu", [] { Runtime::set_mode(Mode::CPU); });
  m.def("set_mode_gpu", [] { Runtime::set_mode(Mode::GPU); });
  m.def("mode", [] { return Runtime::mode() == Mode::GPU ? "gpu" : "cpu"; });
  m.def("set_device", &Runtime::set_device);
  m.def("device", &Runtime::device, "the CUDA device that GPU mode runs on");
  m.def("cuda_compiled", &cuda_compiled);
  m.def("build_info", [] {
    // What CMake recorded (CMakeLists.txt: PYC_BUILD_*) and what the libraries report at run time.
    py::dict d;
    d["compiler"] = PYC_BUILD_COMPILER;
    d["cxx_flags"] = PYC_BUILD_CXX_FLAGS;
    d["build_type"] = PYC_BUILD_TYPE;
    d["openmp"] = std::to_string(_OPENMP);
    d["openblas_library"] = PYC_BUILD_OPENBLAS;
    d["openblas_config"] = blas::config();
    d["cuda_toolkit"] = PYC_BUILD_CUDA;
    for (const auto& [k, v] : gpu::library_versions()) d[py::str(k)] = v;
    return d;
  }, "how this extension was built and what it runs on");
  m.def("set_allow_tf32", [](bool allow) {
    PYC_CHECK(!allow || cuda_compiled(), "set_allow_tf32: pycolorize was built without CUDA");
    if (cuda_compiled()) gpu::set_allow_tf32(allow);
  });
  m.def("allow_tf32", [] { return cuda_compiled() && gpu::allow_tf32(); });
  m.def("gpu_memory", [] {
    py::dict d;
    d["allocated"] = gpu::allocated_bytes();
    d["peak_allocated"] = gpu::peak_allocated_bytes();
    if (cuda_compiled() && gpu_count() > 0) {
      size_t free_b = 0, total = 0;
      gpu::memory_info(&free_b, &total);
      d["device_free"] = free_b;
      d["device_total"] = total;
    }
    return d;
  }, "device memory: pycolorize's own allocations (now, peak) and the device's free/total bytes");
  m.def("reset_gpu_peak", &gpu::reset_peak);
  m.def("synchronize", [] { if (cuda_compiled() && gpu_count() > 0) gpu::synchronize(); });
  m.def("gpu_count", &gpu_count);
  m.def("gpu_name", &gpu_name);
  m.def("set_random_seed", &Runtime::set_random_seed);
  m.def("set_num_threads", &Runtime::set_num_threads);
  m.def("num_threads", &Runtime::num_threads);
  bind_parallel(m);

  // ---- hooks for the tests only (tests/test_layers.py checks Dropout's mask against a Python
  // Philox); nothing in pycolorize uses them.
  py::module_ testing = m.def_submodule("_testing", "hooks for pycolorize's tests only; not an API");
  testing.def("philox4x32_10", [](std::array<uint32_t, 4> c, std::array<uint32_t, 2> k) {
    const Philox4 r = philox4x32_10(c[0], c[1], c[2], c[3], k[0], k[1]);
    return std::array<uint32_t, 4>{r.w[0], r.w[1], r.w[2], r.w[3]};
  }, "Philox4x32-10 of (counter[4], key[2]), the generator behind Dropout's mask");
  testing.def("dropout_seed", [](const Layer& layer) {
    const auto* d = dynamic_cast<const DropoutLayer*>(&layer);
    PYC_CHECK(d, "layer '", layer.name(), "' (", layer.type(), ") is not a Dropout layer");
    return d->seed();
  }, "the seed of a Dropout layer's last TRAIN forward (its mask is Philox of it; see dropout_layer.h)");
  testing.def("set_conv_batch_floats", &BaseConvolutionLayer::set_cpu_batch_floats,
              "the CPU convolution's buffer budget for several images per GEMM, in floats (default 2**24)");
  testing.def("set_conv_kernel_rows", &BaseConvolutionLayer::set_cpu_kernel_rows,
              "the CPU convolution's kernel-row strategy on (the default) or off (im2col for every pass)");
  testing.def("set_conv_winograd", &ConvolutionLayer::set_cpu_winograd,
              "the CPU convolution's Winograd F(2x2, 3x3): 0 off, 1 where it pays (the default), 2 wherever it applies");
  testing.def("conv_path_counts", [](bool reset) {
    const auto n = BaseConvolutionLayer::cpu_path_counts(reset);
    return py::dict(py::arg("im2col") = n[0], py::arg("kernel_rows") = n[1], py::arg("winograd") = n[2]);
  }, py::arg("reset") = false, "how many CPU convolution passes ran each way since the last reset (reset=True resets)");
  testing.def("set_conv_band_floats", &BaseConvolutionLayer::set_cpu_band_floats,
              "the CPU convolution's column buffer per band, in floats (default 2**22)");
}
