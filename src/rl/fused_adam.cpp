// One Adam step through PyTorch's own fused kernel, `aten::_fused_adam_` (what
// `torch.optim.Adam(fused=True)` calls): one pass over parameters, gradients and moments
// instead of a kernel per arithmetic operation. tch does not bind the op, so src/rl/optim.rs
// reaches it through this function; build.rs compiles it against libtorch's headers.
#include <ATen/core/Tensor.h>
#include <ATen/ops/_fused_adam.h>

#include <cstdio>
#include <exception>
#include <vector>

namespace {
std::vector<at::Tensor> gather(at::Tensor *const *tensors, size_t n) {
  std::vector<at::Tensor> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) out.push_back(*tensors[i]);
  return out;
}
}  // namespace

// `params`, `grads`, `exp_avgs` and `exp_avg_sqs` hold `n` tensors each (tch's tensor handles
// are `at::Tensor*`); `step` is a float tensor on the parameters' device holding the step
// number, already counted. Returns 0, or 1 with libtorch's message written into `error`.
extern "C" int virel_fused_adam(at::Tensor *const *params, at::Tensor *const *grads,
                                at::Tensor *const *exp_avgs, at::Tensor *const *exp_avg_sqs,
                                size_t n, at::Tensor *step, double lr, double beta1,
                                double beta2, double eps, char *error, size_t error_len) {
  try {
    // One step count per tensor, as the kernel expects; they all share the one tensor.
    const std::vector<at::Tensor> steps(n, *step);
    at::_fused_adam_(gather(params, n), gather(grads, n), gather(exp_avgs, n),
                     gather(exp_avg_sqs, n), {}, steps, lr, beta1, beta2,
                     /*weight_decay=*/0.0, eps, /*amsgrad=*/false, /*maximize=*/false);
    return 0;
  } catch (const std::exception &e) {
    std::snprintf(error, error_len, "%s", e.what());
    return 1;
  }
}
