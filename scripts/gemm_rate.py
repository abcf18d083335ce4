"""One core's matrix-multiply rate at the shapes of a 256-256 update (README, "Why TD3 stays at
~1.5× SB3"): the peers' Python (`~/.cache/virel-lab/peers/bin/python scripts/gemm_rate.py`) on an idle machine.
In float32 (what every run here trains in), then in bfloat16 for comparison (AMX or AVX512-BF16
where the CPU has them)."""
import time

import torch

torch.set_num_threads(1)


def rate(f, flops, reps=400):
    for _ in range(20):
        f()
    t = time.perf_counter()
    for _ in range(reps):
        f()
    dt = (time.perf_counter() - t) / reps
    return flops / dt / 1e9, dt * 1e6


for dtype in [torch.float32, torch.bfloat16]:
    name = str(dtype).removeprefix("torch.")
    for m, k, n in [(256, 256, 256), (256, 14, 256), (256, 256, 1), (256, 256, 3), (1024, 256, 256)]:
        a, b = torch.randn(m, k, dtype=dtype), torch.randn(k, n, dtype=dtype)
        g, us = rate(lambda: a @ b, 2 * m * k * n)
        print(f"{name} matmul {m}x{k} @ {k}x{n}: {g:.1f} GFLOP/s, {us:.1f} us")
    x, w = torch.randn(2, 256, 256, dtype=dtype), torch.randn(2, 256, 256, dtype=dtype)
    bias = torch.randn(2, 1, 256, dtype=dtype)
    g, us = rate(lambda: torch.baddbmm(bias, x, w), 2 * 2 * 256**3)
    print(f"{name} baddbmm twin 256x256 @ 256x256: {g:.1f} GFLOP/s, {us:.1f} us")
