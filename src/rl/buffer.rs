//! Replay buffer held as preallocated tensors on the training device. Sampling draws indices
//! with torch's seeded generator and gathers rows with `index_select`: no copies through Rust.

use tch::{Device, Kind, Tensor};

/// A minibatch of transitions, one row each.
pub struct Batch {
    /// Observations `[B, obs_dim]`.
    pub obs: Tensor,
    /// Actions taken `[B, act_dim]`.
    pub actions: Tensor,
    /// Rewards `[B]`.
    pub rewards: Tensor,
    /// Observations the actions led to `[B, obs_dim]`.
    pub next_obs: Tensor,
    /// 1.0 where the episode terminated (not where it was truncated): no bootstrap from there.
    pub dones: Tensor,
}

/// Fill state of a [`ReplayBuffer`].
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BufferMeta {
    /// Transitions held.
    pub len: usize,
    /// Where the next transition goes (the oldest is overwritten when full).
    pub pos: usize,
    /// Most transitions held.
    pub capacity: usize,
}

/// Transitions on the training device, in a ring: `push` stores, `sample` draws uniform minibatches.
pub struct ReplayBuffer {
    obs: Tensor,
    actions: Tensor,
    rewards: Tensor,
    next_obs: Tensor,
    dones: Tensor,
    capacity: i64,
    len: i64,
    pos: i64,
    device: Device,
}

impl ReplayBuffer {
    /// A buffer of `capacity` transitions; an error (not a panic) where the device cannot
    /// reserve it.
    pub fn new(
        capacity: usize,
        obs_dim: usize,
        act_dim: usize,
        device: Device,
    ) -> anyhow::Result<Self> {
        anyhow::ensure!(capacity >= 1, "a replay buffer holds at least 1 transition");
        let cap = i64::try_from(capacity)?;
        // `empty` leaves the pages untouched until written: a large buffer costs only what it holds.
        let opts = (Kind::Float, device);
        let column = |width: Option<usize>| {
            let shape: Vec<i64> = match width {
                Some(w) => vec![cap, w as i64],
                None => vec![cap],
            };
            Tensor::f_empty(shape.as_slice(), opts).map_err(|e| {
                anyhow::anyhow!("cannot reserve a replay buffer of {capacity} transitions: {e}")
            })
        };
        Ok(Self {
            obs: column(Some(obs_dim))?,
            actions: column(Some(act_dim))?,
            rewards: column(None)?,
            next_obs: column(Some(obs_dim))?,
            dones: column(None)?,
            capacity: cap,
            len: 0,
            pos: 0,
            device,
        })
    }

    /// Transitions held.
    pub fn len(&self) -> usize {
        self.len as usize
    }
    /// No transition yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Most transitions held.
    pub fn capacity(&self) -> usize {
        self.capacity as usize
    }

    /// Appends `n` transitions given row-major (`obs`: `[n × obs_dim]`, …), overwriting the
    /// oldest ones once full. `next_obs` is the observation the step led to, also at the end
    /// of an episode.
    pub fn push(
        &mut self,
        obs: &[f32],
        actions: &[f32],
        rewards: &[f32],
        next_obs: &[f32],
        terminated: &[bool],
    ) {
        let n = rewards.len() as i64;
        let dones: Vec<f32> = terminated.iter().map(|&d| f32::from(u8::from(d))).collect();
        // Each column as a `[n, …]` tensor on the device, next to its store (same column order).
        let src: Vec<(Tensor, Tensor)> = self
            .columns()
            .into_iter()
            .zip([obs, actions, rewards, next_obs, &dones[..]])
            .map(|((_, store), data)| {
                let mut shape = store.size();
                shape[0] = n;
                (
                    Tensor::from_slice(data)
                        .view(shape.as_slice())
                        .to_device(self.device),
                    store.shallow_clone(),
                )
            })
            .collect();
        // At most two contiguous pieces: up to the end of the ring, then from its start.
        let mut done_rows = 0;
        while done_rows < n {
            let take = (n - done_rows).min(self.capacity - self.pos);
            for (data, store) in &src {
                store
                    .narrow(0, self.pos, take)
                    .copy_(&data.narrow(0, done_rows, take));
            }
            done_rows += take;
            self.pos = (self.pos + take) % self.capacity;
        }
        self.len = (self.len + n).min(self.capacity);
    }

    /// Where the ring stands, for checkpoints.
    pub fn meta(&self) -> BufferMeta {
        BufferMeta {
            len: self.len as usize,
            pos: self.pos as usize,
            capacity: self.capacity as usize,
        }
    }

    /// The filled rows as named tensors (on the CPU), compactly: nothing past `len` (a copy, since
    /// saving a view would write its whole storage).
    pub fn tensors(&self) -> Vec<(String, Tensor)> {
        if self.len == 0 {
            // Nothing to keep; and libtorch hands empty tensors to tch's writer as a null
            // buffer, which tch turns into a slice (undefined behaviour).
            return Vec::new();
        }
        self.columns()
            .into_iter()
            .map(|(name, t)| {
                (
                    format!("buffer/{name}"),
                    t.narrow(0, 0, self.len).to_device(Device::Cpu).copy(),
                )
            })
            .collect()
    }

    /// Refills the buffer from [`ReplayBuffer::tensors`] saved with `meta`.
    pub fn restore(
        &mut self,
        meta: BufferMeta,
        get: impl Fn(&str) -> Option<Tensor>,
    ) -> anyhow::Result<()> {
        anyhow::ensure!(
            meta.capacity == self.capacity as usize
                && meta.len <= meta.capacity
                && meta.pos < meta.capacity.max(1),
            "the saved replay buffer holds {} of {} transitions, this run's capacity is {}",
            meta.len,
            meta.capacity,
            self.capacity
        );
        for (name, dst) in self.columns().into_iter().filter(|_| meta.len > 0) {
            let key = format!("buffer/{name}");
            let src = get(&key)
                .ok_or_else(|| anyhow::anyhow!("replay buffer column '{key}' is missing"))?;
            let want = [&[meta.len as i64][..], &dst.size()[1..]].concat();
            anyhow::ensure!(
                src.size() == want,
                "replay buffer column '{key}' has shape {:?}, expected {want:?}",
                src.size()
            );
            dst.narrow(0, 0, meta.len as i64).copy_(&src);
        }
        (self.len, self.pos) = (meta.len as i64, meta.pos as i64);
        Ok(())
    }

    fn columns(&self) -> [(&'static str, &Tensor); 5] {
        [
            ("obs", &self.obs),
            ("actions", &self.actions),
            ("rewards", &self.rewards),
            ("next_obs", &self.next_obs),
            ("dones", &self.dones),
        ]
    }

    /// `n` transitions drawn uniformly with replacement.
    pub fn sample(&self, n: i64) -> Batch {
        assert!(self.len > 0, "sampling from an empty replay buffer");
        let idx = Tensor::randint(self.len, [n], (Kind::Int64, self.device));
        Batch {
            obs: self.obs.index_select(0, &idx),
            actions: self.actions.index_select(0, &idx),
            rewards: self.rewards.index_select(0, &idx),
            next_obs: self.next_obs.index_select(0, &idx),
            dones: self.dones.index_select(0, &idx),
        }
    }
}
