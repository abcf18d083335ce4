"""The PyTorch side of `virel-lab bench updates`: the same gradient step as the Rust agents,
written the usual (CleanRL) way: two separate Q networks, nn.Linear MLPs, Adam.

Prints one line: `updates_per_second <float>`.
"""
import argparse
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument("--algo", choices=["sac", "virel"], default="sac")
p.add_argument("--obs", type=int, default=17)
p.add_argument("--act", type=int, default=6)
p.add_argument("--hidden", type=int, default=256)
p.add_argument("--batch", type=int, default=256)
p.add_argument("--epsilon-batch", type=int, default=4096)
p.add_argument("--seconds", type=float, default=10.0)
p.add_argument("--threads", type=int, default=1)
p.add_argument("--device", default="cpu")
args = p.parse_args()
torch.set_num_threads(args.threads)
torch.set_flush_denormal(True)
torch.manual_seed(0)
dev = torch.device(args.device)
H = args.hidden


class QNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2, self.fc3 = nn.Linear(args.obs + args.act, H), nn.Linear(H, H), nn.Linear(H, 1)

    def forward(self, x, a):
        x = torch.cat([x, a], 1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


class Actor(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(args.obs, H), nn.Linear(H, H)
        self.mean, self.logstd = nn.Linear(H, args.act), nn.Linear(H, args.act)

    def get_action(self, x):
        x = F.relu(self.fc2(F.relu(self.fc1(x))))
        mean, log_std = self.mean(x), self.logstd(x).clamp(-5, 2)
        normal = torch.distributions.Normal(mean, log_std.exp())
        x_t = normal.rsample()
        y_t = torch.tanh(x_t)
        log_prob = normal.log_prob(x_t) - torch.log(1 - y_t.pow(2) + 1e-6)
        return y_t, log_prob.sum(1, keepdim=True)


actor = Actor().to(dev)
qf1, qf2, qf1_t, qf2_t = QNet().to(dev), QNet().to(dev), QNet().to(dev), QNet().to(dev)
qf1_t.load_state_dict(qf1.state_dict())
qf2_t.load_state_dict(qf2.state_dict())
q_opt = torch.optim.Adam(list(qf1.parameters()) + list(qf2.parameters()), lr=1e-3)
a_opt = torch.optim.Adam(actor.parameters(), lr=3e-4)
log_alpha = torch.zeros(1, requires_grad=True, device=dev)
alpha_opt = torch.optim.Adam([log_alpha], lr=1e-3)
target_entropy = -args.act
gamma, tau = 0.99, 0.005

N = 100_000
buf = dict(
    obs=torch.randn(N, args.obs, device=dev),
    act=torch.rand(N, args.act, device=dev) * 2 - 1,
    rew=torch.randn(N, 1, device=dev),
    nobs=torch.randn(N, args.obs, device=dev),
    done=torch.zeros(N, 1, device=dev),
)


def sample(n):
    idx = torch.randint(N, (n,), device=dev)
    return [buf[k][idx] for k in ("obs", "act", "rew", "nobs", "done")]


step = 0
epsilon = 1.0


def update():
    global step, epsilon
    o, a, r, no, d = sample(args.batch)
    with torch.no_grad():
        na, nlp = actor.get_action(no)
        mq = torch.min(qf1_t(no, na), qf2_t(no, na))
        if args.algo == "sac":
            mq = mq - log_alpha.exp() * nlp
        target = r + (1 - d) * gamma * mq
    q1, q2 = qf1(o, a), qf2(o, a)
    qf_loss = F.mse_loss(q1, target) + F.mse_loss(q2, target)
    q_opt.zero_grad()
    qf_loss.backward()
    q_opt.step()
    if args.algo == "virel":
        with torch.no_grad():
            eo, ea, er, eno, ed = sample(args.epsilon_batch)
            # double-sampling estimate, as virel.rs: two a' ~ pi(s'), mean (Q - y1)(Q - y2) / 2
            y = []
            for _ in range(2):
                ena, _ = actor.get_action(eno)
                y.append(er + (1 - ed) * gamma * torch.min(qf1(eno, ena), qf2(eno, ena)))
            q1, q2 = qf1(eo, ea), qf2(eo, ea)
            epsilon = max(0.0, (((q1 - y[0]) * (q1 - y[1])).mean() + ((q2 - y[0]) * (q2 - y[1])).mean()).item() / 4)
        pi, lp = actor.get_action(o)
        loss = (epsilon * lp - torch.min(qf1(o, pi), qf2(o, pi))).mean()
        a_opt.zero_grad()
        loss.backward()
        a_opt.step()
    elif step % 2 == 0:
        for _ in range(2):
            pi, lp = actor.get_action(o)
            loss = (log_alpha.exp().item() * lp - torch.min(qf1(o, pi), qf2(o, pi))).mean()
            a_opt.zero_grad()
            loss.backward()
            a_opt.step()
            alpha_loss = (-log_alpha.exp() * (lp.detach() + target_entropy)).mean()
            alpha_opt.zero_grad()
            alpha_loss.backward()
            alpha_opt.step()
    with torch.no_grad():
        for p_, tp in zip(list(qf1.parameters()) + list(qf2.parameters()), list(qf1_t.parameters()) + list(qf2_t.parameters())):
            tp.data.lerp_(p_.data, tau)
    # the Rust agents read their losses back every step, as SB3/CleanRL loggers do
    _ = qf_loss.item()
    step += 1


for _ in range(50):
    update()
if dev.type == "cuda":
    torch.cuda.synchronize()
n, t0 = 0, time.perf_counter()
while time.perf_counter() - t0 < args.seconds:
    update()
    n += 1
if dev.type == "cuda":
    torch.cuda.synchronize()
print(f"updates_per_second {n / (time.perf_counter() - t0):.2f}")
