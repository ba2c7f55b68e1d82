"""The fused MLP value-and-input-gradient (methods/core/fused.py) against autograd: values, the input gradient
against torch.autograd.grad of the network itself, and every gradient of a loss that uses both (parameters and
input) against autograd's double backward through the reference path; for every activation and head."""
from __future__ import annotations

import pytest
import torch

from methods.core.nets import ACTIVATIONS, ENERGY_HEADS, MLP

F64 = torch.float64


def network(activation: str, d_out: int, layers: int = 2, seed: int = 0) -> MLP:
    torch.manual_seed(seed)
    return MLP(3, 16, d_out, layers, activation).double()


def inputs(seed: int = 1, b: int = 12) -> torch.Tensor:
    return 1.5 * torch.randn(b, 3, dtype=F64, generator=torch.Generator().manual_seed(seed))


def loss_of(value: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    # uses v and ∇v nonlinearly, as the gradient penalty and the KSD do
    return (value * torch.linspace(-1, 1, len(value), dtype=F64)).sum() + (grad.norm(dim=1) - 0.7).pow(2).sum() \
        + (grad[:, 0] * grad[:, 1]).sum()


@pytest.mark.parametrize("layers", [1, 2, 3])
@pytest.mark.parametrize("head", list(ENERGY_HEADS))
@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_fused_matches_autograd(activation, head, layers):
    net = network(activation, 1 if head == "linear" else 4, layers)
    x = inputs()
    rows = 7  # the gradient on the first rows only, as for the critic's interpolates
    results = []
    for path in ("fused", "reference"):
        xg = x.clone().requires_grad_(True)
        fn = net.value_and_grad if path == "fused" else net.value_and_grad_reference
        value, grad = fn(xg, head, rows)
        params = [xg, *net.parameters()]
        results.append((value.detach(), grad.detach(), torch.autograd.grad(loss_of(value, grad), params)))
    (v1, g1, d1), (v2, g2, d2) = results
    torch.testing.assert_close(v1, v2, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(g1, g2, rtol=1e-12, atol=1e-12)
    for a, b in zip(d1, d2):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-11)
    # and the reference gradient is the network's own input gradient
    xg = x.clone().requires_grad_(True)
    f = ENERGY_HEADS[head][0]
    (auto,) = torch.autograd.grad(f(net(xg)).sum(), xg)
    torch.testing.assert_close(g1, auto[:rows], rtol=1e-10, atol=1e-12)


def test_value_only_and_gradient_only_losses():
    net = network("tanh", 4)
    x = inputs()
    for use in ("value", "grad"):
        grads = []
        for fn in (net.value_and_grad, net.value_and_grad_reference):
            value, grad = fn(x, "softplus_experts")
            loss = value.sum() if use == "value" else grad.pow(2).sum()
            grads.append(torch.autograd.grad(loss, list(net.parameters()), allow_unused=True))
        for a, b in zip(*grads):
            torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-11)
