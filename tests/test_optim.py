"""The flat-buffer Adam and RMSProp (methods/core/optim.py) against torch.optim, step by step, and their state
through a checkpoint."""
from __future__ import annotations

import io

import pytest
import torch

from methods.core.optim import Adam, RMSprop

F64 = torch.float64


def net(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2)).double()


def loss(module: torch.nn.Module, step: int) -> torch.Tensor:
    x = torch.randn(16, 3, dtype=F64, generator=torch.Generator().manual_seed(step))
    return module(x).pow(2).sum(1).sub(1).pow(2).mean()


@pytest.mark.parametrize("kind", ["adam", "rmsprop"])
def test_steps_match_torch_optim(kind):
    ours, ref = net(0), net(0)
    if kind == "adam":
        opt = Adam(ours.parameters(), lr=1e-2, betas=(0.5, 0.999))
        ref_opt = torch.optim.Adam(ref.parameters(), lr=1e-2, betas=(0.5, 0.999))
    else:
        opt = RMSprop(ours.parameters(), lr=1e-2, alpha=0.9)
        ref_opt = torch.optim.RMSprop(ref.parameters(), lr=1e-2, alpha=0.9)
    for step in range(25):
        for o, m in ((opt, ours), (ref_opt, ref)):
            o.zero_grad()
            loss(m, step).backward()
            o.step()
    for p, q in zip(ours.parameters(), ref.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-10, atol=1e-12)
    assert not torch.equal(next(ours.parameters()), next(net(0).parameters()))  # it did move


def test_two_optimisers_of_one_module_both_move_it_as_torch_optim_does():
    """The released code's order (methods/joint_w.py, `stein_updates: separate`): an Adam and an RMSProp step the
    same module in turn, each with its own slots; as two torch.optim optimisers of one module would."""
    ours, ref = net(3), net(3)
    first, second = Adam(ours.parameters(), lr=1e-2, betas=(0.5, 0.999)), RMSprop(ours.parameters(), lr=1e-2, alpha=0.9)
    ref_first = torch.optim.Adam(ref.parameters(), lr=1e-2, betas=(0.5, 0.999))
    ref_second = torch.optim.RMSprop(ref.parameters(), lr=1e-2, alpha=0.9)
    assert second.flat is first.flat
    for step in range(10):
        for o, m in ((first, ours), (ref_first, ref), (second, ours), (ref_second, ref)):
            o.zero_grad()
            loss(m, step).backward()
            o.step()
    for p, q in zip(ours.parameters(), ref.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-10, atol=1e-12)


def test_an_optimiser_of_part_of_a_laid_out_module_is_refused():
    m = net(4)
    Adam(m.parameters(), lr=1e-2)
    with pytest.raises(ValueError, match="share a flat buffer"):
        Adam(m[0].parameters(), lr=1e-2)
    with pytest.raises(ValueError, match="another order"):
        Adam(reversed(list(m.parameters())), lr=1e-2)


def test_parameters_are_views_of_one_buffer_and_state_round_trips():
    m = net(1)
    opt = Adam(m.parameters(), lr=1e-2)
    assert all(p.untyped_storage().data_ptr() == opt.flat.untyped_storage().data_ptr() for p in m.parameters())
    for step in range(3):
        opt.zero_grad()
        loss(m, step).backward()
        opt.step()
    buffer = io.BytesIO()
    torch.save({"model": m.state_dict(), "opt": opt.state_dict()}, buffer)
    buffer.seek(0)
    saved = torch.load(buffer)
    clone = net(2)
    clone_opt = Adam(clone.parameters(), lr=1e-2)
    clone.load_state_dict(saved["model"])
    clone_opt.load_state_dict(saved["opt"])
    for o, mod in ((opt, m), (clone_opt, clone)):
        o.zero_grad()
        loss(mod, 9).backward()
        o.step()
    for p, q in zip(m.parameters(), clone.parameters()):
        assert torch.equal(p, q)


def test_a_parameter_the_loss_ignores_gets_a_zero_gradient_and_stays():
    m = net(3)
    opt = Adam(m.parameters(), lr=1e-2)
    last = [p.clone() for p in m[2].parameters()]
    for _ in range(3):
        opt.zero_grad()
        m[0](torch.randn(2, 3, dtype=F64)).sum().backward()  # only the first layer gets gradients
        opt.step()
    assert all(torch.equal(p, q) for p, q in zip(m[2].parameters(), last))
    assert not torch.equal(m[0].weight, net(3)[0].weight)


def test_apply_takes_gradients_directly():
    a, b = net(4), net(4)
    opt_a, opt_b = Adam(a.parameters(), lr=1e-2), Adam(b.parameters(), lr=1e-2)
    opt_a.zero_grad()
    loss(a, 0).backward()
    opt_a.step()
    opt_b.apply(list(torch.autograd.grad(loss(b, 0), list(b.parameters()))))
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)


@pytest.mark.parametrize("method", ["joint_w", "egan"])
def test_a_schedule_per_side_sets_each_optimisers_rate(method):
    """lr_schedule {implicit: constant, explicit: linear}: at the last iteration the generator's and critic's
    rates are their base rates, the energy's its base rate times the linear factor (methods/core/base.py)."""
    import methods
    from methods.core.optim import lr_factor
    from tests.conftest import tiny_hparams

    hp = tiny_hparams(method, iterations=100, lr_warmup=0,
                      lr_schedule={"implicit": "constant", "explicit": "linear"})
    m = methods.get(method)(hp, (2,))
    m.schedule(100)
    sides = {name: m.sides[name] for name in m.optimizers}
    assert "implicit" in sides.values() and "explicit" in sides.values(), sides
    for name, opt in m.optimizers.items():
        factor = 1.0 if sides[name] == "implicit" else lr_factor("linear", 100, 100)
        assert opt.lr == pytest.approx(opt.base_lr * factor), name
    assert lr_factor("linear", 100, 100) < 0.05


def test_an_optimiser_without_a_side_under_a_per_side_schedule_is_named():
    import methods
    from tests.conftest import tiny_hparams

    m = methods.get("wgan_gp")(tiny_hparams("wgan_gp", lr_schedule={"implicit": "constant", "explicit": "linear"}),
                               (2,))
    m.adam("extra", m.critic, 1e-3, 0.5)  # a user's optimiser, made without a side
    with pytest.raises(ValueError, match="optimiser 'extra' was made without a side.*pass side='implicit'"):
        m.schedule(1)
