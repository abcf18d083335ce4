"""The Python side of `virel-lab bench training`: Stable-Baselines3 (PyTorch) or SBX (JAX)
SAC/TD3 trained end to end on a Gymnasium env, one thread, with the settings the Rust side
uses (networks, batch, buffer, learning start, γ, τ, learning rates, one gradient step per env
step), then evaluated deterministically.

Prints one line: `result <env steps/s> <final mean return> <wall seconds>`; the time covers
`learn()` and the final evaluation, as the Rust run's wall time does.
"""
import argparse
import os
import sys
import time

p = argparse.ArgumentParser()
p.add_argument("--lib", choices=["sb3", "sbx"], required=True)
p.add_argument("--algo", choices=["sac", "td3"], required=True)
p.add_argument("--env", required=True, help="Gymnasium id, e.g. Pendulum-v1")
p.add_argument("--steps", type=int, required=True)
p.add_argument("--learning-starts", type=int, required=True)
p.add_argument("--hidden", type=int, nargs="+", default=[256, 256])
p.add_argument("--batch", type=int, default=256)
p.add_argument("--buffer", type=int, default=1_000_000)
p.add_argument("--gamma", type=float, default=0.99)
p.add_argument("--tau", type=float, default=0.005)
p.add_argument("--policy-lr", type=float, default=3e-4)
p.add_argument("--q-lr", type=float, default=1e-3)
p.add_argument("--eval-episodes", type=int, default=10)
p.add_argument("--seed", type=int, default=1)
p.add_argument("--device", default="cpu")
args = p.parse_args()

# One thread on each side: XLA's CPU client and torch's intra-op pool.
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
if args.lib == "sbx" and args.device == "cpu":
    os.environ.setdefault("JAX_PLATFORMS", "cpu")

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)
torch.set_flush_denormal(True)

if args.lib == "sb3":
    from stable_baselines3 import SAC, TD3
    from stable_baselines3.common.noise import NormalActionNoise
else:
    from sbx import SAC, TD3
    from stable_baselines3.common.noise import NormalActionNoise
from stable_baselines3.common.evaluation import evaluate_policy  # noqa: E402
from stable_baselines3.common.monitor import Monitor  # noqa: E402

env = gym.make(args.env)
act_dim = env.action_space.shape[0]
common = dict(
    buffer_size=args.buffer,
    learning_starts=args.learning_starts,
    batch_size=args.batch,
    tau=args.tau,
    gamma=args.gamma,
    train_freq=1,
    gradient_steps=1,
    seed=args.seed,
    verbose=0,
)
if args.lib == "sb3":
    common["device"] = args.device
if args.algo == "sac":
    # SB3/SBX take one learning rate for actor, critics and α; SBX also a separate one for
    # the critics (qf_learning_rate), which matches the Rust side's q_lr.
    extra = dict(learning_rate=args.policy_lr)
    if args.lib == "sbx":
        extra["qf_learning_rate"] = args.q_lr
    model = SAC("MlpPolicy", env, policy_kwargs=dict(net_arch=args.hidden), **extra, **common)
else:
    noise = NormalActionNoise(np.zeros(act_dim), 0.1 * np.ones(act_dim))
    model = TD3(
        "MlpPolicy",
        env,
        learning_rate=args.q_lr,
        action_noise=noise,
        policy_delay=2,
        target_policy_noise=0.2,
        target_noise_clip=0.5,
        policy_kwargs=dict(net_arch=args.hidden),
        **common,
    )

start = time.perf_counter()
model.learn(total_timesteps=args.steps)
eval_env = Monitor(gym.make(args.env))
mean, _ = evaluate_policy(model, eval_env, n_eval_episodes=args.eval_episodes, deterministic=True)
wall = time.perf_counter() - start
print(f"result {args.steps / wall:.3f} {mean:.3f} {wall:.3f}")
sys.stdout.flush()
