// parallel/bind_parallel.cpp: the bindings of data-parallel training (pycolorize/distributed.py),
// kept apart from bindings.cpp, which calls bind_parallel() once.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#ifdef USE_NCCL
#include "parallel/nccl_api.h"  // nccl.h: only where the build found NCCL
#endif
#include "parallel/nccl_sync.h"
#include "parallel/parallel.h"
#include "solver.h"

namespace py = pybind11;

namespace pycolorize {

namespace {

// A GradientSync written in Python (the MPI backend); the solver calls it without the GIL held,
// and each override takes it.
class PyGradientSync : public GradientSync {
 public:
  int world_size() const override { PYBIND11_OVERRIDE_PURE(int, GradientSync, world_size); }
  void reduce(const std::vector<int>& params) override { PYBIND11_OVERRIDE_PURE(void, GradientSync, reduce, params); }
  void wait(int param) override { PYBIND11_OVERRIDE_PURE(void, GradientSync, wait, param); }
  void finish() override { PYBIND11_OVERRIDE_PURE(void, GradientSync, finish); }
};

}  // namespace

void bind_parallel(py::module_& m) {
  py::class_<GradientSync, PyGradientSync, std::shared_ptr<GradientSync>>(
      m, "GradientSync", "sums gradients across ranks for the Solver (parallel/parallel.h); subclass in Python")
      .def(py::init<>())
      .def("world_size", &GradientSync::world_size)
      .def("reduce", &GradientSync::reduce)
      .def("wait", &GradientSync::wait)
      .def("finish", &GradientSync::finish);
  auto solver = py::reinterpret_borrow<py::class_<Solver>>(m.attr("Solver"));
  solver.def("set_gradient_sync", &Solver::set_gradient_sync, py::arg("sync").none(true))
      .def_property_readonly("reduce_after_layer", &Solver::reduce_after_layer);
  m.def("set_shard", &parallel::set_shard, py::arg("rank"), py::arg("world_size"),
        "this process's rank among `world_size` ranks splitting each batch (Dropout keys masks by it)");
  m.def("shard", [] { return py::make_tuple(parallel::rank(), parallel::world_size()); });
#ifdef USE_NCCL
  m.attr("nccl_compiled") = true;
  m.def("nccl_unique_id", [] { return py::bytes(nccl_unique_id()); });
  // NCCL is loaded on first use (parallel/nccl_api.h): where to look, and what was loaded
  m.def("set_nccl_search_paths", &set_nccl_search_paths, py::arg("folders"),
        "folders to look in for libnccl.so.2 (after PYCOLORIZE_NCCL_LIBRARY, before the loader's search path)");
  m.def("nccl_loaded", &nccl_loaded, "whether NCCL has been loaded (a query that loads nothing)");
  m.def("nccl_library", [] { return nccl().path; }, "the file NCCL's functions come from (loading it if needed)");
  py::class_<NcclSync, GradientSync, std::shared_ptr<NcclSync>>(m, "NcclSync")
      .def(py::init([](py::bytes id, int rank, int world, std::shared_ptr<Net> net, double timeout_s) {
             std::string s = id;
             py::gil_scoped_release nogil;
             return std::make_shared<NcclSync>(s, rank, world, std::move(net), timeout_s);
           }),
           py::arg("unique_id"), py::arg("rank"), py::arg("world_size"), py::arg("net"), py::arg("timeout_s"))
      .def_property_readonly("rank", &NcclSync::rank)
      .def("broadcast_params", &NcclSync::broadcast_params, py::arg("root") = 0, py::call_guard<py::gil_scoped_release>())
      .def("allreduce", [](NcclSync& s, py::array_t<double, py::array::c_style> a) {
             double* p = a.mutable_data();
             const size_t n = a.size();
             py::gil_scoped_release nogil;
             s.allreduce_host(p, n);
           }, "in place: the sum over ranks of a float64 array")
      .def("broadcast", [](NcclSync& s, py::bytes data, int root) {
             std::string b = data;
             {
               py::gil_scoped_release nogil;
               s.broadcast_host(b.data(), b.size(), root);
             }
             return py::bytes(b);
           }, py::arg("data"), py::arg("root") = 0, "rank root's bytes (every rank passes as many)")
      .def("broadcast_array", [](NcclSync& s, py::array a, int root) {
             PYC_CHECK(a.flags() & py::array::c_style, "broadcast_array: the array must be C-contiguous");
             void* p = a.mutable_data();
             const size_t n = a.nbytes();
             py::gil_scoped_release nogil;
             s.broadcast_host(p, n, root);
           }, py::arg("array"), py::arg("root") = 0, "in place: rank root's values (every rank passes the same shape)")
      .def("abort", &NcclSync::abort);
#else
  m.attr("nccl_compiled") = false;
#endif
}

}  // namespace pycolorize
