"""The Gymnasium + MuJoCo side of `virel-lab bench gait`: what a random policy does.

Needs `pip install "gymnasium[mujoco]==1.4.0"`. Usage: gait_gymnasium.py STEPS SEED [ROBOT...].
Prints `<robot> <episodes> <mean length> <mean return> <mean x velocity>` lines: uniform
random actions for STEPS control steps, episodes restarting as they end; the velocity is
Gymnasium's `info["x_velocity"]` averaged over every step.
"""
import sys

import gymnasium as gym

IDS = {"half_cheetah": "HalfCheetah-v5", "hopper": "Hopper-v5", "walker2d": "Walker2d-v5", "ant": "Ant-v5", "humanoid": "Humanoid-v5"}
steps = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
seed = int(sys.argv[2]) if len(sys.argv) > 2 else 0
for name in sys.argv[3:] or IDS:
    env = gym.make(IDS[name])
    env.reset(seed=seed)
    env.action_space.seed(seed)
    lengths, returns = [], []
    length, ret, velocity = 0, 0.0, 0.0
    for _ in range(steps):
        _, reward, term, trunc, info = env.step(env.action_space.sample())
        length += 1
        ret += float(reward)
        velocity += float(info["x_velocity"])
        if term or trunc:
            lengths.append(length)
            returns.append(ret)
            length, ret = 0, 0.0
            env.reset()
    mean = lambda xs: sum(xs) / max(len(xs), 1)
    print(name, len(lengths), mean(lengths), mean(returns), velocity / steps, flush=True)
