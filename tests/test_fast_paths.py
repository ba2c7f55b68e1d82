"""Whole training iterations on the fast path (fused MLP gradients, closed-form steps) against the reference path
(`fused_gradients: false`: the same chain rule through autograd), in float64 from identical states and seeds: the
parameters after each iteration agree to round-off, so the speed work changes no result (issue "Speed").

Which methods have a fast path is read from the registry, not kept by hand: every registered method with an MLP
critic or energy on the fused path (methods/core/steps.py `fusable`) in 2-D, so a new method is covered as soon as
its file exists.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

import methods
from methods.core.steps import fusable
from methods.harness.train import Batches
from tests.conftest import tiny_hparams


def has_fast_path(name: str) -> bool:
    """Whether `fused_gradients` changes any of the method's networks in 2-D (a critic or an energy on the fused
    path)."""
    torch.manual_seed(0)
    method = methods.get(name)(tiny_hparams(name, fused_gradients=True), (2,))
    return any(fusable(m) for m in method.modules())


FAST = [name for name in methods.available() if has_fast_path(name)]


def run(name: str, fused: bool, iterations: int = 3, **over) -> torch.nn.Module:
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        hp = tiny_hparams(name, fused_gradients=fused, iterations=10, bridge_warmup=0.0, **over)
        torch.manual_seed(0)
        method = methods.get(name)(hp, (2,))
        x = torch.as_tensor(np.random.default_rng(0).standard_normal((64, 2)) * 2)
        data = Batches(x, 16, np.random.default_rng(1))
        for _ in range(iterations):
            method.train_step(data)
    finally:
        torch.set_default_dtype(default)
    return method


def test_every_method_with_a_critic_or_an_energy_has_its_fast_path_checked():
    assert {"wgan_gp", "gan", "dem", "joint_w", "joint_js", "joint_w_nobridge", "wgan_lr", "wgan_er"} <= set(FAST)


@pytest.mark.parametrize("name", FAST)
def test_fast_path_equals_reference_path(name):
    fast, ref = run(name, True), run(name, False)
    for (k, p), q in zip(fast.state_dict().items(), ref.state_dict().values()):
        torch.testing.assert_close(p, q, rtol=1e-8, atol=1e-10, msg=f"{name}: {k}")


def test_released_code_preset_fast_path():
    fast, ref = run("joint_w@released_code", True, critic_steps=2), run("joint_w@released_code", False,
                                                                          critic_steps=2)
    for (k, p), q in zip(fast.state_dict().items(), ref.state_dict().values()):
        torch.testing.assert_close(p, q, rtol=1e-8, atol=1e-10, msg=k)
