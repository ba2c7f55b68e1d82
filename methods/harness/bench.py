"""Cost of one training iteration of every registered method, and of a naive Joint-W (docs/performance.md, "Speed").

    python -m methods.harness.bench --dataset two_circle [--iterations 50 --repeats 7 --warmup 20] [--methods a b …]
                            [--out results/<profile>/tables/bench]
    python -m methods.harness.bench --stack [K …]      # stacked runs (methods/core/stack.py), K = 1 3 9 27
    python -m methods.harness.bench --estimate [--profile default] [--cores 2 16]  # a profile's training cost

Every method is built from the `default` profile's hyper-parameters (or --profile, or the DAG's resolved
configuration with --config) and trained in this one process
on the same stored-style training set (seed 0, clean setting), with one torch thread. Timing: `warmup` iterations
first, then `repeats` rounds; in each round every method (and the naive baseline) runs `iterations` iterations, in
turn, so a slow spell of the machine hits all of them alike; the figure is the median over rounds of the mean time
per iteration. Peak MB: the method's persistent state (parameters, buffers, optimiser slots) plus the largest
amount of tensor memory one iteration holds at once, from the profiler's allocation events.

Prints one line per method, `name  ms/iteration  peak MB`, then the naive baseline, then

    joint_w/wgan_gp: <ms of joint_w / ms of wgan_gp>
    naive/joint_w: <ms of the naive Joint-W / ms of joint_w>

With `--stack`, wgan_gp, joint_w, dem and gan (or --methods) are trained as stacks of K runs, and the figure is
ms per run-iteration (an iteration of the stack divided by K), then per method `stack9/stack1` and
`stack27/stack1` (the per-run speed-up over one run on its own), and joint_w's rate in its matrix products at the
largest K beside the matmul peak this process measures.

The naive baseline (`NaiveJointW`) is what a straightforward eager PyTorch Joint-W looks like: the same networks
(nn.Sequential, torch.tanh), batch 100, n_d = 5 critic steps whose gradient penalty differentiates the critic by
autograd with `create_graph=True` (double backward), the KSD written as plain broadcast tensor code (B × B × d
differences), scores by autograd, torch.optim.Adam, every backward into every parameter. It implements
Algorithm 1 as methods/joint_w.py does, so the two differ only in how the same arithmetic is organised.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

import datasets
import methods
from datasets.settings import training_set
from methods.core.stack import Stack, StackedBatches
from methods.harness import config as suite_config
from methods.harness.io import atomic_path, write_text
from methods.harness.train import Batches


class NaiveJointW:
    """A straightforward eager Joint-W iteration (module docstring); hyper-parameters from joint_w's config."""

    name = "naive joint_w"

    def __init__(self, hp: dict, d: int):
        if hp["energy_head"] != "softplus_experts" or hp["kernel"] != "rbf":
            raise ValueError("the naive baseline implements the default joint_w only (softplus experts, RBF KSD)")
        self.hp = hp
        act = {"tanh": nn.Tanh, "leaky_relu": lambda: nn.LeakyReLU(0.2)}

        def net(d_in, d_out, activation):
            a = act[activation]
            return nn.Sequential(nn.Linear(d_in, hp["hidden"]), a(), nn.Linear(hp["hidden"], hp["hidden"]), a(),
                                 nn.Linear(hp["hidden"], d_out))

        self.generator = net(hp["noise_dim"], d, hp["generator_activation"])
        self.critic = net(d, 1, hp["critic_activation"])
        self.energy = net(d, hp["experts"], hp["energy_activation"])
        adam = torch.optim.Adam
        self.opt_g = adam(self.generator.parameters(), hp["lr_implicit"], betas=(hp["beta1_implicit"], hp["beta2"]))
        self.opt_d = adam(self.critic.parameters(), hp["lr_implicit"], betas=(hp["beta1_implicit"], hp["beta2"]))
        self.opt_e = adam(self.energy.parameters(), hp["lr_explicit"], betas=(hp["beta1_explicit"], hp["beta2"]))

    def energy_fn(self, x):
        return nn.functional.softplus(-self.energy(x)).sum(-1)

    def score(self, x):
        x = x if x.requires_grad else x.detach().requires_grad_(True)
        (g,) = torch.autograd.grad(self.energy_fn(x).sum(), x, create_graph=True)
        return -g

    def ksd(self, x, s):
        h = self.hp["bandwidth"]
        diff = x[:, None, :] - x[None, :, :]  # (B, B, d): x_i − x_j
        r2 = (diff ** 2).sum(-1)
        k = torch.exp(-r2 / (2 * h * h))
        grad_x = -diff / h ** 2 * k[..., None]  # ∇_x k(x_i, x_j)
        grad_y = diff / h ** 2 * k[..., None]  # ∇_{x'} k(x_i, x_j)
        trace = k * (x.shape[1] / h ** 2 - r2 / h ** 4)
        u = (s @ s.T) * k + (s[:, None, :] * grad_y).sum(-1) + (grad_x * s[None, :, :]).sum(-1) + trace
        if self.hp["statistic"] == "v":  # every pair, the diagonal included
            return u.mean()
        b = x.shape[0]
        return (u.sum() - u.diagonal().sum()) / (b * (b - 1))

    def sample(self, n):
        return self.generator(self.hp["noise_std"] * torch.randn(n, self.hp["noise_dim"]))

    def train_step(self, data):
        hp, b = self.hp, self.hp["batch_size"]
        for _ in range(hp["critic_steps"]):
            real = data.batch()
            fake = self.sample(b).detach()
            eps = torch.rand(b, 1)
            x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
            (g,) = torch.autograd.grad(self.critic(x_hat).sum(), x_hat, create_graph=True)
            gp = ((g.norm(dim=1) - 1) ** 2).mean()
            loss_d = self.critic(fake).mean() - self.critic(real).mean() + hp["gp_weight"] * gp
            self.opt_d.zero_grad()
            loss_d.backward()
            self.opt_d.step()
        real, fake = data.batch(), self.sample(b).detach()
        loss_e = hp["data_weight"] * self.ksd(real, self.score(real)) + \
            hp["bridge_weight"] * self.ksd(fake, self.score(fake))
        self.opt_e.zero_grad()
        loss_e.backward()
        self.opt_e.step()
        fake = self.sample(b)
        loss_g = -self.critic(fake).mean() + hp["bridge_weight"] * self.ksd(fake, self.score(fake))
        self.opt_g.zero_grad()
        loss_g.backward()
        self.opt_g.step()
        return {"critic": loss_d.detach(), "energy": loss_e.detach(), "generator": loss_g.detach()}

    def state_bytes(self) -> int:
        tensors = [p for m in (self.generator, self.critic, self.energy) for p in m.parameters()]
        tensors += [t for o in (self.opt_g, self.opt_d, self.opt_e) for s in o.state.values() for t in s.values()
                    if torch.is_tensor(t)]
        return sum(t.numel() * t.element_size() for t in tensors)


def state_bytes(method) -> int:
    """Bytes held between iterations: parameters, buffers and optimiser slots."""
    if hasattr(method, "state_bytes"):
        return method.state_bytes()
    tensors = list(method.state_dict().values())
    tensors += [t for o in method.optimizers.values() for v in o.state.values() for t in v]
    return sum(t.numel() * t.element_size() for t in tensors)


def transient_peak_bytes(method, data) -> int:
    """The most tensor memory allocated at once during one iteration, beyond what existed before it (from the
    profiler's allocation events in time order)."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        method.train_step(data)
    events = sorted((e for e in prof.events() if e.cpu_memory_usage), key=lambda e: e.time_range.start)
    live = np.cumsum([e.cpu_memory_usage for e in events]) if events else np.zeros(1)
    return int(max(live.max(), 0))


def build(name: str, cfg: dict, d: int, dataset: str | None = None):
    """A method (or a variant `name@preset`, or the naive baseline) with the configuration's hyper-parameters."""
    hp = suite_config.hparams(cfg, "joint_w" if name == NaiveJointW.name else name, dataset)
    hp["iterations"] = 10 ** 6  # schedules (λ2 ramp, annealing) at their start, as early in a run
    if name == NaiveJointW.name:
        return NaiveJointW(hp, d)  # pays the bridge from the first iteration; joint_w's λ2 ramp is > 0 from the 2nd
    return methods.get(suite_config.split_variant(name)[0])(hp, (d,))


def run(dataset: str, names: list[str], iterations: int, repeats: int, warmup: int, cfg: dict | None = None,
        seed: int = 0, naive: bool = True) -> pd.DataFrame:
    """The cost table; `cfg`: a resolved configuration (default: the `default` profile's); `names` may hold
    variants (`joint_w@released_code`); `naive`: time the naive Joint-W too."""
    torch.set_num_threads(1)
    cfg = cfg if cfg is not None else suite_config.load("default")
    x = torch.as_tensor(training_set(datasets.get(dataset), "clean", seed)["x"], dtype=torch.float32)
    rows = []
    entries = []
    for name in names + ([NaiveJointW.name] if naive else []):
        torch.manual_seed(seed)
        method = build(name, cfg, x.shape[1], dataset)
        data = Batches(x, method.hp["batch_size"], np.random.default_rng(seed))  # a variant's own batch
        for _ in range(warmup):
            method.train_step(data)
        entries.append((name, method, data, []))
    for _ in range(repeats):
        for name, method, data, times in entries:
            t0 = time.perf_counter()
            for _ in range(iterations):
                method.train_step(data)
            times.append((time.perf_counter() - t0) / iterations)
    for name, method, data, times in entries:
        peak = state_bytes(method) + transient_peak_bytes(method, data)
        rows.append({"method": name, "ms_per_iteration": 1000 * statistics.median(times),
                     "ms_min": 1000 * min(times), "ms_max": 1000 * max(times), "peak_mb": peak / 2 ** 20})
    return pd.DataFrame(rows)


def estimate(cfg: dict, dataset: str, iterations: int, repeats: int, warmup: int) -> pd.DataFrame:
    """The measured arithmetic of a profile's training cost: per method variant of its 2-D runs, the number of runs,
    the iterations of each, the ms one iteration takes in this process (timed as `run` times them, on `dataset`;
    every 2-D dataset has d = 2 and the profile's batch) and the CPU hours they make. Training steps only: the
    learning-curve rows, the evaluation and the figures come on top."""
    runs = [r for r in suite_config.runs(cfg) if datasets.track(r.dataset) != "image"]
    count = pd.Series([r.method for r in runs]).value_counts()
    length = {m: suite_config.hparams(cfg, m, dataset)["iterations"] for m in count.index}
    table = run(dataset, sorted(count.index), iterations, repeats, warmup, cfg, naive=False)
    table = table.assign(runs=table["method"].map(count), iterations=table["method"].map(length))
    table["cpu_hours"] = table["runs"] * table["iterations"] * table["ms_per_iteration"] / 1000 / 3600
    return table[["method", "runs", "iterations", "ms_per_iteration", "cpu_hours"]].sort_values(
        "cpu_hours", ascending=False, ignore_index=True)


def estimate_lines(table: pd.DataFrame, cfg: dict, cores: list[int]) -> list[str]:
    lines = [f"{r.method:26s} {r.runs:4d} runs × {r.iterations} iterations × {r.ms_per_iteration:6.2f} ms = "
             f"{r.cpu_hours:6.2f} CPU h" for r in table.itertuples()]
    total = table["cpu_hours"].sum()
    lines.append(f"profile {cfg['profile']}: {int(table['runs'].sum())} 2-D runs, {total:.2f} CPU hours of training")
    lines += [f"  on {n} cores (jobs spread evenly): {total / n:.2f} h" for n in cores]
    return lines


STACK_METHODS = ("wgan_gp", "joint_w", "dem", "gan")


def build_stack(name: str, cfg: dict, x: torch.Tensor, k: int, seed: int = 0):
    """(method, batches) for a stack of k runs of `name` (seeds seed … seed + k − 1); k = 1: one ordinary run."""
    hp = suite_config.hparams(cfg, name)
    hp["iterations"] = 10 ** 6
    seeds = [seed + i for i in range(k)]
    sources = [Batches(x, hp["batch_size"], np.random.default_rng(s)) for s in seeds]
    if k == 1:
        torch.manual_seed(seed)
        return methods.get(name)(hp, (x.shape[1],)), sources[0]
    return methods.get(name)(hp, (x.shape[1],), Stack(seeds)), StackedBatches(sources)


def stack_run(dataset: str, names: list[str], ks: list[int], iterations: int, repeats: int, warmup: int,
              cfg: dict | None = None, seed: int = 0) -> pd.DataFrame:
    """ms per run-iteration of each method trained as a stack of K runs, for each K (one torch thread): each
    (method, K) runs ⌈iterations / K⌉ iterations per round, rounds interleaved as in `run`."""
    torch.set_num_threads(1)
    cfg = cfg if cfg is not None else suite_config.load("default")
    x = torch.as_tensor(training_set(datasets.get(dataset), "clean", seed)["x"], dtype=torch.float32)
    entries = []
    for name in names:
        for k in ks:
            method, data = build_stack(name, cfg, x, k, seed)
            for _ in range(max(1, warmup // k)):
                method.train_step(data)
            entries.append((name, k, method, data, -(-iterations // k), []))
    for _ in range(repeats):
        for name, k, method, data, n, times in entries:
            t0 = time.perf_counter()
            for _ in range(n):
                method.train_step(data)
            times.append((time.perf_counter() - t0) / (n * k))
    return pd.DataFrame([{"method": name, "K": k, "ms_per_run_iteration": 1000 * statistics.median(times),
                          "ms_min": 1000 * min(times), "ms_max": 1000 * max(times)}
                         for name, k, method, data, n, times in entries])


def matmul_flops(method, data) -> float:
    """Floating-point operations of the matrix products of one iteration (the profiler's count)."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], with_flops=True) as prof:
        method.train_step(data)
    return float(sum(e.flops for e in prof.key_averages() if e.flops))


def matmul_peak_gflops(seconds: float = 1.0) -> float:
    """This process's single-thread matmul rate on a large product (1024², float32), GFLOP/s."""
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    a @ b
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        a @ b
        n += 1
    return 2 * 1024 ** 3 * n / (time.perf_counter() - t0) / 1e9


def stack_lines(table: pd.DataFrame, cfg: dict, dataset: str) -> list[str]:
    """The stack table as text: ms per run-iteration per (method, K), stack9/stack1 and stack27/stack1 per method,
    and joint_w's achieved matmul GFLOP/s at the largest K beside this process's matmul peak."""
    ms = table.set_index(["method", "K"])["ms_per_run_iteration"]
    lines = [f"{name:10s} " + "  ".join(f"K={k}: {ms[name, k]:6.2f}" for k in sorted(table.K.unique()))
             + "  ms per run-iteration" for name in table.method.unique()]
    for name in table.method.unique():
        for k in (9, 27):
            if (name, 1) in ms.index and (name, k) in ms.index:
                lines.append(f"{name} stack{k}/stack1: {ms[name, 1] / ms[name, k]:.2f}")
    if "joint_w" in table.method.unique():
        k = int(table.K.max())
        x = torch.as_tensor(training_set(datasets.get(dataset), "clean", 0)["x"], dtype=torch.float32)
        method, data = build_stack("joint_w", cfg, x, k)
        gflops = matmul_flops(method, data) / k / (ms["joint_w", k] / 1000) / 1e9
        lines.append(f"joint_w K={k}: {gflops:.1f} GFLOP/s in matrix products (per-run matmul FLOPs / ms per "
                     f"run-iteration); matmul peak of this process: {matmul_peak_gflops():.1f} GFLOP/s")
    return lines


def ratios(table: pd.DataFrame) -> dict[str, float]:
    ms = table.set_index("method")["ms_per_iteration"]
    out = {}
    if {"joint_w", "wgan_gp"} <= set(ms.index):
        out["joint_w/wgan_gp"] = ms["joint_w"] / ms["wgan_gp"]
    if "joint_w" in ms.index:
        out["naive/joint_w"] = ms[NaiveJointW.name] / ms["joint_w"]
    return out


def write_csv(out: Path, table: pd.DataFrame) -> None:
    """The table as OUT.csv, written atomically."""
    with atomic_path(out.with_suffix(".csv")) as tmp:
        table.to_csv(tmp, index=False)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="two_circle", help=f"one of {', '.join(datasets.DATASETS)}")
    parser.add_argument("--iterations", type=int, default=50, help="timed iterations per method per round")
    parser.add_argument("--repeats", type=int, default=7, help="rounds (the median is reported)")
    parser.add_argument("--warmup", type=int, default=20, help="untimed iterations per method first")
    parser.add_argument("--methods", nargs="*", default=None, help="default: every registered method")
    parser.add_argument("--profile", default="default", help="hyper-parameters of this profile")
    parser.add_argument("--config", default=None, help="hyper-parameters of this resolved configuration (the DAG's "
                                                       "results/<profile>/config.yaml; replaces --profile)")
    parser.add_argument("--out", default=None, help="also write the table as OUT.md and OUT.csv")
    parser.add_argument("--estimate", action="store_true",
                        help="the profile's training cost instead: its runs × iterations × ms per iteration, timed "
                             "here for each method variant it trains")
    parser.add_argument("--cores", nargs="*", type=int, default=[2, 16], help="--estimate: wall hours on N cores")
    parser.add_argument("--stack", nargs="*", type=int, default=None, metavar="K",
                        help="time stacks of K runs instead (default K: 1 3 9 27; methods: "
                             f"{' '.join(STACK_METHODS)}), ms per run-iteration")
    args = parser.parse_args(argv)
    try:
        datasets.get(args.dataset)
        names = args.methods or (list(STACK_METHODS) if args.stack is not None else methods.available())
        for name in names:
            if args.stack is not None and not methods.get(name).stackable:
                raise ValueError(f"method {name!r} does not train in stacks; stackable: "
                                 f"{', '.join(n for n in methods.available() if methods.get(n).stackable)}")
            methods.get(name)
        if args.stack is not None and any(k < 1 for k in args.stack):
            raise ValueError(f"--stack takes run counts K >= 1, got {args.stack}")
        cfg = suite_config.read(args.config) if args.config else suite_config.load(args.profile)
    except (ValueError, FileNotFoundError) as err:
        parser.exit(2, f"error: {err}\n")
    if args.estimate:
        table = estimate(cfg, args.dataset, args.iterations, args.repeats, args.warmup)
        print("\n".join(estimate_lines(table, cfg, args.cores)))
        if args.out:
            write_csv(Path(args.out), table)
        return
    if args.stack is not None:
        ks = sorted(set(args.stack or [1, 3, 9, 27]) | {1})
        table = stack_run(args.dataset, names, ks, args.iterations, args.repeats, args.warmup, cfg)
        print("\n".join(stack_lines(table, cfg, args.dataset)))
        if args.out:
            write_csv(Path(args.out), table)
        return
    table = run(args.dataset, names, args.iterations, args.repeats, args.warmup, cfg)
    lines = [f"{r.method:20s} {r.ms_per_iteration:8.2f} ms/iteration {r.peak_mb:7.2f} peak MB"
             for r in table.itertuples()]
    lines += [f"{k}: {v:.2f}" for k, v in ratios(table).items()]
    print("\n".join(lines))
    if args.out:
        out = Path(args.out)
        head = (f"Per-iteration cost on {args.dataset} (profile {cfg['profile']} hyper-parameters, batch "
                f"{cfg['training']['batch_size']}, one torch thread, {torch.__version__}; "
                f"median of {args.repeats} rounds of {args.iterations} iterations).")
        ratio_text = "\n".join(f"- {k}: {v:.2f}" for k, v in ratios(table).items())
        write_text(out.with_suffix(".md"), f"{head}\n\n{table.round(3).to_markdown(index=False)}\n\n{ratio_text}\n")
        write_csv(out, table)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
