"""Stein machinery (methods/core/stein.py, methods/core/ksd.py) against independent computations: the Stein
identity (zero mean under the model's own score), closed-form population values, autograd derivatives of the
kernels, finite differences of the energy, and the exact Jacobian trace."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.spatial.distance import pdist
from torch.func import grad, jacrev, vmap

from methods.core.nets import Energy
from methods.core.ksd import ksd, median_bandwidth, stein_kernel_matrix
from methods.core.stein import (SteinCritic, hutchinson_divergence, model_score,
                                score_from_energy, stein_discrepancy, stein_estimate,
                                stein_operator_value)

torch.set_num_threads(1)
F64 = torch.float64

# A correlated 2-D Gaussian N(μ, Σ): its exact score is −Σ⁻¹(x − μ).
MU = torch.tensor([0.5, -1.0], dtype=F64)
SIGMA = torch.tensor([[1.0, 0.6], [0.6, 2.0]], dtype=F64)
CHOL = torch.linalg.cholesky(SIGMA)
PREC = torch.linalg.inv(SIGMA)


def gaussian_sample(n: int, gen: torch.Generator) -> torch.Tensor:
    return MU + torch.randn(n, 2, dtype=F64, generator=gen) @ CHOL.T


def gaussian_score(x: torch.Tensor, mean: torch.Tensor = MU) -> torch.Tensor:
    return -(x - mean) @ PREC


def repeated_ksd(kernel: str, mean: torch.Tensor, draws: int = 100, b: int = 200, **kw) -> tuple[float, float]:
    """Mean and standard error of the U-statistic over independent draws of b points."""
    gen = torch.Generator().manual_seed(0)
    vals = torch.stack([ksd(x, gaussian_score(x, mean), kernel, **kw)
                        for x in (gaussian_sample(b, gen) for _ in range(draws))])
    return vals.mean().item(), (vals.std() / math.sqrt(draws)).item()


# --- kernel Stein discrepancy ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("kernel", ["rbf", "imq"])
def test_ksd_u_statistic_is_zero_under_the_models_own_score(kernel):
    mean, se = repeated_ksd(kernel, MU)
    assert abs(mean) < 3 * se, (mean, se)


def test_ksd_with_a_shifted_score_matches_the_closed_form():
    # s_p = s_q + δ with constant δ = Σ⁻¹Δμ: by the Stein identity of Q every cross term vanishes, leaving
    # KSD² = ‖δ‖² E k(x, x'), and x − x' ~ N(0, 2Σ) gives E k = det(I + 2Σ/h²)^(−1/2) for the RBF kernel.
    shift = torch.tensor([0.5, 0.5], dtype=F64)
    h = 1.3
    mean, se = repeated_ksd("rbf", MU + shift, bandwidth=h)
    delta = PREC @ shift
    expected = delta.dot(delta) / torch.linalg.det(torch.eye(2, dtype=F64) + 2 * SIGMA / h ** 2).sqrt()
    assert mean > 10 * se
    assert abs(mean - expected.item()) < 3 * se, (mean, expected.item(), se)


def test_imq_ksd_with_a_shifted_score_is_clearly_positive():
    mean, se = repeated_ksd("imq", MU + torch.tensor([0.5, 0.5], dtype=F64))
    assert mean > 10 * se, (mean, se)


def autograd_stein_kernel(x: torch.Tensor, s: torch.Tensor, k) -> torch.Tensor:
    """u(x_i, x_j) with every kernel derivative by torch.func: ∇_x k, ∇_{x'} k and tr ∇_x∇_{x'} k per pair."""
    def u(a, b, sa, sb):
        dk_da = grad(k, 0)(a, b)
        dk_db = grad(k, 1)(a, b)
        trace = torch.trace(jacrev(grad(k, 0), 1)(a, b))
        return sa @ sb * k(a, b) + sa @ dk_db + dk_da @ sb + trace

    rows = vmap(u, in_dims=(None, 0, None, 0))  # one x_i against every x_j
    return vmap(rows, in_dims=(0, None, 0, None))(x, x, s, s)


@pytest.mark.parametrize("kernel,params", [("rbf", {"bandwidth": 1.0}), ("rbf", {"bandwidth": 0.7}),
                                           ("rbf", {"bandwidth": "median"}),
                                           ("imq", {"imq_c": 1.0, "imq_beta": -0.5}),
                                           ("imq", {"imq_c": 2.0, "imq_beta": -0.3})])
def test_closed_form_stein_kernel_matches_autograd(kernel, params):
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(12, 3, dtype=F64, generator=gen)
    s = torch.randn(12, 3, dtype=F64, generator=gen)  # any vectors: the identity holds for arbitrary scores
    if kernel == "rbf":
        h = float(np.median(pdist(x.numpy()))) if params["bandwidth"] == "median" else params["bandwidth"]
        k = lambda a, b: torch.exp(-(a - b).pow(2).sum() / (2 * h * h))  # noqa: E731
    else:
        c, beta = params["imq_c"], params["imq_beta"]
        k = lambda a, b: (c + (a - b).pow(2).sum()).pow(beta)  # noqa: E731
    ours = stein_kernel_matrix(x, s, kernel, **params)
    torch.testing.assert_close(ours, autograd_stein_kernel(x, s, k), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("kernel", ["rbf", "imq"])
def test_v_statistic_is_u_statistic_plus_the_diagonal(kernel):
    gen = torch.Generator().manual_seed(2)
    x = gaussian_sample(50, gen)
    s = gaussian_score(x, MU + 0.3)
    b = x.shape[0]
    u_stat, v_stat = ksd(x, s, kernel, statistic="u"), ksd(x, s, kernel, statistic="v")
    trace = stein_kernel_matrix(x, s, kernel).diagonal().sum()
    torch.testing.assert_close(v_stat * b * b, u_stat * b * (b - 1) + trace, rtol=1e-12, atol=1e-12)
    assert not torch.isclose(u_stat, v_stat)  # the identity is not vacuous


def test_median_bandwidth_is_the_median_pairwise_distance():
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(40, 2, dtype=F64, generator=gen)  # 780 pairs: an even count, where the two medians differ
    h = median_bandwidth(x)
    assert h.item() == pytest.approx(float(np.median(pdist(x.numpy()))), rel=1e-12)
    s = gaussian_score(x)
    torch.testing.assert_close(ksd(x, s, bandwidth="median"), ksd(x, s, bandwidth=h.item()))


def test_unknown_options_name_the_valid_choices():
    x = torch.randn(5, 2)
    with pytest.raises(ValueError, match="rbf, imq"):
        ksd(x, x, kernel="gauss")
    with pytest.raises(ValueError, match="u, v"):
        ksd(x, x, statistic="w")
    with pytest.raises(ValueError, match="log_density, density_gradient"):
        model_score(lambda y: y.sum(1), x, kind="p")
    with pytest.raises(ValueError, match="vector, scalar_max"):
        stein_estimate(lambda y: y, x, x, kind="matrix")


# --- scores from energies -------------------------------------------------------------------------------------------
def energy_net(head: str, fused: bool = True) -> Energy:
    torch.manual_seed(4)
    hp = {"energy_head": head, "hidden": 16, "experts": 4, "layers": 2, "energy_activation": "tanh",
          "fused_gradients": fused}
    return Energy(hp, 2).double()


def central_difference(fn, x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """∂fn/∂x_j at each row of x by (fn(x + εe_j) − fn(x − εe_j)) / 2ε; fn maps (B, d) to (B,)."""
    steps = eps * torch.eye(x.shape[1], dtype=x.dtype)
    plus = fn((x[:, None, :] + steps).reshape(-1, x.shape[1])).view(x.shape)
    minus = fn((x[:, None, :] - steps).reshape(-1, x.shape[1])).view(x.shape)
    return (plus - minus) / (2 * eps)


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("head", ["softplus_experts", "sigmoid_experts"])
def test_log_density_score_is_minus_the_energy_gradient(head, fused):
    energy = energy_net(head, fused)
    x = 2 * torch.randn(20, 2, dtype=F64, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        expected = -central_difference(energy, x)
    torch.testing.assert_close(model_score(energy, x, "log_density"), expected, rtol=1e-6, atol=1e-8)
    torch.testing.assert_close(score_from_energy(energy, x), expected, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("head", ["softplus_experts", "sigmoid_experts"])
def test_density_gradient_is_the_gradient_of_the_unnormalised_density(head):
    energy = energy_net(head)
    x = 2 * torch.randn(20, 2, dtype=F64, generator=torch.Generator().manual_seed(6))
    with torch.no_grad():
        expected = central_difference(lambda y: torch.exp(-energy(y)), x)
    ours = model_score(energy, x, "density_gradient")
    torch.testing.assert_close(ours, expected, rtol=1e-6, atol=1e-8)
    with torch.no_grad():  # and it is p·∇log p, not ∇log p (the two differ wherever p ≠ 1)
        torch.testing.assert_close(ours, torch.exp(-energy(x))[:, None] * model_score(energy, x), rtol=1e-12,
                                   atol=0)


def test_stein_terms_train_the_energy_and_the_generator():
    # The λ2 term reaches the generator through x = G(z) and the energy through its score.
    torch.manual_seed(7)
    energy = energy_net("softplus_experts").float()
    gen = torch.nn.Linear(3, 2)
    hp = {"score": "log_density", "kernel": "rbf", "bandwidth": 1.0, "statistic": "u", "imq_c": 1.0,
          "imq_beta": -0.5, "stein_critic": "vector", "hutchinson_probes": 1, "stein_critic_l2": 1.0, "hidden": 8,
          "layers": 1, "stein_critic_activation": "silu"}
    critic = SteinCritic(hp, (2,))
    for c in (None, critic):
        energy.zero_grad(), gen.zero_grad()
        stein_discrepancy(energy, gen(torch.randn(16, 3)), hp, c).backward()
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in [*energy.parameters(), *gen.parameters()])


# --- neural Stein discrepancy ---------------------------------------------------------------------------------------
def critic_hp(**over) -> dict:
    hp = {"stein_critic": "vector", "hutchinson_probes": 1, "stein_critic_l2": 1.0, "hidden": 32, "layers": 2,
          "stein_critic_activation": "silu"}
    return {**hp, **over}


def test_hutchinson_divergence_is_unbiased_for_the_jacobian_trace():
    torch.manual_seed(8)
    critic = SteinCritic(critic_hp(hidden=16), (3,)).double()
    x = torch.randn(4, 3, dtype=F64)
    exact = vmap(lambda a: torch.trace(jacrev(lambda b: critic(b[None])[0])(a)))(x)
    n = 20000
    # one probe per copy, so the per-probe values give their own standard error
    _, div = hutchinson_divergence(critic, x.repeat(n, 1), probes=1, create_graph=False)
    div = div.view(n, 4)
    mean, se = div.mean(0), div.std(0) / math.sqrt(n)
    assert (se > 0).all()  # the off-diagonal Jacobian makes single probes noisy, so the check has power
    assert ((mean - exact).abs() < 4 * se).all(), (mean, exact, se)
    # and `probes` averages P probes per sample in one batch
    f, div_p = hutchinson_divergence(critic, x, probes=n, create_graph=False)
    torch.testing.assert_close(f, critic(x))
    assert ((div_p - exact).abs() < 4 * se).all(), (div_p, exact, se)


def trained_critic(model_mean: torch.Tensor, steps: int = 300, seed: int = 9) -> tuple[SteinCritic, callable]:
    """A vector critic trained by Adam on samples of Q = N(0, I) against the model N(model_mean, I)."""
    torch.manual_seed(seed)
    critic = SteinCritic(critic_hp(), (2,))
    opt = torch.optim.Adam(critic.parameters(), lr=1e-2)
    score = lambda x: -(x - model_mean)  # noqa: E731
    for _ in range(steps):
        x = torch.randn(256, 2)
        loss = critic.critic_loss([(1.0, critic.estimate(x, score(x)))])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return critic, score


def held_out_stein_values(critic: SteinCritic, score, n: int = 20000) -> tuple[float, float]:
    x = torch.randn(n, 2)
    f, div = hutchinson_divergence(critic, x, create_graph=False)
    v = ((score(x) * f).sum(1) + div).detach()
    return v.mean().item(), (v.std() / math.sqrt(n)).item()


def test_trained_critic_reads_zero_between_a_gaussian_and_itself():
    # Stein identity: E_Q[s_Qᵀf + div f] = 0 for ANY fixed f, so on fresh samples the trained critic reads 0
    # up to sampling noise.
    critic, score = trained_critic(torch.zeros(2))
    mean, se = held_out_stein_values(critic, score)
    assert abs(mean) < 4 * se, (mean, se)


def test_trained_critic_separates_a_gaussian_from_a_shifted_one():
    # Model N(δ, I) on Q = N(0, I): s_p − s_Q = δ, so with penalty λ the optimal critic is f* = δ/(2λ) and the
    # discrepancy it reads (without the penalty) is ‖δ‖²/(2λ) = 0.5 here; a critic short of the optimum reads less.
    critic, score = trained_critic(torch.tensor([1.0, 0.0]))
    mean, se = held_out_stein_values(critic, score)
    assert mean > 20 * se
    assert 0.8 * 0.5 < mean < 0.5 + 4 * se + 0.05, (mean, se)
    x = torch.randn(4000, 2)
    assert stein_operator_value(critic, x, score(x)).item() == pytest.approx(mean, abs=0.05)


def test_vector_critic_keeps_image_shapes():
    critic = SteinCritic(critic_hp(hidden=8, hutchinson_probes=3), (1, 4, 4))
    x = torch.randn(5, 1, 4, 4)
    assert critic(x).shape == x.shape
    est = critic.estimate(x, -x)
    assert est.value.shape == () and torch.isfinite(est.value) and est.critic_sq > 0


def test_scalar_max_is_the_largest_per_dimension_stein_mean():
    torch.manual_seed(10)
    critic = SteinCritic(critic_hp(stein_critic="scalar_max", hidden=16), (1, 2, 3)).double()
    x = torch.randn(30, 1, 2, 3, dtype=F64)
    s = torch.randn(30, 1, 2, 3, dtype=F64)
    g_single = lambda a: critic(a[None])[0]  # noqa: E731
    g, grad_g = vmap(g_single)(x), vmap(grad(g_single))(x)
    assert (g.abs() <= 1).all()  # tanh critic
    per_dim = torch.stack([(s[:, 0, i, j] * g + grad_g[:, 0, i, j]).mean() for i in range(2) for j in range(3)])
    est = stein_estimate(critic, x, s, "scalar_max")
    torch.testing.assert_close(est.value, per_dim.abs().max())
    torch.testing.assert_close(est.critic_sq, g.pow(2).mean())
    assert est.value > per_dim.abs().mean()  # the max differs from an average: the reduction is really checked


def test_critic_loss_ascends_both_weighted_terms_minus_the_penalty():
    critic = SteinCritic(critic_hp(stein_critic_l2=0.3), (2,))
    a = stein_estimate(critic, torch.randn(8, 2), torch.randn(8, 2))
    b = stein_estimate(critic, torch.randn(8, 2), torch.randn(8, 2))
    expected = -(1.0 * (a.value - 0.3 * a.critic_sq) + 0.25 * (b.value - 0.3 * b.critic_sq))
    torch.testing.assert_close(critic.critic_loss([(1.0, a), (0.25, b)]), expected)


# --- images: dequantised training batches keep the Stein critic's objective finite (issue "Honest results", a) ----
def best_penalised_objective(critic, x: torch.Tensor, s: torch.Tensor, l2: float = 1.0) -> float:
    """sup over the amplitude a of the critic a·f's penalised objective a·S_f − l2·a²·E‖f‖² = S_f² / (4·l2·E‖f‖²)
    (the family f_j = a·tanh(k(x_j + 1)) is linear in a)."""
    est = stein_estimate(critic, x, s, "vector")
    return float(est.value.detach() ** 2 / (4 * l2 * est.critic_sq.detach()))


def bump_objective(u: np.ndarray, centre: float, width: float) -> float:
    """The same supremum over the amplitude for a one-dimensional bump f(u) = a·exp(−((u − c)/w)²/2) on the
    samples u (model score 0): (E f')² / (4 E f²)."""
    t = (u - centre) / width
    f = np.exp(-t ** 2 / 2)
    return float(np.mean(-t / width * f) ** 2 / (4 * np.mean(f ** 2)))


@pytest.fixture(scope="module")
def image_batches():
    """An image training set with 75% of its pixels at 0 (−1 in [−1, 1]), its raw pixels, and the runner's
    dequantised batches of it."""
    from methods.harness.train import training_batches, training_tensors

    rng = np.random.default_rng(0)
    x = np.zeros((600, 1, 8, 8), np.uint8)
    x[:, :, 2:6, 2:6] = rng.integers(1, 256, (600, 1, 4, 4))
    data = {"x": x, "dataset": "mnist5k"}  # a stored training set names its dataset (its track: images)
    source = training_batches(data, {"batch_size": 500}, np.random.default_rng(1))
    background = np.ones((8, 8), bool)
    background[2:6, 2:6] = False
    return {"raw": training_tensors(data)[:500], "batches": [source.batch() for _ in range(10)],
            "background": background}


def test_dequantised_image_batches_keep_the_stein_critic_bounded(image_batches):
    """About 80% of MNIST's pixels are exactly −1. On such quantised data the critic f_j = a·tanh(k(x_j + 1)) has
    div f = a·k at every such pixel, so sharpening it (k → ∞) raises the penalised objective without bound; on the
    runner's dequantised image batches it converges."""
    raw, deq = image_batches["raw"], image_batches["batches"][0]
    assert (raw == -1).float().mean() == 0.75 and (deq == -1).float().mean() < 1e-3
    noise = np.concatenate([(b[:, 0][:, image_batches["background"]] + 1).numpy().ravel()
                            for b in image_batches["batches"]])
    assert abs(noise.mean()) < 1e-4 and noise.std() == pytest.approx(2 / 255, rel=0.01)  # one grey level
    assert np.mean(np.abs(noise) < 2 / 255) == pytest.approx(0.6827, abs=0.005)  # Gaussian: 68% within 1 sd
    sharp = {k: (lambda z, k=k: torch.tanh(k * (z + 1))) for k in (1e3, 1e4)}
    raw_obj = [best_penalised_objective(f, raw, -raw) for f in sharp.values()]
    deq_obj = [best_penalised_objective(f, deq, -deq) for f in sharp.values()]
    print(f"sup_a objective at k = 1e3, 1e4: raw pixels {raw_obj[0]:.3g}, {raw_obj[1]:.3g}; dequantised "
          f"{deq_obj[0]:.3g}, {deq_obj[1]:.3g}")
    assert raw_obj[1] > 50 * raw_obj[0]  # unbounded: ∝ k² on quantised pixels
    assert deq_obj[1] < 1.5 * deq_obj[0]  # converged


def test_gaussian_dequantisation_also_bounds_critics_at_an_edge(image_batches):
    """Uniform noise of one grey level (δ) bounds the tanh family, but its density jumps at the box's edge, and a
    bump of width w there reaches (E f')²/(4 E f²) ≈ 1/(2√π·w·δ): unbounded as w → 0. On the runner's Gaussian
    noise the same bumps, wherever they sit, give less as they narrow (the supremum is E‖s_q‖²/4 ≤ 1/(4σ²))."""
    delta = 2 / 255
    uniform = (np.random.default_rng(2).random(240_000) - 0.5) * delta
    noise = np.concatenate([(b[:, 0][:, image_batches["background"]] + 1).numpy().ravel()
                            for b in image_batches["batches"]]).astype(np.float64)
    widths = (1e-3, 1e-4)  # narrower bumps would hold too few of the 240 000 samples to estimate anything
    edge = [bump_objective(uniform, -delta / 2, w) for w in widths]
    smooth = [max(bump_objective(noise, c * delta, w) for c in (-2, -1, -0.5, 0, 0.5, 1, 2)) for w in widths]
    print(f"edge bump, w = 1e-3 → 1e-4: uniform noise {edge[0]:.3g} → {edge[1]:.3g}; the runner's Gaussian noise "
          f"{smooth[0]:.3g} → {smooth[1]:.3g} (bound 1/(4σ²) = {1 / (4 * delta ** 2):.3g})")
    assert edge[1] > 5 * edge[0]  # ∝ 1/w: ten times
    assert smooth[1] < smooth[0] < 1 / (4 * delta ** 2)
