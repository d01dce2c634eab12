// solver.cpp
#include "solver.h"

#include <algorithm>
#include <cmath>

#include "proto/schema.h"
#include "proto/text_format.h"
#include "util/blas.h"
#include "util/gpu_math.h"

namespace pycolorize {

proto::Message Solver::parse(const std::string& text, const std::string& filename) {
  proto::Message m = proto::parse_text(text, filename);
  proto::validate(m, "SolverParameter");
  return m;
}

Solver::Solver(const proto::Message& param, std::shared_ptr<Net> net) : param_(param), net_(std::move(net)) {
  const std::string where = param_.loc.file;
  std::string type = param_.get_string("type");
  if (param_.has("solver_type")) type = param_.get_string("solver_type");
  PYC_CHECK(type == "SGD", where, ": solver type '", type, "' is not implemented (pycolorize runs SGD with momentum)");
  PYC_CHECK(param_.has("base_lr"), where, ": the solver needs base_lr");
  policy_ = param_.get_string("lr_policy");
  const std::vector<std::string> policies{"fixed", "step", "exp", "inv", "multistep", "poly", "sigmoid"};
  PYC_CHECK(std::find(policies.begin(), policies.end(), policy_) != policies.end(), where, ": unknown lr_policy '",
            policy_, "'; known: fixed, step, exp, inv, multistep, poly, sigmoid");
  auto need = [&](const char* field) {
    PYC_CHECK(param_.has(field), where, ": lr_policy ", policy_, " needs ", field);
  };
  if (policy_ == "step" || policy_ == "sigmoid") need("stepsize");
  if (policy_ != "fixed" && policy_ != "poly") need("gamma");
  if (policy_ == "inv" || policy_ == "poly") need("power");
  if (policy_ == "poly") need("max_iter");
  if (policy_ == "multistep") PYC_CHECK(!param_.ints("stepvalue").empty(), where, ": lr_policy multistep needs stepvalue");
  const std::string reg = param_.get_string("regularization_type");
  PYC_CHECK(reg == "L2" || reg == "L1", where, ": regularization_type must be L1 or L2, got '", reg, "'");
  PYC_CHECK(param_.get_int("iter_size") >= 1, where, ": iter_size must be at least 1");
  const auto& params = net_->params();
  for (size_t i = 0; i < params.size(); ++i) {
    if (net_->param_owners()[i] >= 0) continue;  // shared: the owner carries the update
    learnable_.push_back(static_cast<int>(i));
    history_.push_back(std::make_shared<Blob>(params[i]->shape()));
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
  float loss = 0;
  for (int k = 0; k < iters; ++k) {
    net_->clear_param_diffs();
    double sum = 0;
    for (int i = 0; i < iter_size; ++i) {
      if (before_forward) before_forward();
      sum += net_->forward();
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
  const double norm = std::sqrt(sumsq);
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
  clip_gradients();
  const float norm = 1.f / param_.get_int("iter_size");
  const float momentum = param_.get_float("momentum");
  const float weight_decay = param_.get_float("weight_decay");
  const bool l1 = param_.get_string("regularization_type") == "L1";
  for (size_t k = 0; k < learnable_.size(); ++k) {
    const int i = learnable_[k];
    Blob& p = *net_->params()[i];
    Blob& h = *history_[k];
    const float local_rate = rate * net_->params_lr()[i];
    const float local_decay = weight_decay * net_->params_decay()[i];
    if (Runtime::mode() == Mode::GPU)
      sgd_update_gpu(p.count(), p.mutable_gpu_data(), p.mutable_gpu_diff(), h.mutable_gpu_data(), norm, local_decay, l1,
                     momentum, local_rate);
    else
      sgd_update_cpu(p.count(), p.mutable_cpu_data(), p.mutable_cpu_diff(), h.mutable_cpu_data(), norm, local_decay, l1,
                     momentum, local_rate);
  }
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
