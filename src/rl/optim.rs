//! Adam with its state in plain tensors, so that checkpoints can carry it (tch's optimiser
//! keeps its moments inside libtorch, out of reach). Same update as `torch.optim.Adam`
//! (β₁ 0.9, β₂ 0.999, ε 1e-8, bias-corrected, no weight decay).

use tch::{Kind, Tensor, nn};

pub const BETA1: f64 = 0.9;
pub const BETA2: f64 = 0.999;
pub const EPS: f64 = 1e-8;

pub struct Adam {
    params: Vec<Tensor>,
    exp_avg: Vec<Tensor>,
    exp_avg_sq: Vec<Tensor>,
    pub lr: f64,
    /// Steps taken, for the bias correction.
    pub steps: u64,
}

impl Adam {
    /// Optimises every trainable variable of `vs`.
    pub fn new(vs: &nn::VarStore, lr: f64) -> Self {
        let params = vs.trainable_variables();
        let zeros = |p: &Tensor| Tensor::zeros_like(p).set_requires_grad(false);
        Self {
            exp_avg: params.iter().map(zeros).collect(),
            exp_avg_sq: params.iter().map(zeros).collect(),
            params,
            lr,
            steps: 0,
        }
    }

    pub fn zero_grad(&mut self) {
        for p in &mut self.params {
            p.zero_grad();
        }
    }

    /// zero_grad → backward → step.
    pub fn backward_step(&mut self, loss: &Tensor) {
        self.zero_grad();
        loss.backward();
        self.step();
    }

    pub fn step(&mut self) {
        self.steps += 1;
        let t = self.steps as i32;
        let bias1 = 1.0 - BETA1.powi(t);
        let bias2_sqrt = (1.0 - BETA2.powi(t)).sqrt();
        tch::no_grad(|| {
            for ((p, m), v) in self
                .params
                .iter_mut()
                .zip(&mut self.exp_avg)
                .zip(&mut self.exp_avg_sq)
            {
                let g = p.grad();
                if !g.defined() {
                    continue;
                }
                let _ = m.lerp_(&g, 1.0 - BETA1);
                let _ = v.lerp_(&g.square(), 1.0 - BETA2);
                let denom = v.sqrt() / bias2_sqrt + EPS;
                let _ = p.addcdiv_(&(&*m * (-self.lr / bias1)), &denom);
            }
        });
    }

    /// Moments and step count as named tensors (`exp_avg/i`, `exp_avg_sq/i`, `steps`).
    pub fn state(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::with_capacity(2 * self.params.len() + 1);
        for (i, (m, v)) in self.exp_avg.iter().zip(&self.exp_avg_sq).enumerate() {
            out.push((format!("exp_avg/{i}"), m.shallow_clone()));
            out.push((format!("exp_avg_sq/{i}"), v.shallow_clone()));
        }
        out.push(("steps".into(), Tensor::from_slice(&[self.steps as i64])));
        out
    }

    /// Restores what [`Adam::state`] gave; `get` looks a name up.
    pub fn load_state(&mut self, get: impl Fn(&str) -> Option<Tensor>) -> anyhow::Result<()> {
        for (i, (m, v)) in self
            .exp_avg
            .iter_mut()
            .zip(&mut self.exp_avg_sq)
            .enumerate()
        {
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
