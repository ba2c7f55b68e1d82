"""The generic method test (README, "Adding a method"), parametrised over the registry: every registered method
runs a few iterations on tiny data with finite losses, right-shaped samples, finite energies and an exact
checkpoint round-trip; declares valid parameters; and is written from the update blocks (methods/core/updates.py)
as a subclass of Method (a variant: of its method's class), without the fast paths' internals."""
from __future__ import annotations

import ast
import io
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import methods
from methods import KINDS
from methods.core.base import Method
from methods.harness.train import Batches
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
        assert cls.kind in KINDS and (cls.kind != "implicit" or not cls.has_energy), name


VARIANTS = {"joint_js": "joint_w", "joint_w_nobridge": "joint_w", "dgm": "egan", "wgan_er": "gan_er",
            "wgan_lr": "gan_lr", "wgan_va": "gan_va"}  # a method with another method's algorithm: its subclass


def test_method_classes_subclass_method_and_variants_subclass_their_method():
    """Every method class is Method → X, or, for a variant of another method's algorithm, Method → base → X with the
    base a registered method; isinstance answers as the algorithm says (a joint_js is a joint_w)."""
    classes = {name: methods.get(name) for name in ALL}
    for name, cls in classes.items():
        chain = [k for k in cls.__mro__ if issubclass(k, Method)]
        expected = [cls, classes[VARIANTS[name]], Method] if name in VARIANTS else [cls, Method]
        assert chain == expected, (name, cls.__mro__)
        assert cls.__module__ == f"methods.{name}" and "name" in vars(cls), name
    method = build("joint_js")
    assert isinstance(method, classes["joint_w"]) and not isinstance(method, classes["joint_w_nobridge"])


def test_register_rejects_a_class_without_its_own_name():
    """A subclass that forgets `name` inherits its base's: register refuses it, even in its base's own file."""
    base = methods.get("joint_w")
    for module in ("methods.joint_w_ablation", "methods.joint_w"):
        orphan = type("Orphan", (base,), {"__module__": module, "loss": "gan"})
        with pytest.raises(TypeError, match="must equal its file's name"):
            methods.register(orphan)
    assert methods.get("joint_w") is base


INTERNALS = {"methods.core.fused", "methods.core.steps", "methods.core.optim"}


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def test_method_files_use_blocks_not_the_fast_paths_internals():
    """The choice between the closed-form path and autograd lives in the update blocks, never in a method file."""
    for path in sorted(Path(methods.__file__).parent.glob("*.py")):
        assert not imported_modules(path) & INTERNALS, f"{path.name} imports {imported_modules(path) & INTERNALS}"


def test_method_files_read_the_same_for_one_run_and_a_stack():
    """Stacking is the networks', the blocks' and methods/core/stack.py's layout helpers' business: no method file
    branches on whether it trains one run or a stack."""
    branch = re.compile(r"stack is (not )?None|\.stacked\b|len\(self\.stack\)")
    for path in sorted(Path(methods.__file__).parent.glob("*.py")):
        hits = [line.strip() for line in path.read_text().splitlines() if branch.search(line)]
        assert not hits, f"{path.name}: {hits}"


@pytest.mark.parametrize("name", ALL)
def test_declared_parameters_are_valid(name):
    cls = methods.get(name)
    assert isinstance(cls.hyperparameters, dict) and cls.defaults() == {k: p.default for k, p in cls.hyperparameters.items()}
    for key, param in cls.hyperparameters.items():
        assert param.help and "\n" not in param.help, (name, key)
        assert param.check(param.default, f"{name}.{key}") == param.default, (name, key)
    method = build(name)  # the built method resolves every declared parameter
    assert set(cls.hyperparameters) <= set(method.hp)


def test_python_m_methods_lists_every_method():
    out = subprocess.run([sys.executable, "-m", "methods"], capture_output=True, text=True, timeout=300,
                         cwd=Path(methods.__file__).parents[1])
    assert out.returncode == 0, out.stderr
    for name in ALL:
        cls = methods.get(name)
        assert f"{name}  ({cls.kind}" in out.stdout
        for key in cls.hyperparameters:
            assert key in out.stdout
    assert re.search(r"^ +parameter +declared +runs with +valid values +meaning$", out.stdout, re.M)


def listed(text: str, method: str, key: str) -> list[str]:
    """The row of `key` in `method`'s block of the listing, split into its columns (name, declared, runs with, …)."""
    block = text.split(f"\n{method}  (", 1)[1].split("\n\n", 1)[0]
    return next(line.split() for line in block.splitlines() if line.split()[:1] == [key])


def test_the_listing_shows_the_value_runs_get_where_config_overrides_the_declared_default(monkeypatch, capsys):
    from methods import __main__ as listing
    from methods.harness import config as suite_config

    declared = methods.get("dem").hyperparameters["energy_steps"].default
    load = suite_config.load
    monkeypatch.setattr(suite_config, "load", lambda profile, overrides=None, **kw: load(
        profile, {"methods": {"dem": {"energy_steps": declared + 6}}}, **kw))
    listing.main(["dem", "wgan_gp"])
    text = "\n" + capsys.readouterr().out
    assert listed(text, "dem", "energy_steps")[1:4] == [repr(declared), repr(declared + 6), listing.DIFFERS]
    gp = methods.get("wgan_gp").hyperparameters["gp_weight"].default  # not overridden: the same value, unmarked
    assert listed(text, "wgan_gp", "gp_weight")[1:4] == [repr(gp), repr(gp), "float"]


def test_the_listing_shows_the_default_profiles_values():
    from methods import __main__ as listing
    from methods.harness import config as suite_config

    runs_with = suite_config.hparams(suite_config.load("default", validate=False), "joint_w")
    text = "\n" + listing.describe("joint_w", runs_with, suite_config.track_hparams(suite_config.load("default")))
    for key, param in methods.get("joint_w").hyperparameters.items():
        row = listed(text, "joint_w", key)
        assert row[1:3] == [repr(param.default), repr(runs_with[key])]
        assert (row[3] == listing.DIFFERS) == (runs_with[key] != param.default), row


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
    clone.load_checkpoint_state(torch.load(buffer, weights_only=True))  # tensors and plain values only
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


def test_ebm_langevin_samples_end_with_the_mean_step(batches):
    """Its samples are the chains' last mean step x − (η/2)∇E(x), without the step's noise (std √η ≈ 0.32 at
    η = 0.1, wider than HSR's τ on ring8 and grid25): with a constant energy that step moves nothing."""
    method = methods.get("ebm_langevin")({**tiny_hparams("ebm_langevin"), "sample_steps": 1}, (2,))
    method.observe(batches.batch())  # the data box the chains start in
    with torch.no_grad():
        method.energy_net.net[-1].weight.zero_()  # E = const: ∇E = 0
    torch.manual_seed(3)
    start = method.uniform(50)
    torch.manual_seed(3)
    assert torch.equal(method.sample(50), start)
    method.hp["sample_denoise"] = False  # the chain's last noisy state instead
    torch.manual_seed(3)
    moved = (method.sample(50) - start).norm(dim=1)
    assert moved.mean() > 0.5 * method.hp["langevin_step"] ** 0.5


def test_dgm_energy_step_is_the_maximum_likelihood_gradient():
    """Kim & Bengio (2016): the energy descends E_data[E] − E_G[E], with no energy-magnitude penalty (egan's
    energy_l2 is a suite addition that held dgm's energy nearly flat)."""
    hp = tiny_hparams("dgm")
    assert (hp["energy_l2"], hp["margin"], hp["grad_penalty"]) == (0.0, None, 0.0)
    method = build("dgm")
    real, fake = torch.randn(32, 2) * 3, torch.randn(32, 2)
    expected = method.energy_net(real).mean() - method.energy_net(fake).mean()
    torch.testing.assert_close(method.energy_loss(real, fake), expected, rtol=0, atol=0)


@pytest.mark.parametrize("name", ALL + ["joint_w@released_code", "joint_js@released_code"])
def test_every_optimiser_steps_the_networks_the_method_uses(name, batches):
    """Each optimiser's step moves parameters of the method itself: every parameter it holds is a live view of its
    buffer (a second optimiser of one network, as in the released code's update order, shares the first's
    buffer), and after a few iterations every optimiser that stepped has moved the method's state."""
    base = name.split("@")[0]
    hp = tiny_hparams(name)
    torch.manual_seed(0)
    method = methods.get(base)(hp, (2,))
    own = {p.data_ptr() for p in method.parameters()}
    for key, opt in method.optimizers.items():
        assert all(p.data_ptr() in own for p in opt.params), key
        assert all(p.untyped_storage().data_ptr() == opt.flat.untyped_storage().data_ptr() for p in opt.params), key
    before = {key: [p.detach().clone() for p in opt.params] for key, opt in method.optimizers.items()}
    steps = {key: 0 for key in method.optimizers}
    for _ in range(3):
        method.train_step(batches)
    for key, opt in method.optimizers.items():
        if opt.t > steps[key]:  # it stepped: the method's own parameters moved
            assert any(not torch.equal(p, q) for p, q in zip(opt.params, before[key])), key
