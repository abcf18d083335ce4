//! Adam with its state in plain tensors, so that checkpoints can carry it (tch's optimiser
//! keeps its moments inside libtorch, out of reach). Same update as `torch.optim.Adam`
//! (β₁ 0.9, β₂ 0.999, ε 1e-8, bias-corrected, no weight decay), over all of a network's
//! variables at once: they live in one buffer, so a step is a handful of kernels whatever the
//! number of tensors (torch's `foreach`/`fused` Adam do the same; tch exposes neither).

use tch::{Kind, Tensor, nn};

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
        Self {
            params: vs.trainable_variables(),
            exp_avg: zeros(),
            exp_avg_sq: zeros(),
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

    /// The variables' gradients in one buffer laid out as `flat` (zeros for a variable the
    /// loss did not reach).
    fn flat_grad(&self) -> Tensor {
        let grads: Vec<Tensor> = self
            .params
            .iter()
            .map(|p| {
                let g = p.grad();
                if g.defined() {
                    g.view([-1])
                } else {
                    Tensor::zeros([p.numel() as i64], (p.kind(), p.device()))
                }
            })
            .collect();
        Tensor::cat(&grads, 0)
    }

    /// One Adam step on the current gradients.
    #[inline(never)]
    pub fn step(&mut self) {
        self.steps += 1;
        let t = self.steps as i32;
        let bias1 = 1.0 - BETA1.powi(t);
        let bias2_sqrt = (1.0 - BETA2.powi(t)).sqrt();
        tch::no_grad(|| {
            let g = self.flat_grad();
            let _ = self.exp_avg.lerp_(&g, 1.0 - BETA1);
            let _ = self.exp_avg_sq.lerp_(&g.square(), 1.0 - BETA2);
            let mut denom = self.exp_avg_sq.sqrt();
            let _ = denom.divide_scalar_(bias2_sqrt).g_add_scalar_(EPS);
            let _ = self
                .flat
                .addcdiv_(&(&self.exp_avg * (-self.lr / bias1)), &denom);
        });
    }

    /// The slices of a flat buffer that belong to each variable, shaped like it.
    fn per_variable(&self, flat: &Tensor) -> Vec<Tensor> {
        let mut offset = 0;
        self.params
            .iter()
            .map(|p| {
                let n = p.numel() as i64;
                let view = flat.narrow(0, offset, n).view(p.size().as_slice());
                offset += n;
                view
            })
            .collect()
    }

    /// Moments and step count as named tensors (`exp_avg/i`, `exp_avg_sq/i`, `steps`).
    pub fn state(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::with_capacity(2 * self.params.len() + 1);
        let (m, v) = (
            self.per_variable(&self.exp_avg),
            self.per_variable(&self.exp_avg_sq),
        );
        // Copies: a view would carry the whole buffer into a checkpoint.
        for (i, (m, v)) in m.iter().zip(&v).enumerate() {
            out.push((format!("exp_avg/{i}"), m.copy()));
            out.push((format!("exp_avg_sq/{i}"), v.copy()));
        }
        out.push(("steps".into(), Tensor::from_slice(&[self.steps as i64])));
        out
    }

    /// Restores what [`Adam::state`] gave; `get` looks a name up.
    pub fn load_state(&mut self, get: impl Fn(&str) -> Option<Tensor>) -> anyhow::Result<()> {
        let (mut m, mut v) = (
            self.per_variable(&self.exp_avg),
            self.per_variable(&self.exp_avg_sq),
        );
        for (i, (m, v)) in m.iter_mut().zip(&mut v).enumerate() {
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
