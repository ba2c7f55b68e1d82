"""Stein Bridging (paper Algorithm 1; methods/joint_w.py): the λ2 schedule, what the bridge does and does not
change against the methods it joins (wgan_gp for G, dem for E), and the `released_code` preset."""
from __future__ import annotations

import io

import numpy as np
import pytest
import torch

import methods
from methods.harness import config as suite_config
from methods.core.ksd import ksd
from methods.core.stein import score_from_energy
from methods.core.optim import Adam
from methods.core.terms import SteinBridge
from methods.core.updates import GeneratorUpdate, draw
from methods.harness.train import Batches
from tests.conftest import tiny_hparams

torch.set_num_threads(1)  # tiny networks: one thread is fastest, and other jobs share the cores


def build(name: str, seed: int = 0, **over):
    torch.manual_seed(seed)
    return methods.get(name)(tiny_hparams(name.partition("@")[0], **over), (2,))


def batches(seed: int = 0) -> Batches:
    x = torch.as_tensor(np.random.default_rng(0).standard_normal((64, 2)) * 2, dtype=torch.float32)
    return Batches(x, 16, np.random.default_rng(seed))


def same_params(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_bridge_schedule_is_zero_then_linear_then_constant():
    m = build("joint_w", iterations=100, bridge_weight=2.0, bridge_warmup=0.2, bridge_start=10)
    lam = [m.bridge_schedule(t) for t in range(100)]
    assert lam[:11] == [0.0] * 11  # zero before bridge_start, and the ramp starts from 0 there
    np.testing.assert_allclose(lam[10:31], 2.0 * np.arange(21).clip(max=20) / 20)  # ramp over 0.2 · 100 iterations
    assert lam[30:] == [2.0] * 70
    assert build("joint_w", bridge_warmup=0.0).bridge_schedule(0) == build("joint_w").hp["bridge_weight"]


def test_schedule_follows_the_iteration_counter_through_a_checkpoint():
    m, b = build("joint_w", iterations=10, bridge_warmup=0.5), batches()
    seen = [float(m.train_step(b)["bridge_weight"]) for _ in range(3)]
    assert seen == pytest.approx([m.bridge_schedule(t) for t in range(3)]) and int(m.iteration) == 3
    buffer = io.BytesIO()
    torch.save(m.checkpoint_state(), buffer)
    buffer.seek(0)
    clone = build("joint_w", seed=1, iterations=10, bridge_warmup=0.5)
    clone.load_checkpoint_state(torch.load(buffer, weights_only=True))
    assert float(clone.train_step(b)["bridge_weight"]) == pytest.approx(m.bridge_schedule(3)) == 0.6


def test_nobridge_forces_lambda2_to_zero():
    m = build("joint_w_nobridge", bridge_weight=5.0, bridge_warmup=0.0)
    assert m.hp["bridge_weight"] == 0.0 and m.bridge_schedule(1000) == 0.0


def test_generator_update_equals_wgan_gp_without_bridge_and_differs_with_it():
    # Same initial G and D, same seeds: joint_w draws its energy batch after the critic batches and the
    # generator noise (methods/core/updates.py `draw`), so without the bridge its G and D follow wgan_gp's exactly.
    wgan = build("wgan_gp")
    state = {"generator": wgan.generator.state_dict(), "critic": wgan.critic.state_dict()}
    state = {k: {n: t.clone() for n, t in v.items()} for k, v in state.items()}
    torch.manual_seed(3)
    wgan.train_step(batches(3))
    trained = {}
    for name, bridge_weight in (("joint_w_nobridge", 1.0), ("joint_w", 1.0)):
        m = build(name, seed=7, bridge_warmup=0.0, bridge_weight=bridge_weight)
        m.generator.load_state_dict(state["generator"])
        m.critic.load_state_dict(state["critic"])
        torch.manual_seed(3)
        m.train_step(batches(3))
        trained[name] = m
    nobridge, bridged = trained["joint_w_nobridge"], trained["joint_w"]
    assert nobridge.lam2 == 0.0 and bridged.lam2 == 1.0
    assert same_params(nobridge.generator, wgan.generator) and same_params(nobridge.critic, wgan.critic)
    assert same_params(bridged.critic, wgan.critic)  # the critic never sees the bridge
    assert not same_params(bridged.generator, wgan.generator)


def test_energy_step_without_bridge_is_dem_step():
    joint, dem = build("joint_w"), build("dem", seed=1, energy_steps=1)  # one step: one energy_update call
    dem.energy_net.load_state_dict(joint.energy_net.state_dict())
    real, fake = batches().batch(), 3 + torch.randn(16, 2)
    s_data, _ = joint.energy_update([real, fake], [joint.hp["data_weight"], 0.0])  # λ2 = 0
    hp = dem.hp  # the λ1 term computed directly: the KSD of the data against −∇E
    direct = ksd(real, score_from_energy(dem.energy_net, real), hp["kernel"], hp["bandwidth"], hp["statistic"])
    assert torch.allclose(s_data, direct, rtol=1e-6)
    dem.train_step(type("Fixed", (), {"batch": lambda self, n=None: real})())
    assert same_params(joint.energy_net, dem.energy_net)
    bridged = build("joint_w")
    bridged.energy_update([real, fake], [bridged.hp["data_weight"], 1.0])
    assert not same_params(bridged.energy_net, dem.energy_net)


def test_energy_steps_are_that_many_steps_on_fresh_batches():
    # dem: n_e steps in one iteration are n_e one-step iterations on the same stream of batches
    many, one = build("dem", energy_steps=3), build("dem", energy_steps=1)
    assert same_params(many.energy_net, one.energy_net)
    b_many, b_one = batches(5), batches(5)
    many.train_step(b_many)
    for _ in range(3):
        one.train_step(b_one)
    assert same_params(many.energy_net, one.energy_net) and many.energy_update.opt.t == 3
    # joint_w: the n_e steps descend λ1·S(data) + λ2·S(G(z)) on the batches drawn after the n_d critic batches
    m = build("joint_w", seed=7, energy_steps=3, bridge_warmup=0.0)
    replay = build("joint_w", seed=7, energy_steps=3, bridge_warmup=0.0)  # the same initial weights
    torch.manual_seed(3)
    m.train_step(batches(3))
    torch.manual_seed(3)
    n_d, b = replay.hp["critic_steps"], replay.hp["batch_size"]
    _, _, reals, fakes = draw(batches(3), replay.generator, b, n_d, extra=3)
    for k in range(n_d, n_d + 3):
        replay.energy_update([reals[k], fakes[k]], [replay.hp["data_weight"], 1.0])
    assert same_params(m.energy_net, replay.energy_net) and m.energy_update.opt.t == 3
    assert not same_params(m.energy_net, build("joint_w", seed=7, bridge_warmup=0.0).energy_net)
    # the extra batches come after the critic's and the generator's: without the bridge G and D are wgan_gp's
    wgan, nobridge = build("wgan_gp", seed=7), build("joint_w_nobridge", seed=7, energy_steps=3)
    nobridge.generator.load_state_dict(wgan.generator.state_dict())
    nobridge.critic.load_state_dict(wgan.critic.state_dict())
    for model in (wgan, nobridge):
        torch.manual_seed(3)
        model.train_step(batches(3))
    assert same_params(nobridge.generator, wgan.generator) and same_params(nobridge.critic, wgan.critic)
    with pytest.raises(ValueError, match="energy_steps = 2 needs stein_updates: joint"):
        build("joint_w", energy_steps=2, stein_updates="separate")


def test_bridge_pulls_the_generator_towards_the_energy_model():
    """With a fixed Gaussian energy E(x) = ‖x − μ‖²/2 and only the bridge term λ2·KSD(G(z), p_E) in the generator
    loss, the generated points move from about N(0, ·) to p_E = N(μ, I)."""
    class Gaussian(torch.nn.Module):
        def forward(self, x):
            return 0.5 * (x - mu).pow(2).sum(-1)

    m, mu = build("joint_w", seed=0), torch.tensor([2.0, -1.0])
    bridge = SteinBridge(Gaussian(), m.hp)
    bridge.weight = 1.0
    update = GeneratorUpdate(m.generator, Adam(m.generator.parameters(), lr=2e-2), [bridge])
    for _ in range(150):
        update(m.generator.noise(32), None)
    with torch.no_grad():
        x = m.generator(2000)
    assert torch.allclose(x.mean(0), mu, atol=0.3) and torch.allclose(x.std(0), torch.ones(2), atol=0.35), x


def test_released_code_preset():
    """The released code's modelling choices in every profile; its optimiser only in the paper profile (the others
    train those choices with the suite's recipe, as every other method)."""
    modelling = {"critic_steps": 6, "noise_std": 10.0, "penalty": "hinge", "energy_head": "sigmoid_experts",
                 "score": "density_gradient", "statistic": "v", "stein_updates": "separate", "bridge_warmup": 0,
                 "bridge_weight": 1.0, "data_weight": 1.0}
    optimiser = {"optimizer_implicit": "adam", "lr_implicit": 1e-5, "beta1_implicit": 0.9,
                 "optimizer_explicit": "rmsprop", "lr_explicit": 1e-3, "lr_schedule": "constant"}
    cfg = suite_config.load("smoke")
    recipe = suite_config.hparams(cfg, "joint_w")
    smoke = suite_config.hparams(cfg, "joint_w@released_code")
    assert {k: smoke[k] for k in modelling} == modelling
    assert {k: smoke[k] for k in optimiser} == {k: recipe[k] for k in optimiser}
    assert recipe["stein_updates"] == "joint"  # the preset leaves the default alone
    hp = suite_config.hparams(suite_config.load("paper", validate=False), "joint_w@released_code")
    assert {k: hp[k] for k in {**modelling, **optimiser}} == {**modelling, **optimiser}
    hp.update(batch_size=16, hidden=16)
    m = methods.get("joint_w@released_code")(hp, (2,))
    opts = {k: (type(o).__name__, o.lr) for k, o in m.optimizers.items()}
    assert opts == {"generator": ("Adam", 1e-5), "critic": ("Adam", 1e-5), "energy": ("RMSprop", 1e-3),
                    "generator_stein": ("RMSprop", 1e-5), "energy_bridge": ("RMSprop", 1e-3)}
    losses = m.train_step(batches())
    assert all(torch.isfinite(torch.as_tensor(v)) for v in losses.values()), losses


@pytest.mark.parametrize("name", ["joint_w", "joint_js"])
def test_neural_stein_critic_variant_trains(name):
    m, b = build(name, discrepancy="neural", critic_steps_stein=2), batches()
    before = [p.clone() for p in m.stein_critic.parameters()]
    losses = [m.train_step(b) for _ in range(2)][-1]
    assert {"stein_critic", "stein_data", "stein_gen"} <= set(losses)
    assert all(torch.isfinite(torch.as_tensor(v)) for v in losses.values()), losses
    assert any(not torch.equal(p, q) for p, q in zip(before, m.stein_critic.parameters()))


def test_unknown_choices_are_named():
    with pytest.raises(ValueError, match="discrepancy 'mmd'.*ksd, neural"):
        build("joint_w", discrepancy="mmd")
    with pytest.raises(ValueError, match="optimizer_explicit: 'sgd' is not valid; one of adam, rmsprop"):
        build("joint_w", optimizer_explicit="sgd")


# The adversarial side of each joint method and the method it is compared with (claims C1, C8): every setting that
# shapes the generator and its critic must agree, so that a comparison measures the energy model and the bridge.
ADVERSARIAL = ["critic_steps", "gp_weight", "penalty", "lr_implicit", "beta1_implicit", "beta2", "batch_size",
               "noise_dim", "noise_std", "hidden", "layers", "generator_activation", "critic_activation"]


@pytest.mark.parametrize("profile", ["smoke", "default"])
@pytest.mark.parametrize("joint, counterpart", [("joint_w", "wgan_gp"), ("joint_js", "gan"),
                                                ("joint_w_nobridge", "wgan_gp")])
def test_joint_methods_keep_their_counterparts_adversarial_settings(profile, joint, counterpart):
    cfg = suite_config.load(profile)
    for dataset in ("two_circle", "mnist5k"):
        a, b = suite_config.hparams(cfg, joint, dataset), suite_config.hparams(cfg, counterpart, dataset)
        keys = [k for k in ADVERSARIAL if k in b]  # a GAN has no gradient penalty
        assert {k: a[k] for k in keys} == {k: b[k] for k in keys}
        assert a.get("optimizer_implicit", "adam") == b.get("optimizer_implicit", "adam")


def test_released_code_preset_follows_each_released_script():
    """Two_Circle/Joint_W.py: lambda_p = 1 and a tanh generator; Two_Spiral/Joint_W.py: lambda_p = 100 and a leaky
    ReLU generator; both penalise relu(‖∇D‖ − 1) unsquared (`hinge`)."""
    cfg = suite_config.load("default")
    for method in ("joint_w@released_code", "joint_js@released_code"):
        circle = suite_config.hparams(cfg, method, "two_circle")
        spiral = suite_config.hparams(cfg, method, "two_spiral")
        assert (circle["gp_weight"], circle["generator_activation"]) == (1.0, "tanh")
        assert (spiral["gp_weight"], spiral["generator_activation"]) == (100.0, "leaky_relu")
        assert circle["penalty"] == spiral["penalty"] == "hinge" and circle["critic_steps"] == 6
    assert suite_config.hparams(cfg, "joint_w", "two_circle")["generator_activation"] == "leaky_relu"
