//! Adam with its state in plain tensors, so that checkpoints can carry it (tch's optimiser
//! keeps its moments inside libtorch, out of reach). Same update as `torch.optim.Adam`
//! (β₁ 0.9, β₂ 0.999, ε 1e-8, bias-corrected, no weight decay), over all of a network's
//! variables at once: they live in one buffer. On the CPU a step is one call of PyTorch's fused
//! Adam kernel (`aten::_fused_adam_`, as `torch.optim.Adam(fused=True)`; tch does not bind it,
//! src/rl/fused_adam.cpp does): one pass over parameters, gradients and moments. Elsewhere it
//! is nine kernels over the whole buffer ([`Adam::step_unfused`]).

use tch::{Device, Kind, Tensor, nn};

/// Adam's β₁ (PyTorch's default).
pub const BETA1: f64 = 0.9;
/// Adam's β₂ (PyTorch's default).
pub const BETA2: f64 = 0.999;
/// Adam's ε (PyTorch's default).
pub const EPS: f64 = 1e-8;

/// Adam over one network's variables, its moments in one flat buffer each (saved in checkpoints).
pub struct Adam {
    /// The network's trainable variables, each a view into `flat`.
    params: Vec<Tensor>,
    /// Every trainable variable of the network in one contiguous buffer (see
    /// [`super::nets::flatten`]): one set of kernels per step instead of one per tensor.
    flat: Tensor,
    exp_avg: Tensor,
    exp_avg_sq: Tensor,
    /// `exp_avg` and `exp_avg_sq` seen per variable, shaped like `params` (for the fused kernel).
    exp_avg_views: Vec<Tensor>,
    exp_avg_sq_views: Vec<Tensor>,
    /// The step number as a float tensor on the parameters' device (the fused kernel reads it).
    step_tensor: Tensor,
    /// Learning rate.
    pub lr: f64,
    /// Steps taken, for the bias correction.
    pub steps: u64,
}

impl Adam {
    /// Optimises every trainable variable of `vs`, whose variables it moves into one buffer.
    pub fn new(vs: &nn::VarStore, lr: f64) -> Self {
        let flat = super::nets::flatten(vs);
        let zeros = || Tensor::zeros_like(&flat).set_requires_grad(false);
        let params = vs.trainable_variables();
        let (exp_avg, exp_avg_sq) = (zeros(), zeros());
        Self {
            exp_avg_views: super::nets::views_like(&params, &exp_avg),
            exp_avg_sq_views: super::nets::views_like(&params, &exp_avg_sq),
            step_tensor: Tensor::zeros([], (Kind::Float, flat.device())),
            params,
            exp_avg,
            exp_avg_sq,
            flat,
            lr,
            steps: 0,
        }
    }

    /// The network's variables as one buffer (for polyak updates of a target network).
    pub fn flat_params(&self) -> &Tensor {
        &self.flat
    }

    /// Zeroes the gradients.
    pub fn zero_grad(&mut self) {
        for p in &mut self.params {
            p.zero_grad();
        }
    }

    /// zero_grad → backward → step.
    #[inline(never)]
    pub fn backward_step(&mut self, loss: &Tensor) {
        self.zero_grad();
        loss.backward();
        self.step();
    }

    /// Each variable's gradient (zeros for a variable the loss did not reach).
    fn grads(&self) -> Vec<Tensor> {
        self.params
            .iter()
            .map(|p| {
                let g = p.grad();
                if g.defined() {
                    g
                } else {
                    Tensor::zeros_like(p)
                }
            })
            .collect()
    }

    /// One Adam step on the current gradients: fused on the CPU, [`Self::step_unfused`]
    /// elsewhere.
    #[inline(never)]
    pub fn step(&mut self) {
        if self.flat.device() == Device::Cpu {
            self.step_fused();
        } else {
            self.step_unfused();
        }
    }

    /// One Adam step through PyTorch's fused kernel.
    pub fn step_fused(&mut self) {
        self.steps += 1;
        let grads = self.grads();
        tch::no_grad(|| {
            let _ = self.step_tensor.fill_(self.steps as f64);
        });
        let handles = |ts: &[Tensor]| ts.iter().map(|t| t.as_ptr().cast()).collect::<Vec<_>>();
        let (p, g) = (handles(&self.params), handles(&grads));
        let (m, v) = (
            handles(&self.exp_avg_views),
            handles(&self.exp_avg_sq_views),
        );
        let mut error = [0u8; 512];
        // SAFETY: every handle is a live tensor owned by `self` or `grads` for the call, and
        // the four lists have `p.len()` entries; `error` is writable for its length.
        let failed = unsafe {
            virel_fused_adam(
                p.as_ptr(),
                g.as_ptr(),
                m.as_ptr(),
                v.as_ptr(),
                p.len(),
                self.step_tensor.as_ptr().cast(),
                self.lr,
                BETA1,
                BETA2,
                EPS,
                error.as_mut_ptr().cast(),
                error.len(),
            )
        };
        if failed != 0 {
            let end = error.iter().position(|&b| b == 0).unwrap_or(error.len());
            let message = String::from_utf8_lossy(&error[..end]);
            // The kernel checks only shapes, devices and dtypes, which `new` fixed.
            panic!(
                "PyTorch's fused Adam refused the step: {}",
                message.lines().next().unwrap_or_default()
            );
        }
    }

    /// One Adam step as nine kernels over the whole buffer (its gradients gathered into one).
    pub fn step_unfused(&mut self) {
        self.steps += 1;
        let t = self.steps as i32;
        let bias1 = 1.0 - BETA1.powi(t);
        let bias2_sqrt = (1.0 - BETA2.powi(t)).sqrt();
        tch::no_grad(|| {
            let grads: Vec<Tensor> = self.grads().iter().map(|g| g.view([-1])).collect();
            let g = Tensor::cat(&grads, 0);
            let _ = self.exp_avg.lerp_(&g, 1.0 - BETA1);
            let _ = self.exp_avg_sq.lerp_(&g.square(), 1.0 - BETA2);
            let mut denom = self.exp_avg_sq.sqrt();
            let _ = denom.divide_scalar_(bias2_sqrt).g_add_scalar_(EPS);
            let _ = self
                .flat
                .addcdiv_(&(&self.exp_avg * (-self.lr / bias1)), &denom);
        });
    }

    /// Moments and step count as named tensors (`exp_avg/i`, `exp_avg_sq/i`, `steps`).
    pub fn state(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::with_capacity(2 * self.params.len() + 1);
        // Copies: a view would carry the whole buffer into a checkpoint.
        for (i, (m, v)) in self
            .exp_avg_views
            .iter()
            .zip(&self.exp_avg_sq_views)
            .enumerate()
        {
            out.push((format!("exp_avg/{i}"), m.copy()));
            out.push((format!("exp_avg_sq/{i}"), v.copy()));
        }
        out.push(("steps".into(), Tensor::from_slice(&[self.steps as i64])));
        out
    }

    /// Restores what [`Adam::state`] gave; `get` looks a name up.
    pub fn load_state(&mut self, get: impl Fn(&str) -> Option<Tensor>) -> anyhow::Result<()> {
        let views = self
            .exp_avg_views
            .iter_mut()
            .zip(&mut self.exp_avg_sq_views);
        for (i, (m, v)) in views.enumerate() {
            for (name, dst) in [
                (format!("exp_avg/{i}"), &mut *m),
                (format!("exp_avg_sq/{i}"), &mut *v),
            ] {
                let src = get(&name)
                    .ok_or_else(|| anyhow::anyhow!("optimiser state '{name}' is missing"))?;
                anyhow::ensure!(
                    src.size() == dst.size(),
                    "optimiser state '{name}' has shape {:?}, expected {:?}",
                    src.size(),
                    dst.size()
                );
                tch::no_grad(|| dst.copy_(&src));
            }
        }
        let steps =
            get("steps").ok_or_else(|| anyhow::anyhow!("optimiser state 'steps' is missing"))?;
        self.steps = steps.to_kind(Kind::Int64).int64_value(&[0]).max(0) as u64;
        Ok(())
    }
}

unsafe extern "C" {
    /// src/rl/fused_adam.cpp; the tensors are tch's handles (`at::Tensor*`).
    fn virel_fused_adam(
        params: *const *const std::ffi::c_void,
        grads: *const *const std::ffi::c_void,
        exp_avgs: *const *const std::ffi::c_void,
        exp_avg_sqs: *const *const std::ffi::c_void,
        n: usize,
        step: *const std::ffi::c_void,
        lr: f64,
        beta1: f64,
        beta2: f64,
        eps: f64,
        error: *mut std::ffi::c_char,
        error_len: usize,
    ) -> std::ffi::c_int;
}
