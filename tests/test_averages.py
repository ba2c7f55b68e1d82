"""Weight averages (config `optim: ema`, methods/core/base.py): the runner keeps an exponential moving average of
the generator's and the energy's weights, and the evaluation sees the averages, never the training weights."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import methods
from methods.core.stack import Stack, StackedBatches
from methods.harness import config as suite_config
from methods.harness.train import Batches
from tests.conftest import float64
from tests.test_stack import job_hparams, stored, training_sets


def build(name: str, ema: float, stack: Stack | None = None):
    hp = {**suite_config.hparams(suite_config.load("default"), name, "two_circle"), "ema": ema, "hidden": 16,
          "batch_size": 32}
    return methods.get(name)(hp, (2,), stack)


def test_the_average_follows_its_closed_form():
    """First update: the average is the weights (d = 2/11 forgets nothing it has yet); then, weights shifted by
    +1 at iteration 100: average = old + (1 − d)·1 with d = min(ema, 101/110) = 0.9."""
    torch.manual_seed(0)
    m = build("joint_w", ema=0.9)
    m.update_averages(1)
    assert set(m.averages) == {"generator", "energy_net"}
    for name in m.averages:
        for a, w in zip(m.averages[name].parameters(), m._modules[name].parameters()):
            assert torch.equal(a, w) and not a.requires_grad
    before = {n: [p.clone() for p in m._modules[n].parameters()] for n in m.averages}
    with torch.no_grad():
        for n in m.averages:
            for p in m._modules[n].parameters():
                p.add_(1.0)
    m.update_averages(100)
    for n in m.averages:
        for a, old in zip(m.averages[n].parameters(), before[n]):
            assert torch.allclose(a, old + 0.1, atol=1e-6)
    # early on the decay is (1 + t)/(10 + t), below ema: at t = 10, d = 11/20
    m.update_averages(10)
    for n in m.averages:
        for a, old in zip(m.averages[n].parameters(), before[n]):
            assert torch.allclose(a, old + 0.1 + (1 - 11 / 20) * 0.9, atol=1e-6)


def test_without_ema_there_are_no_averages():
    m = build("wgan_gp", ema=0.0)
    m.update_averages(5)
    assert "averages" not in m._modules
    live = m.generator
    with m.averaged():
        assert m.generator is live
    assert not any(k.startswith("averages.") for k in m.checkpoint_state()["model"])


def test_averaged_swaps_the_evaluated_networks_and_back():
    torch.manual_seed(1)
    m = build("dgm", ema=0.5)
    m.update_averages(1)
    live_g, live_e = m.generator, m.energy_net
    avg_g, avg_e = m.averages["generator"], m.averages["energy_net"]
    x = torch.randn(5, 2)
    with m.averaged():
        assert m.generator is avg_g and m.energy_net is avg_e
        assert torch.equal(m.energy(x), avg_e(x))
    assert m.generator is live_g and m.energy_net is live_e and m.averages["generator"] is avg_g


@pytest.mark.parametrize("name", ["joint_w", "ebm_langevin"])
def test_stacked_averages_agree_with_a_run_alone(name):
    """20 iterations in float64 with ema 0.9: run k's averages inside a stack of 3 equal its averages alone."""
    with float64():
        seeds, data = [5, 6, 7], training_sets(3)
        stacked = build(name, 0.9, Stack(seeds))
        batches = StackedBatches([Batches(x, 32, np.random.default_rng(s)) for s, x in zip(seeds, data)])
        for it in range(1, 21):
            stacked.train_step(batches)
            stacked.update_averages(it)
        for k in range(3):
            torch.manual_seed(seeds[k])
            alone = build(name, 0.9)
            source = Batches(data[k], 32, np.random.default_rng(seeds[k]))
            for it in range(1, 21):
                alone.train_step(source)
                alone.update_averages(it)
            mine, theirs = stacked.run_state(k)["model"], alone.state_dict()
            assert any(key.startswith("averages.") for key in theirs) and mine.keys() == theirs.keys()
            for key, p in theirs.items():
                assert torch.allclose(p, mine[key], rtol=0, atol=1e-9), (name, k, key)


def test_a_trained_run_is_evaluated_by_its_averages(tmp_path):
    """Through the runner: the checkpoint keeps both weight sets; the method the evaluation loads has the averages
    as its generator and energy; the last curve row, the stored samples' source and the reloaded method agree."""
    from methods.harness.runfiles import load_checkpoint, load_method
    from methods.harness.train import train_runs

    data = stored(tmp_path, "d", "two_circle", 0)
    hp = job_hparams("joint_w", ema=0.95, curve_samples=500)
    train_runs([data], "joint_w", hp, [tmp_path / "run"])
    model = load_checkpoint(tmp_path / "run" / "checkpoint.pt")["method"]["model"]
    method, _ = load_method(tmp_path / "run" / "checkpoint.pt")
    for net in ("generator", "energy_net"):
        loaded = method._modules[net].state_dict()
        averaged = {k[len(f"averages.{net}."):]: v for k, v in model.items() if k.startswith(f"averages.{net}.")}
        trained = {k[len(f"{net}."):]: v for k, v in model.items() if k.startswith(f"{net}.")}
        assert loaded.keys() == averaged.keys() == trained.keys()
        assert all(torch.equal(loaded[k], averaged[k]) for k in loaded)
        assert not all(torch.equal(averaged[k], trained[k]) for k in loaded)  # the average is not the last iterate


def test_a_checkpoint_written_before_the_first_update_loads_and_averages_start_after_it():
    torch.manual_seed(2)
    m = build("wgan_gp", ema=0.9)
    state = m.checkpoint_state()  # no update yet: no averages
    assert not any(k.startswith("averages.") for k in state["model"])
    clone = build("wgan_gp", ema=0.9)
    clone.load_checkpoint_state(state)
    assert "averages" not in clone._modules
    clone.update_averages(1)
    assert all(torch.equal(a, w) for a, w in zip(clone.averages["generator"].parameters(),
                                                 clone.generator.parameters()))
