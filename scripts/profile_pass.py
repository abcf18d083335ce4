"""The authors' ε_ω pass (VIREL's `residual_error`) as PyTorch runs it, timed and profiled.

Twin 256-256 critics and a 256-256 actor on obs 17, act 6, one thread, 4096 transitions drawn
from a 100k random buffer: Q(s, a), π(s'), then both critics at (s', a'₁), (s', a'₂).

    python scripts/profile_pass.py                  # one piece, ReLU out of place (as before)
    python scripts/profile_pass.py --chunk 512 --inplace
    python scripts/profile_pass.py --profile        # torch.profiler's table of ops

README, "Speed of learning", "The authors' pass in pieces".
"""
import argparse
import time

import torch

p = argparse.ArgumentParser()
p.add_argument("--rows", type=int, default=4096)
p.add_argument("--chunk", type=int, default=0, help="rows scored at a time (0: all)")
p.add_argument("--inplace", action="store_true", help="ReLU in place")
p.add_argument("--repeats", type=int, default=20)
p.add_argument("--profile", action="store_true")
args = p.parse_args()

torch.set_num_threads(1)
torch.set_flush_denormal(True)
torch.manual_seed(0)
O, A, H, N = 17, 6, 256, 100_000


def relu(x):
    return x.relu_() if args.inplace else torch.relu(x)


class Twin(torch.nn.Module):
    def __init__(self):
        super().__init__()
        p = torch.nn.Parameter
        self.w1, self.b1 = p(torch.randn(2, O + A, H) * 0.1), p(torch.zeros(2, 1, H))
        self.w2, self.b2 = p(torch.randn(2, H, H) * 0.06), p(torch.zeros(2, 1, H))
        self.w3, self.b3 = p(torch.randn(2, H, 1) * 0.06), p(torch.zeros(2, 1, 1))

    def forward(self, o, a):
        x = torch.cat([o, a], 1).unsqueeze(0).expand(2, -1, -1)
        x = relu(torch.baddbmm(self.b1, x, self.w1))
        x = relu(torch.baddbmm(self.b2, x, self.w2))
        return torch.baddbmm(self.b3, x, self.w3).squeeze(-1)


l1, l2, l3 = torch.nn.Linear(O, H), torch.nn.Linear(H, H), torch.nn.Linear(H, 2 * A)


def actor(x):
    return l3(relu(l2(relu(l1(x)))))


q = Twin()
buf = [torch.randn(N, O), torch.randn(N, A).clamp(-1, 1), torch.randn(N), torch.randn(N, O), torch.zeros(N)]


def score(o, a, r, no, d):
    q_sa = q(o, a)
    m, ls = actor(no).chunk(2, 1)
    m2, ls2 = torch.cat([m, m]), torch.cat([ls, ls])
    na = torch.tanh(m2 + ls2.exp() * torch.randn_like(m2))
    nq = q(torch.cat([no, no]), na).min(0).values
    n = o.shape[0]
    y1, y2 = r + 0.99 * (1 - d) * nq[:n], r + 0.99 * (1 - d) * nq[n:]
    return ((q_sa - y1) * (q_sa - y2)).sum()


def epsilon():
    with torch.no_grad():
        idx = torch.randint(N, (args.rows,))
        batch = [b.index_select(0, idx) for b in buf]
        chunk = args.chunk or args.rows
        total = sum(score(*[b[s : s + chunk] for b in batch]) for s in range(0, args.rows, chunk))
        return total.item() / (4 * args.rows)


for _ in range(5):
    epsilon()
start = time.perf_counter()
for _ in range(args.repeats):
    epsilon()
ms = (time.perf_counter() - start) / args.repeats * 1000
print(f"rows {args.rows}, pieces of {args.chunk or args.rows}, ReLU {'in place' if args.inplace else 'out of place'}: {ms:.1f} ms a pass")
if args.profile:
    from torch.profiler import profile

    with profile() as prof:
        for _ in range(10):
            epsilon()
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12))
