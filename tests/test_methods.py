"""The generic method test (SPEC §2.1), parametrised over the registry: every registered method runs a few
iterations on tiny data with finite losses, right-shaped samples, finite energies and an exact checkpoint
round-trip."""
from __future__ import annotations

import io

import numpy as np
import pytest
import torch

import methods
from methods.train import Batches
from tests.conftest import tiny_hparams

ALL = methods.available()


def build(name: str, seed: int = 0):
    torch.manual_seed(seed)
    return methods.get(name)(tiny_hparams(name), (2,))


@pytest.fixture
def batches():
    rng = np.random.default_rng(0)
    x = torch.as_tensor(rng.standard_normal((64, 2)) * 2, dtype=torch.float32)
    return Batches(x, 16, rng)


def test_registry_is_consistent():
    assert {"wgan_gp", "dem"} <= set(ALL)
    for name in ALL:
        cls = methods.get(name)
        assert cls.name == name and (cls.has_generator or cls.has_energy), name


def test_unknown_method_lists_valid_ones():
    with pytest.raises(ValueError, match="unknown method 'nope'.*wgan_gp"):
        methods.get("nope")


@pytest.mark.parametrize("name", ALL)
def test_method_trains_and_round_trips(name, batches):
    method = build(name)
    for _ in range(3):
        losses = method.train_step(batches)
        assert losses and all(torch.isfinite(torch.as_tensor(v)).all() for v in losses.values()), losses
    x = torch.linspace(-3, 3, 20).reshape(10, 2)
    if method.has_generator:
        torch.manual_seed(1)
        s = method.sample(7)
        assert s.shape == (7, 2) and torch.isfinite(s).all()
    if method.has_energy:
        e = method.energy(x)
        assert e.shape == (10,) and torch.isfinite(e).all()

    clone = build(name, seed=123)  # different initial weights
    buffer = io.BytesIO()  # through serialisation, as a checkpoint file goes
    torch.save(method.checkpoint_state(), buffer)
    buffer.seek(0)
    clone.load_checkpoint_state(torch.load(buffer, weights_only=False))
    if method.has_generator:
        torch.manual_seed(1)
        assert torch.equal(clone.sample(7), s)
    if method.has_energy:
        assert torch.equal(clone.energy(x), e)
    # optimiser slots travel too: one more identical step gives identical parameters
    rng_state = torch.get_rng_state()
    b1 = Batches(batches.x, 16, np.random.default_rng(5))
    b2 = Batches(batches.x, 16, np.random.default_rng(5))
    method.train_step(b1)
    torch.set_rng_state(rng_state)
    clone.train_step(b2)
    for (k, p), q in zip(method.state_dict().items(), clone.state_dict().values()):
        assert torch.equal(p, q), f"{name}: {k} differs after one step from a restored checkpoint"
