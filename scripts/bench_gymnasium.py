"""The Gymnasium + MuJoCo side of `virel-lab bench envs`: env.step/s with random actions.

Needs `pip install "gymnasium[mujoco]==1.4.0"`. Prints `<robot> <steps per second>` lines.
"""
import sys
import time

import gymnasium as gym

IDS = {"half_cheetah": "HalfCheetah-v5", "hopper": "Hopper-v5", "walker2d": "Walker2d-v5", "ant": "Ant-v5", "humanoid": "Humanoid-v5"}
seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
for name in sys.argv[2:] or IDS:
    env = gym.make(IDS[name])
    env.reset(seed=0)
    env.action_space.seed(0)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        _, _, term, trunc, _ = env.step(env.action_space.sample())
        n += 1
        if term or trunc:
            env.reset()
    print(name, n / (time.perf_counter() - t0), flush=True)
