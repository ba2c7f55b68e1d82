"""The fused KSD (closed-form backward, methods/core/ksd.py) against the reference: the B × B matrix written out
from the definition and differentiated by autograd. Values and gradients in x and s, every kernel and statistic."""
from __future__ import annotations

import pytest
import torch

from methods.core.ksd import ksd, ksd_groups, ksd_reference

F64 = torch.float64
OPTIONS = [("rbf", {"bandwidth": 1.0}), ("rbf", {"bandwidth": 0.6}), ("rbf", {"bandwidth": "median"}),
           ("imq", {"imq_c": 1.0, "imq_beta": -0.5}), ("imq", {"imq_c": 2.0, "imq_beta": -0.3})]


def sample(seed: int, b: int = 30, d: int = 3):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(b, d, dtype=F64, generator=gen) * 1.5
    s = torch.randn(b, d, dtype=F64, generator=gen)
    return x, s


@pytest.mark.parametrize("statistic", ["u", "v"])
@pytest.mark.parametrize("kernel,params", OPTIONS)
def test_fused_value_and_gradients_match_autograd_of_the_matrix(kernel, params, statistic):
    x, s = sample(0)
    results = []
    for fn in (ksd, ksd_reference):
        xg, sg = x.clone().requires_grad_(True), s.clone().requires_grad_(True)
        value = fn(xg, sg, kernel, statistic=statistic, **params)
        gx, gs = torch.autograd.grad(value, (xg, sg))
        results.append((value, gx, gs))
    (v1, gx1, gs1), (v2, gx2, gs2) = results
    torch.testing.assert_close(v1, v2, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(gs1, gs2, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(gx1, gx2, rtol=1e-9, atol=1e-12)
    assert gx1.abs().max() > 1e-3 and gs1.abs().max() > 1e-3  # the gradients are not trivially zero


def test_gradient_flows_through_a_score_that_depends_on_x():
    # x = G(θ) and s = f(x): the closed-form backward must chain into both, like autograd does
    x0, _ = sample(1, b=20, d=2)
    theta = torch.tensor([0.7, -0.3], dtype=F64, requires_grad=True)
    grads = []
    for fn in (ksd, ksd_reference):
        x = x0 * theta.exp() + theta
        s = -torch.tanh(x) * theta[0]
        (g,) = torch.autograd.grad(fn(x, s), theta)
        grads.append(g)
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-9, atol=1e-12)


def test_groups_are_independent_discrepancies():
    xa, sa = sample(2)
    xb, sb = sample(3)
    grouped = ksd_groups(torch.stack([xa, xb]), torch.stack([sa, sb]))
    torch.testing.assert_close(grouped, torch.stack([ksd(xa, sa), ksd(xb, sb)]), rtol=1e-12, atol=1e-12)


def test_float32_matches_float64():
    x, s = sample(4, b=100, d=2)
    torch.testing.assert_close(ksd(x.float(), s.float()).double(), ksd(x, s), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("statistic", ["u", "v"])
def test_the_benchmarks_naive_ksd_is_the_same_number(statistic):
    """`python -m methods.harness.bench` times a naive Joint-W against joint_w; its broadcast KSD must compute what
    the fused one does, for the statistic the recipe uses."""
    from methods.harness.bench import NaiveJointW

    naive = NaiveJointW.__new__(NaiveJointW)  # only its hyper-parameters are read by `ksd`
    naive.hp = {"bandwidth": 0.8, "statistic": statistic}
    x, s = sample(3, d=2)
    assert naive.ksd(x, s).item() == pytest.approx(ksd(x, s, "rbf", bandwidth=0.8, statistic=statistic).item(),
                                                   rel=1e-10)
