"""Stacked runs (methods/core/stack.py): K runs trained as one stack give each run the numbers it gets alone."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import datasets
import methods
from methods.core.base import Method
from methods.core.nets import MLP, StackedLinear
from methods.core.optim import Adam
from methods.core.stack import Stack, StackedBatches
from methods.harness import config as suite_config
from methods.harness.train import Batches
from tests.conftest import float64

STACKABLE = [name for name in methods.available() if methods.get(name).stackable]


def test_the_stackable_methods():
    assert set(STACKABLE) >= {"wgan_gp", "gan", "joint_w", "joint_js", "joint_w_nobridge", "dem", "gan_lr", "wgan_lr",
                              "gan_er", "wgan_er", "gan_va", "wgan_va", "egan", "dgm", "ebm_langevin"}


def training_sets(n: int) -> list[torch.Tensor]:
    """n different training sets: Two-Circle and Two-Spiral, clean and with outliers (a mixed stack)."""
    out = []
    for i in range(n):
        ds = datasets.get(["two_circle", "two_spiral"][i % 2])
        x = ds.sample(500, np.random.default_rng(100 + i))
        if i % 3 == 2:  # contaminated: uniform outliers over twice the data's box
            x[:100] = np.random.default_rng(i).uniform(-2, 2, (100, 2)) * np.abs(x).max()
        out.append(torch.as_tensor(x, dtype=torch.get_default_dtype()))
    return out


@pytest.mark.parametrize("name", STACKABLE + ["joint_w@released_code", "joint_js@released_code"])
def test_a_run_alone_and_inside_a_stack_of_nine_agree(name):
    """50 iterations in float64: run k's parameters and buffers (e.g. a DAE's running moments) alone and as the k-th
    of 9 mixed runs (other seeds, other data) agree to 1e-9."""
    with float64():
        hp = suite_config.hparams(suite_config.load("default"), name, "two_circle")
        hp = {**hp, "batch_size": 32, "hidden": 16}
        seeds, data = [7 + 3 * k for k in range(9)], training_sets(9)
        cls = methods.get(name)
        stacked = cls(hp, (2,), Stack(seeds))
        batches = StackedBatches([Batches(x, hp["batch_size"], np.random.default_rng(s)) for s, x in zip(seeds, data)])
        for _ in range(50):
            losses = stacked.train_step(batches)
        assert all(v.dim() == 0 or v.shape == (9,) for v in losses.values())
        for k in (0, 4, 8):
            torch.manual_seed(seeds[k])
            alone = cls(hp, (2,))
            source = Batches(data[k], hp["batch_size"], np.random.default_rng(seeds[k]))
            for _ in range(50):
                alone.train_step(source)
            mine = stacked.run_state(k)["model"]
            assert mine.keys() == alone.state_dict().keys()
            for key, p in alone.state_dict().items():
                assert torch.allclose(p, mine[key], rtol=0, atol=1e-9), (name, k, key, (p - mine[key]).abs().max())


def test_stacked_linear_starts_as_nn_linear():
    """Run k of a StackedLinear has the weights nn.Linear draws after torch.manual_seed(seed_k)."""
    seeds = [3, 5]
    layer = StackedLinear(4, 6, Stack(seeds))
    for k, seed in enumerate(seeds):
        torch.manual_seed(seed)
        ref = torch.nn.Linear(4, 6)
        assert torch.equal(layer.weight[k], ref.weight) and torch.equal(layer.bias[k], ref.bias)


def test_stacked_mlp_value_and_grad_matches_each_run():
    """The fused value and input gradient of a stacked MLP, and their backward pass, equal each run's own."""
    with float64():
        stack = Stack([1, 2, 3])
        net = MLP(2, 8, 3, 2, "tanh", stack=stack)
        x = torch.randn(3, 5, 2, requires_grad=True)
        value, grad = net.value_and_grad(x, "softplus_experts")
        (value.sum() + grad.pow(2).sum()).backward()
        for k in range(3):
            alone = MLP(2, 8, 3, 2, "tanh")
            with torch.no_grad():
                for p, q in zip(alone.parameters(), net.parameters()):
                    p.copy_(q[k])
            xk = x.detach()[k].clone().requires_grad_(True)
            v, g = alone.value_and_grad(xk, "softplus_experts")
            (v.sum() + g.pow(2).sum()).backward()
            assert torch.allclose(v, value[k]) and torch.allclose(g, grad[k])
            assert torch.allclose(xk.grad, x.grad[k])
            for p, q in zip(alone.parameters(), net.parameters()):
                assert torch.allclose(p.grad, q.grad[k])


def test_stacked_adam_keeps_one_row_of_slots_per_run():
    stack = Stack([0, 1])
    net = MLP(2, 4, 1, 1, "tanh", stack=stack)
    opt = Adam(net.parameters(), lr=0.1, runs=2)
    assert opt.flat.shape == (2, sum(p[0].numel() for p in net.parameters()))
    before = [p.detach().clone() for p in net.parameters()]
    opt.apply([torch.cat([torch.ones(1, *p.shape[1:]), torch.zeros(1, *p.shape[1:])]) for p in net.parameters()])
    for p, b in zip(net.parameters(), before):
        assert not torch.equal(p[0], b[0]) and torch.equal(p[1], b[1])  # run 1 had no gradient: unchanged
    # a non-finite gradient leaves its run as it was (finite), and a frozen run no longer moves
    before, slots = [p.detach().clone() for p in net.parameters()], opt.state["exp_avg"].clone()
    opt.frozen[1] = True
    opt.apply([torch.stack([torch.full(p.shape[1:], float("nan")), torch.ones(p.shape[1:])])
               for p in net.parameters()])
    assert all(torch.equal(p, b) for p, b in zip(net.parameters(), before))
    assert torch.equal(opt.state["exp_avg"], slots)


def test_a_method_that_does_not_stack_says_so():
    class Plain(Method):  # a user's new method, not (yet) written for stacks
        name = "plain"

    with pytest.raises(ValueError, match="method 'plain' does not train in stacks; give it stack: 1"):
        Plain({}, (2,), Stack([0, 1]))


def test_bench_times_stacks(capsys, monkeypatch):
    from methods.harness import bench

    bench.main(["--stack", "3", "9", "--methods", "dem", "--iterations", "9", "--repeats", "1", "--warmup", "0"])
    out = capsys.readouterr().out
    assert "K=1:" in out and "K=3:" in out and "K=9:" in out and "dem stack9/stack1:" in out
    monkeypatch.setattr(methods.get("gan_er"), "stackable", False)  # every registered method stacks: a new one may not
    with pytest.raises(SystemExit):
        bench.main(["--stack", "--methods", "gan_er"])
    assert "does not train in stacks" in capsys.readouterr().err


# --- training jobs of several runs (methods/harness/train.py train_runs) ------------------------------------------
def stored(tmp_path, name: str, dataset: str, seed: int, scale: float = 1.0):
    """A stored training set (datasets.make), its points multiplied by `scale`."""
    from datasets.make import build

    data = build(dataset, "clean", seed)
    data["x"] = data["x"] * scale
    path = tmp_path / f"{name}.npz"
    np.savez(path, **data)
    return path


def job_hparams(name: str, **over) -> dict:
    hp = suite_config.hparams(suite_config.load("default"), name, "two_circle")
    return {**hp, "iterations": 40, "checkpoint_every": 20, "eval_every": 20, "curve_samples": 0, "hidden": 32,
            **over}


def test_a_run_that_diverges_in_a_stack_is_frozen_and_the_others_go_on(tmp_path):
    """A run whose data overflow float32 diverges at its first iteration: recorded as diverged there, its
    parameters frozen and finite; its partner trains on, to exactly the numbers it gets beside a healthy run."""
    from methods.harness.train import train_runs

    good, healthy = stored(tmp_path, "good", "two_circle", 0), stored(tmp_path, "healthy", "two_spiral", 1)
    huge = stored(tmp_path, "huge", "two_spiral", 1, scale=1e30)  # squares overflow: the KSD is NaN at once
    hp = job_hparams("dem")
    records = train_runs([good, huge], "dem", hp, [tmp_path / "a", tmp_path / "b"])
    assert records[0]["status"] == "ok" and records[0]["stack"] == 2
    assert records[1]["status"] == "diverged" and records[1]["failure"]["iteration"] == 1
    assert json.loads((tmp_path / "b" / "train.json").read_text())["status"] == "diverged"
    train_runs([good, healthy], "dem", hp, [tmp_path / "c", tmp_path / "d"])
    from methods.harness.runfiles import load_checkpoint

    a, c = (load_checkpoint(tmp_path / n / "checkpoint.pt")["method"]["model"] for n in "ac")
    assert all(torch.equal(a[k], c[k]) for k in a)
    frozen = load_checkpoint(tmp_path / "b" / "checkpoint.pt") if (tmp_path / "b" / "checkpoint.pt").exists() else None
    assert frozen is None  # diverged before its first checkpoint: nothing non-finite was saved


def test_a_stacked_runs_checkpoint_resumes_alone_and_in_a_stack(tmp_path):
    """Stacked runs write ordinary checkpoints: half a job's iterations in a stack, then the rest of one run alone
    and of the other in a stack of one, give each the numbers of the job run straight through (to float32
    rounding: a run alone takes the unbatched products)."""
    from methods.harness.runfiles import load_checkpoint
    from methods.harness.train import train_runs

    data = [stored(tmp_path, "p", "two_circle", 0), stored(tmp_path, "q", "two_spiral", 1)]  # (wgan_gp at a constant
    # rate: then nothing depends on the iteration count, which the half job changes)
    hp = job_hparams("wgan_gp", lr_schedule="constant")
    train_runs(data, "wgan_gp", hp, [tmp_path / "s0", tmp_path / "s1"])  # straight through
    train_runs(data, "wgan_gp", {**hp, "iterations": 20}, [tmp_path / "h0", tmp_path / "h1"])
    for n in ("h0", "h1"):  # as after a kill at iteration 20: continue under the job's own hyper-parameters
        ckpt = load_checkpoint(tmp_path / n / "checkpoint.pt")
        ckpt["meta"]["config_hash"] = suite_config.config_hash(hp, **{k: ckpt["meta"][k] for k in
                                                                      ("dataset", "setting", "method", "seed")})
        torch.save(ckpt, tmp_path / n / "checkpoint.pt")
    records = [train_runs([data[0]], "wgan_gp", hp, [tmp_path / "h0"])[0],
               train_runs([data[1], data[0]], "wgan_gp", hp, [tmp_path / "h1", tmp_path / "x"])[0]]
    assert [r["resumed_from"] for r in records] == [20, 20] and [r["stack"] for r in records] == [1, 1]
    for resumed, straight in (("h0", "s0"), ("h1", "s1")):
        a, b = (load_checkpoint(tmp_path / n / "checkpoint.pt")["method"]["model"] for n in (resumed, straight))
        assert all(torch.allclose(a[k], b[k], atol=1e-4) for k in a), resumed


@pytest.mark.parametrize("by", ["seeds", "curve", "method"])
def test_training_jobs_group_runs_as_configured(by):
    import copy

    cfg = copy.deepcopy(suite_config.load("default"))
    cfg["training"].update(stack=9, stack_by=by)
    jobs, runs = suite_config.jobs(cfg), suite_config.runs(cfg)
    assert sorted(r for job in jobs for r in job.runs) == sorted(runs)  # every run in exactly one job
    shared = {"seeds": ("dataset", "setting"), "curve": ("dataset",), "method": ()}[by]
    for job in jobs:
        assert 1 <= len(job.runs) <= 9 and {r.method for r in job.runs} == {job.method}
        assert len({json.dumps(suite_config.hparams(cfg, r.method, r.dataset), sort_keys=True) for r in job.runs}) == 1
        assert all(len({getattr(r, key) for r in job.runs}) == 1 for key in shared)
        if datasets.track(job.runs[0].dataset) == "image":
            assert len(job.runs) == 1
    assert len(jobs) < len(runs)
    cfg["training"]["stack"] = 1
    assert [job.runs for job in suite_config.jobs(cfg)] == [(r,) for r in runs]
