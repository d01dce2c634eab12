// solver.cpp
#include "solver.h"

#include <algorithm>
#include <cmath>

#include "proto/schema.h"
#include "proto/text_format.h"
#include "util/blas.h"
#include "util/gpu_math.h"

namespace pycolorize {

namespace {

// Where an error about `field` points: "<file>:<line>:<col>" of the field when the solver file
// writes it, else "<file>".
std::string loc(const proto::Message& p, const std::string& field) {
  const proto::Field* f = p.find(field);
  return f ? f->loc.str() : p.loc.file;
}

}  // namespace

proto::Message Solver::parse(const std::string& text, const std::string& filename) {
  proto::Message m = proto::parse_text(text, filename);
  proto::validate(m, "SolverParameter");
  check(m);
  return m;
}

void Solver::check(const proto::Message& p) {
  // What the schema cannot say: values pycolorize does not implement, and Caffe's own CHECKs.
  PYC_CHECK(!(p.has("net") && p.has("train_net")), loc(p, "train_net"),
            ": net and train_net are both given; give one (Caffe too wants exactly one)");
  PYC_CHECK(!(p.has("type") && p.has("solver_type")), loc(p, "solver_type"),
            ": type and solver_type are both given; give type only (Caffe refuses both too)");
  const char* type_field = p.has("solver_type") ? "solver_type" : "type";
  const std::string type = p.get_string(type_field);
  PYC_CHECK(type == "SGD", loc(p, type_field), ": ", type_field, " '", type,
            "' is not implemented; pycolorize's solver is SGD with momentum (Caffe's \"SGD\")");
  PYC_CHECK(p.has("base_lr"), p.loc.file, ": the solver needs base_lr");
  const std::string policy = p.get_string("lr_policy");
  const std::vector<std::string> policies{"fixed", "step", "exp", "inv", "multistep", "poly", "sigmoid"};
  PYC_CHECK(std::find(policies.begin(), policies.end(), policy) != policies.end(), loc(p, "lr_policy"),
            ": unknown lr_policy '", policy, "'; known: fixed, step, exp, inv, multistep, poly, sigmoid");
  auto need = [&](const char* field) {
    PYC_CHECK(p.has(field), loc(p, "lr_policy"), ": lr_policy ", policy, " needs ", field);
  };
  if (policy == "step" || policy == "sigmoid") need("stepsize");
  if (policy != "fixed" && policy != "poly") need("gamma");
  if (policy == "inv" || policy == "poly") need("power");
  if (policy == "poly") need("max_iter");
  if (policy == "multistep") PYC_CHECK(p.has("stepvalue"), loc(p, "lr_policy"), ": lr_policy multistep needs stepvalue");
  if (policy == "step")  // Caffe's CHECK_GT(stepsize, 0): the rate decays every stepsize iterations
    PYC_CHECK(p.get_int("stepsize") > 0, loc(p, "stepsize"), ": stepsize must be positive for lr_policy step, got ",
              p.get_int("stepsize"));
  if (policy == "poly")  // the rate is base_lr (1 - iter / max_iter)^power
    PYC_CHECK(p.get_int("max_iter") > 0, loc(p, "max_iter"), ": max_iter must be positive for lr_policy poly, got ",
              p.get_int("max_iter"));
  const std::string reg = p.get_string("regularization_type");
  PYC_CHECK(reg == "L2" || reg == "L1", loc(p, "regularization_type"), ": regularization_type must be L1 or L2, got '",
            reg, "'");
  for (const char* field : {"iter_size", "average_loss"})  // average_loss: Caffe's CHECK_GE(average_loss, 1)
    PYC_CHECK(p.get_int(field) >= 1, loc(p, field), ": ", field, " must be at least 1, got ", p.get_int(field));
  for (const char* field : {"display", "snapshot", "max_iter"})
    if (p.has(field))
      PYC_CHECK(p.get_int(field) >= 0, loc(p, field), ": ", field, " must not be negative, got ", p.get_int(field));
  PYC_CHECK(p.get_string("snapshot_format") == "HDF5", loc(p, "snapshot_format"), ": snapshot_format ",
            p.get_string("snapshot_format"), " is not implemented; pycolorize writes HDF5 snapshots (snapshot_format: HDF5)");
}

Solver::Solver(const proto::Message& param, std::shared_ptr<Net> net) : param_(param), net_(std::move(net)) {
  check(param_);
  policy_ = param_.get_string("lr_policy");
  const auto& params = net_->params();
  for (size_t i = 0; i < params.size(); ++i) {
    if (net_->param_owners()[i] >= 0) continue;  // shared: the owner carries the update
    learnable_.push_back(static_cast<int>(i));
    history_.push_back(std::make_shared<Blob>(params[i]->shape()));
  }
  // Parameters are numbered layer by layer (Net::params()); a shared one's gradient accumulates in
  // its owner's diff, final after the lowest layer using it has run backward.
  reduce_after_.assign(net_->num_layers(), {});
  std::vector<int> lowest(params.size(), -1);
  for (int l = 0, g = 0; l < net_->num_layers(); ++l)
    for (size_t j = 0; j < net_->layer(l).blobs().size(); ++j, ++g) {
      const int owner = net_->param_owners()[g] >= 0 ? net_->param_owners()[g] : g;
      if (lowest[owner] < 0) lowest[owner] = l;  // layers run forward in order: the first is the lowest
    }
  for (int i : learnable_)
    if (net_->params_lr()[i] != 0.f) reduce_after_[lowest[i]].push_back(i);
}

void Solver::set_gradient_sync(std::shared_ptr<GradientSync> sync) {
  PYC_CHECK(!sync || sync->world_size() >= 1, "set_gradient_sync: world size ", sync->world_size());
  sync_ = std::move(sync);
}

void Solver::backward_reducing() {
  for (int l = net_->num_layers() - 1; l >= 0; --l) {
    net_->backward_from_to(l, l);
    if (!reduce_after_[l].empty()) sync_->reduce(reduce_after_[l]);
  }
}

void Solver::set_iter(int iter) {
  PYC_CHECK(iter >= 0, "solver iteration must be non-negative, got ", iter);
  iter_ = iter;
}

bool Solver::multistep_due() const {
  const std::vector<int> stepvalues = param_.ints("stepvalue");
  return policy_ == "multistep" && current_step_ < (int)stepvalues.size() && iter_ >= stepvalues[current_step_];
}

float Solver::learning_rate() const { return rate(current_step_ + (multistep_due() ? 1 : 0)); }

float Solver::rate(int step) const {
  const double base = param_.get_float("base_lr");
  const double it = iter_;
  if (policy_ == "fixed") return static_cast<float>(base);
  if (policy_ == "poly")
    return static_cast<float>(base * std::pow(1.0 - it / param_.get_int("max_iter"), param_.get_float("power")));
  const double gamma = param_.get_float("gamma");
  if (policy_ == "step") return static_cast<float>(base * std::pow(gamma, std::floor(it / param_.get_int("stepsize"))));
  if (policy_ == "exp") return static_cast<float>(base * std::pow(gamma, it));
  if (policy_ == "inv") return static_cast<float>(base * std::pow(1.0 + gamma * it, -param_.get_float("power")));
  if (policy_ == "multistep") return static_cast<float>(base * std::pow(gamma, step));
  return static_cast<float>(base / (1.0 + std::exp(-gamma * (it - param_.get_int("stepsize")))));  // sigmoid
}

float Solver::step(int iters, const std::function<void()>& before_forward) {
  PYC_CHECK(iters >= 0, "step(", iters, "): the number of iterations must be non-negative");
  const int iter_size = param_.get_int("iter_size");
  Runtime::bind_thread();
  float loss = 0;
  for (int k = 0; k < iters; ++k) {
    net_->clear_param_diffs();
    double sum = 0;
    for (int i = 0; i < iter_size; ++i) {
      if (before_forward) before_forward();
      sum += net_->forward();
      if (sync_ && i == iter_size - 1)
        backward_reducing();
      else
        net_->backward();
    }
    loss = static_cast<float>(sum / iter_size);
    // As Caffe, the multistep counter advances (by at most one) when the update's rate is computed.
    if (multistep_due()) ++current_step_;
    apply_update();
    ++iter_;
  }
  return loss;
}

void Solver::clip_gradients() {
  const float clip = param_.get_float("clip_gradients");
  if (clip < 0) return;
  const bool gpu = Runtime::mode() == Mode::GPU;
  double sumsq = 0;
  for (int i : learnable_) {
    Blob& p = *net_->params()[i];
    sumsq += gpu ? gpu::dot(p.count(), p.gpu_diff(), p.gpu_diff()) : blas::dot(p.count(), p.cpu_diff(), p.cpu_diff());
  }
  // With N ranks the diffs hold N times the mean gradient; Caffe clips the mean's (un-normalised
  // by iter_size, as here) norm.
  const double norm = std::sqrt(sumsq) / (sync_ ? sync_->world_size() : 1);
  if (norm <= clip) return;
  const float s = static_cast<float>(clip / norm);
  for (int i : learnable_) {
    Blob& p = *net_->params()[i];
    if (gpu)
      gpu::scale(p.count(), s, p.mutable_gpu_diff());
    else
      blas::scale(p.count(), s, p.mutable_cpu_diff());
  }
}

void Solver::apply_update() {
  const float rate = this->rate(current_step_);
  const int world = sync_ ? sync_->world_size() : 1;
  if (sync_ && param_.get_float("clip_gradients") >= 0)  // the norm needs every sum
    for (int i : learnable_) sync_->wait(i);
  clip_gradients();
  const float norm = 1.f / (static_cast<float>(param_.get_int("iter_size")) * world);
  const float momentum = param_.get_float("momentum");
  const float weight_decay = param_.get_float("weight_decay");
  const bool l1 = param_.get_string("regularization_type") == "L1";
  // With a GradientSync, top layers first: their sums finished first (the order changes no value).
  for (size_t n = 0; n < learnable_.size(); ++n) {
    const size_t k = sync_ ? learnable_.size() - 1 - n : n;
    const int i = learnable_[k];
    Blob& p = *net_->params()[i];
    Blob& h = *history_[k];
    const float local_rate = rate * net_->params_lr()[i];
    const float local_decay = weight_decay * net_->params_decay()[i];
    if (sync_) sync_->wait(i);
    if (Runtime::mode() == Mode::GPU)
      sgd_update_gpu(p.count(), p.mutable_gpu_data(), p.mutable_gpu_diff(), h.mutable_gpu_data(), norm, local_decay, l1,
                     momentum, local_rate);
    else
      sgd_update_cpu(p.count(), p.mutable_cpu_data(), p.mutable_cpu_diff(), h.mutable_cpu_data(), norm, local_decay, l1,
                     momentum, local_rate);
  }
  if (sync_) sync_->finish();
}

void sgd_update_cpu(int64_t n, float* data, float* diff, float* history, float norm, float decay, bool l1,
                    float momentum, float rate) {
#pragma omp parallel for if (n > 65536)
  for (int64_t j = 0; j < n; ++j) sgd_update_element(j, data, diff, history, norm, decay, l1, momentum, rate);
}

#ifndef USE_CUDA
void sgd_update_gpu(int64_t, float*, float*, float*, float, float, bool, float, float) {
  throw Error("pycolorize was built without CUDA");
}
#endif

}  // namespace pycolorize
