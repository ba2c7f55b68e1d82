"""The bilinear game of paper Prop. 1 / Fig. 2 (claim C6), checked against closed forms: the iteration matrix
derived by hand in evaluation/bilinear_game.py's docstring, WGAN's exactly conserved quantity, and the bounds it
implies."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evaluation import bilinear_game as bg

ETAS = [0.1, 0.3, 0.5, 0.7, 0.9]
INIT = (1.0, 0.0, 0.0)


def hand_matrix(eta: float) -> np.ndarray:
    """Stein Bridging's map of (ψ, θ − 1, φ + 1) for λ1 = λ2 = 1, written out from the update equations."""
    return np.array([[1.0, -eta, 0.0],
                     [eta, 1.0 - eta, -eta * (1.0 - 2.0 * eta)],
                     [0.0, -eta, 1.0 - 2.0 * eta]])


@pytest.mark.parametrize("eta", ETAS)
def test_stein_bridging_is_the_hand_derived_linear_map(eta):
    traj = bg.simulate("stein_bridging", eta, 50, INIT, data_weight=1.0, bridge_weight=1.0)
    dev = traj - bg.OPTIMUM
    np.testing.assert_allclose(dev[1:], dev[:-1] @ hand_matrix(eta).T, rtol=0, atol=1e-12)
    np.testing.assert_allclose(bg.iteration_matrix(eta), hand_matrix(eta), atol=1e-12)
    assert np.linalg.det(hand_matrix(eta)) == pytest.approx((1 - eta) * (1 - 2 * eta), abs=1e-12)


@pytest.mark.parametrize("eta", ETAS)
def test_stein_bridging_converges_to_equilibrium_at_the_spectral_rate(eta):
    rho2 = float(np.abs(np.linalg.eigvals(hand_matrix(eta))).max() ** 2)
    assert rho2 < 1
    traj = bg.simulate("stein_bridging", eta, 1500, INIT, data_weight=1.0, bridge_weight=1.0)
    np.testing.assert_allclose(traj[-1], [0.0, 1.0, -1.0], atol=1e-9)
    window = int(np.log(1e-20) / np.log(rho2))  # stop before θ − 1 reaches float64's rounding floor
    n = bg.distance2(traj[:window])
    assert bg.empirical_rate(n) == pytest.approx(rho2, rel=2e-2)  # the complex pair makes N_t wobble a little
    assert bg.asymptotic_rate(eta) == pytest.approx(rho2, rel=1e-12)


@pytest.mark.parametrize("eta", ETAS)
def test_prop1_exact_factor_does_not_hold_but_the_rate_is_at_least_as_fast(eta):
    """Prop. 1 says N_{t+1} = (1 − η²(1 − η)²)·N_t. That needs MᵀM = (1 − η²(1 − η)²)·I, impossible for any M
    polynomial in η (module docstring). For this iteration: N_{t+1}/N_t depends on the state, and the long-run
    factor ρ(M)² is at most the paper's."""
    m = hand_matrix(eta)
    ratios = [float(np.sum((m @ e) ** 2)) for e in np.eye(3)]  # N_{t+1}/N_t from the three unit deviations
    assert max(ratios) - min(ratios) > 1e-3
    assert not np.allclose(m.T @ m, bg.paper_rate(eta) * np.eye(3), atol=1e-6)
    assert bg.asymptotic_rate(eta) <= bg.paper_rate(eta)


@pytest.mark.parametrize("eta", ETAS)
def test_wgan_cycles_without_converging(eta):
    """Alternating WGAN conserves E_t = ψ² + (θ − 1)² − ηψ(θ − 1) exactly, so N_t = ψ² + (θ − 1)² neither tends
    to 0 nor grows: it oscillates inside [E_0/(1 + η/2), E_0/(1 − η/2)]."""
    traj = bg.simulate("wgan", eta, 2000, INIT)
    a, b = traj[:, 0], traj[:, 1] - 1.0
    energy = a ** 2 + b ** 2 - eta * a * b
    np.testing.assert_allclose(energy, energy[0], rtol=1e-10)
    n = bg.distance2(traj)
    assert n.min() >= energy[0] / (1 + eta / 2) * (1 - 1e-9)
    assert n.max() <= energy[0] / (1 - eta / 2) * (1 + 1e-9)
    assert n[-200:].min() > 0.3 * n[0]  # no decay to 0
    steps = np.diff(n)
    assert (steps > 0).any() and (steps < 0).any()  # oscillates: N_t is not the conserved quantity


def test_regularised_baselines():
    eta, steps = 0.2, 400
    n0 = bg.distance2(bg.simulate("wgan", eta, 0, INIT))[0]
    lr = bg.simulate("wgan_lr", eta, steps, INIT, lr_weight=1.0)
    assert bg.distance2(lr)[-1] < 1e-12 * n0  # the LR regulariser is given the data density: it converges
    er = bg.simulate("wgan_er", eta, steps, INIT, er_weight=1.0, er_tracking=0.5)
    assert bg.distance2(er)[-1] > 10 * n0  # a lagging entropy estimator acts as positive momentum: outward spiral
    exact = bg.simulate("wgan_er", eta, steps, INIT, er_weight=1.0, er_tracking=1.0)
    np.testing.assert_array_equal(exact, bg.simulate("wgan", eta, steps, INIT))  # exact ∇_θ H = 0
    va = bg.simulate("wgan_va", eta, steps, INIT, er_weight=1.0, er_tracking=0.5, va_anneal_steps=100)
    a, b = va[101:, 0], va[101:, 1] - 1.0  # weight 0 from iteration 100 on: plain WGAN again, which cycles
    energy = a ** 2 + b ** 2 - eta * a * b
    np.testing.assert_allclose(energy, energy[0], rtol=1e-10)


def test_sensitivity_grid():
    lambdas = [0.0, 0.5, 1.0]
    sens = bg.sensitivity(0.2, 100, INIT, lambdas)
    assert len(sens) == 9 and set(sens.columns) >= {"data_weight", "bridge_weight", "rate", "final_distance"}
    no_bridge = sens[sens.bridge_weight == 0]
    np.testing.assert_allclose(no_bridge.rate, 1.0, atol=1e-12)  # λ2 = 0: generator and explicit model decouple
    bridged = sens[sens.bridge_weight > 0]
    assert (bridged.rate < 1).all()
    one = sens[(sens.data_weight == 1) & (sens.bridge_weight == 1)].iloc[0]
    assert one.rate == pytest.approx(bg.asymptotic_rate(0.2))


def test_simulate_shapes_and_errors():
    assert bg.simulate("wgan", 0.2, 7, INIT).shape == (8, 2)
    assert bg.simulate("stein_bridging", 0.2, 7).shape == (8, 3)  # init and weights from config
    with pytest.raises(ValueError, match="valid methods"):
        bg.simulate("wgan_gp", 0.2, 5, INIT)
    with pytest.raises(ValueError, match="valid weights"):
        bg.simulate("wgan", 0.2, 5, INIT, lambda1=1.0)


def test_cli_writes_figure_and_csv(tmp_path):
    bg.main(["--out-dir", str(tmp_path), "--eta", "0.3", "--steps", "40", "--sensitivity-lambdas", "0", "1"])
    for name in ("bilinear_game.png", "bilinear_game.pdf", "bilinear_game.csv"):
        assert (tmp_path / name).stat().st_size > 0
    table = pd.read_csv(tmp_path / "bilinear_game.csv")
    per_method = table[table.data_weight.isna()]
    assert list(per_method.method) == list(bg.METHODS)
    assert len(table) == len(bg.METHODS) + 4
    sb = per_method.set_index("method").loc["stein_bridging"]
    assert sb.paper_rate == pytest.approx(1 - 0.3 ** 2 * 0.7 ** 2)
    with pytest.raises(SystemExit):
        bg.main(["--out-dir", str(tmp_path), "--eta", "1.5"])
