"""The bilinear game of the paper's Proposition 1 and Fig. 2 (claim C6, evaluation/claims.py): a deterministic
simulation, no training.

    python -m evaluation.bilinear_game --out-dir results/<profile>/figures [--eta 0.2 --steps 200 ...]

writes `bilinear_game.png/.pdf` (θ_t and ψ_t of WGAN, WGAN+LR, WGAN+ER, WGAN+VA and Stein Bridging; the squared
distance N_t to the equilibrium; the λ1 × λ2 sensitivity of Stein Bridging, Fig. 2(b)) and `bilinear_game.csv`.
Flags not given default to the `bilinear_game:` section of config/config.yaml.

The game (paper Prop. 1). Data: a point mass at x = 1. Generator: a point mass at θ. Critic D(x) = ψx. The
WGAN value is V(ψ, θ) = E_data[D] − E_G[D] = ψ − ψθ; the critic ascends it, the generator descends it; the unique
equilibrium is (ψ, θ) = (0, 1). Every player takes one plain gradient step of size η per iteration, alternating:
each step uses the values the earlier steps of the same iteration have just produced (Algorithm 1's order: critic,
then explicit model, then generator). Coordinates a = ψ, b = θ − 1, c = φ + 1 (all 0 at the equilibrium).

* `wgan`:   ψ_{t+1} = ψ_t + η(1 − θ_t);   θ_{t+1} = θ_t + η ψ_{t+1}.
  The map (a, b) ↦ (a − ηb, b + η(a − ηb)) has determinant 1 and trace 2 − η²: for 0 < η < 2 its eigenvalues lie on
  the unit circle, so the iterates cycle forever. N_t = ψ_t² + (θ_t − 1)² is not constant (it oscillates
  between fixed bounds, never reaching 0); the quantity that is exactly conserved is
  E_t = ψ_t² + (θ_t − 1)² − η ψ_t (θ_t − 1).
* `stein_bridging`: the explicit model p_φ(x) ∝ exp(−x²/2 − φx) = N(−φ, 1), score s_φ(x) = −x − φ. The Stein
  discrepancy of a distribution P from p_φ is taken over constant test functions f ≡ κ with an L2 penalty, as the
  suite's neural Stein critic (methods/core/stein.py; Grathwohl et al. 2020): S(P, p_φ) = sup_κ κ E_P[s_φ(x)] − κ²/2
  = ½ (E_P[s_φ(x)])², so S(P_data, p_φ) = ½(1 + φ)² and S(P_G, p_φ) = ½(θ + φ)². The objective
      min_{θ,φ} max_ψ  ψ − ψθ + λ1·½(1 + φ)² + λ2·½(θ + φ)²        (λ1 = data_weight, λ2 = bridge_weight)
  has the unique equilibrium (ψ, θ, φ) = (0, 1, −1). One iteration:
      ψ_{t+1} = ψ_t + η(1 − θ_t)                                      critic ascends V
      φ_{t+1} = φ_t − η[λ1(1 + φ_t) + λ2(θ_t + φ_t)]                  explicit model descends λ1·S_data + λ2·S_bridge
      θ_{t+1} = θ_t + η ψ_{t+1} − η λ2(θ_t + φ_{t+1})                 generator descends −V + λ2·S_bridge
  For λ1 = λ2 = 1 its matrix in (a, b, c) is [[1, −η, 0], [η, 1 − η, −η(1 − 2η)], [0, −η, 1 − 2η]], with
  determinant (1 − η)(1 − 2η) and spectral radius ρ(η) < 1 for every 0 < η < 1: N_t → 0 geometrically,
  asymptotically by the factor ρ(η)² per step (0.902 at η = 0.2, 0.75 at η = 0.5).

On the paper's exact rate. Prop. 1 states N_{t+1} = (1 − η²(1 − η)²)·N_t with N_t = ψ_t² + (θ_t − 1)² + (φ_t + 1)².
No iteration of this kind can satisfy that for every starting point: the objective is quadratic, so one iteration
is a linear map M of (a, b, c) whose entries are polynomials (or, for exact or proximal steps, rational functions) of
η; N_{t+1} = k·N_t for all states forces MᵀM = k·I, hence det(M)² = k³. With k = (1 − η + η²)(1 + η − η²) —
two irreducible factors, the second with simple real roots — k³ is not the square of any rational function of η,
so no such M exists, whatever the step order, the weights or the Stein discrepancy's constant factor. What the
suite reproduces is the qualitative claim (WGAN cycles, Stein Bridging converges linearly to (0, 1, −1)); the
figure draws the paper's rate next to the measured N_t, and the CSV stores both (`paper_rate`, `rate`). For this
iteration ρ(η)² ≤ 1 − η²(1 − η)² on all of (0, 1) (faster asymptotically), but N_t is not monotone: one step can
grow N by the largest squared singular value of M (1.045 at η = 0.2).

Baselines (the paper's WGAN+LR, WGAN+ER, WGAN+VA; methods/wgan_lr.py, wgan_er.py, wgan_va.py), for a point-mass
generator the regularisers need conventions:
* `wgan_lr` — the generator also ascends lr_weight · log p̃_data(θ), with p̃_data = N(1, 1): the data smoothed by
  the unit Gaussian, which is what the optimal denoising auto-encoder of the suite's LR estimator recovers
  (Alain & Bengio 2014: ∇log p̃(x) = (r(x) − x)/σ², here σ = 1, r ≡ 1). Step: θ_{t+1} = θ_t + ηψ_{t+1} +
  η·lr_weight·(1 − θ_t). It equals Stein Bridging with the explicit model frozen at its optimum φ = −1 (the LR
  regulariser is given the data density; Stein Bridging has to learn it).
* `wgan_er` — the generator also ascends er_weight · H(P_G). For any location family (here G(z) = θ) the exact
  entropy does not depend on θ: ∇_θ H = −E_q[∇log q] = 0, so an exact entropy regulariser leaves WGAN unchanged.
  What moves the generator in practice is the estimator (a DAE fitted online to generated samples; Tao et al. 2019,
  methods.core.entropy), which lags behind the moving generator. We model it as the smoothed score of a point mass
  at m_t, ŝ(x) = m_t − x (σ = 1), whose centre moves a fraction er_tracking of the way to the generator each
  iteration: m_t = m_{t−1} + er_tracking·(θ_t − m_{t−1}), m_{−1} = θ_0. Descending −er_weight·H with
  ∇_θ(−H) ≈ ŝ(θ_t) gives θ_{t+1} = θ_t + ηψ_{t+1} + η·er_weight·(θ_t − m_t): a push along the generator's
  own recent motion, i.e. positive momentum, which makes the bilinear game spiral outwards (Gidel et al. 2019,
  "Negative momentum for improved game dynamics", AISTATS). er_tracking = 1 (a perfect estimator) gives WGAN.
* `wgan_va` — variational annealing (Tao et al. 2019): `wgan_er` with its weight decayed linearly to 0 over
  va_anneal_steps iterations; afterwards it is WGAN again and cycles, at whatever radius it has reached.

Fig. 2(b), the sensitivity to λ1 and λ2: for each (λ1, λ2) on a grid, the asymptotic per-step factor ρ(M)² of
N_t (exact, from the iteration matrix; 1 = no convergence, > 1 = divergence) and the distance to the equilibrium
after `steps` iterations from `init`.
"""
from __future__ import annotations

import argparse
import copy
import functools
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
import yaml  # noqa: E402

from evaluation.figures import save  # noqa: E402
from methods.harness.io import atomic_path  # noqa: E402

CONFIG = Path(__file__).resolve().parents[1] / "config" / "config.yaml"
METHODS = {  # name -> the paper's label (Fig. 2)
    "wgan": "WGAN",
    "wgan_lr": "WGAN+LR",
    "wgan_er": "WGAN+ER",
    "wgan_va": "WGAN+VA",
    "stein_bridging": "Stein Bridging",
}
OPTIMUM = np.array([0.0, 1.0, -1.0])  # (ψ, θ, φ)
WEIGHTS = ("data_weight", "bridge_weight", "lr_weight", "er_weight", "er_tracking", "va_anneal_steps")


def defaults() -> dict:
    """The `bilinear_game:` section of config/config.yaml (the DAG passes a profile's values as flags)."""
    return copy.deepcopy(_config_section())


@functools.lru_cache(maxsize=1)
def _config_section() -> dict:
    return yaml.safe_load(CONFIG.read_text())["bilinear_game"]


def paper_rate(eta: float) -> float:
    """The per-step factor of N_t that the paper's Prop. 1 states for Stein Bridging: 1 − η²(1 − η)²."""
    return 1.0 - eta ** 2 * (1.0 - eta) ** 2


def stein_bridging_step(state, eta: float, data_weight: float, bridge_weight: float) -> np.ndarray:
    """One alternating iteration (critic, explicit model, generator) of Stein Bridging on the bilinear game."""
    psi, theta, phi = state
    psi = psi + eta * (1.0 - theta)
    phi = phi - eta * (data_weight * (1.0 + phi) + bridge_weight * (theta + phi))
    theta = theta + eta * psi - eta * bridge_weight * (theta + phi)
    return np.array([psi, theta, phi])


def simulate(method: str, eta: float, steps: int, init=None, **weights) -> np.ndarray:
    """Trajectory of `steps` iterations from `init` = (ψ0, θ0, φ0): an array of steps + 1 rows (row 0 is the start),
    columns ψ, θ (and φ for `stein_bridging`). Weights not given come from config/config.yaml; see the module
    docstring for the update equations."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; valid methods: {', '.join(METHODS)}")
    unknown = set(weights) - set(WEIGHTS)
    if unknown:
        raise ValueError(f"unknown weights {sorted(unknown)}; valid weights: {', '.join(WEIGHTS)}")
    cfg = _config_section()
    w = {k: weights.get(k, cfg[k]) for k in WEIGHTS}
    init = np.asarray(cfg["init"] if init is None else init, dtype=np.float64)
    if method == "stein_bridging":
        out = np.empty((steps + 1, 3))
        out[0] = init
        for t in range(steps):
            out[t + 1] = stein_bridging_step(out[t], eta, w["data_weight"], w["bridge_weight"])
        return out
    psi, theta = init[:2]
    centre = theta  # m_{−1}: the entropy estimator starts fitted to the initial generator
    out = np.empty((steps + 1, 2))
    out[0] = psi, theta
    for t in range(steps):
        psi = psi + eta * (1.0 - theta)  # critic ascends ψ − ψθ
        push = 0.0  # the regulariser's term in θ_{t+1} − θ_t − ηψ_{t+1}
        if method == "wgan_lr":
            push = w["lr_weight"] * (1.0 - theta)
        elif method in ("wgan_er", "wgan_va"):
            weight = w["er_weight"]
            if method == "wgan_va":
                weight *= max(0.0, 1.0 - t / w["va_anneal_steps"])
            centre = centre + w["er_tracking"] * (theta - centre)
            push = weight * (theta - centre)
        theta = theta + eta * psi + eta * push
        out[t + 1] = psi, theta
    return out


def distance2(traj: np.ndarray) -> np.ndarray:
    """N_t: squared distance of each row to the equilibrium over the columns present (ψ, θ[, φ])."""
    return ((traj - OPTIMUM[: traj.shape[1]]) ** 2).sum(axis=1)


def iteration_matrix(eta: float, data_weight: float = 1.0, bridge_weight: float = 1.0) -> np.ndarray:
    """M with (u_{t+1} − u*) = M (u_t − u*) for Stein Bridging; exact because one iteration is affine."""
    base = stein_bridging_step(OPTIMUM, eta, data_weight, bridge_weight)
    return np.column_stack([stein_bridging_step(OPTIMUM + e, eta, data_weight, bridge_weight) - base
                            for e in np.eye(3)])


def asymptotic_rate(eta: float, data_weight: float = 1.0, bridge_weight: float = 1.0) -> float:
    """ρ(M)²: the factor by which N_t shrinks per step in the long run (for almost every start)."""
    return float(np.abs(np.linalg.eigvals(iteration_matrix(eta, data_weight, bridge_weight))).max() ** 2)


def empirical_rate(n: np.ndarray) -> float:
    """Geometric-mean factor of N_t per step over the second half of the run."""
    half = len(n) // 2
    if half == 0 or n[half] == 0:
        return float("nan")
    return float((n[-1] / n[half]) ** (1.0 / (len(n) - 1 - half)))


def sensitivity(eta: float, steps: int, init, lambdas) -> pd.DataFrame:
    """Fig. 2(b): Stein Bridging over the grid λ1 × λ2 — asymptotic rate ρ(M)² and distance after `steps`."""
    rows = []
    for l1 in lambdas:
        for l2 in lambdas:
            traj = simulate("stein_bridging", eta, steps, init, data_weight=l1, bridge_weight=l2)
            rows.append({"data_weight": l1, "bridge_weight": l2, "rate": asymptotic_rate(eta, l1, l2),
                         "final_distance": float(np.sqrt(distance2(traj)[-1]))})
    return pd.DataFrame(rows)


def summary(trajs: dict, eta: float, steps: int, sens: pd.DataFrame) -> pd.DataFrame:
    """The CSV: one row per method (final distance, empirical rate) and one per sensitivity grid point."""
    rows = []
    for m, traj in trajs.items():
        n = distance2(traj)
        rows.append({"method": m, "label": METHODS[m], "eta": eta, "steps": steps,
                     "data_weight": np.nan, "bridge_weight": np.nan,
                     "final_distance": float(np.sqrt(n[-1])), "rate": empirical_rate(n),
                     "paper_rate": paper_rate(eta) if m == "stein_bridging" else np.nan})
    for r in sens.itertuples():
        rows.append({"method": "stein_bridging", "label": METHODS["stein_bridging"], "eta": eta, "steps": steps,
                     "data_weight": r.data_weight, "bridge_weight": r.bridge_weight,
                     "final_distance": r.final_distance, "rate": r.rate, "paper_rate": np.nan})
    return pd.DataFrame(rows)


def figure(trajs: dict, eta: float, sens: pd.DataFrame):
    """2 × 2 panels: θ_t, ψ_t, N_t (log scale, with the paper's Prop. 1 rate), and the λ1 × λ2 heatmap."""
    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5))
    (ax_theta, ax_psi), (ax_n, ax_heat) = axes
    colors = dict(zip(METHODS, sns.color_palette("colorblind", len(METHODS))))
    for m, traj in trajs.items():
        t = np.arange(len(traj))
        style = {"color": colors[m], "label": METHODS[m], "lw": 2.2 if m == "stein_bridging" else 1.4}
        ax_theta.plot(t, traj[:, 1], **style)
        ax_psi.plot(t, traj[:, 0], **style)
        ax_n.plot(t, distance2(traj), **style)
    n0 = distance2(trajs["stein_bridging"])[0]
    t = np.arange(len(trajs["stein_bridging"]))
    ax_n.plot(t, n0 * paper_rate(eta) ** t, color="k", ls="--", lw=1,
              label=r"Prop. 1 claim: $(1-\eta^2(1-\eta)^2)^t N_0$")
    span = max(2.5, 1.5 * max(np.abs(tr[0, :2] - OPTIMUM[:2]).max() for tr in trajs.values()))
    for ax, name, opt in ((ax_theta, r"generator $\theta_t$", 1.0), (ax_psi, r"critic $\psi_t$", 0.0)):
        ax.axhline(opt, color="grey", lw=0.8, ls=":")
        ax.set(xlabel="iteration $t$", ylabel=name, ylim=(opt - span, opt + span))
    ax_theta.set_title(r"generator (optimum $\theta^*=1$; y-axis clipped)", fontsize=9)
    ax_psi.set_title(r"critic (optimum $\psi^*=0$)", fontsize=9)
    ax_n.set(yscale="log", xlabel="iteration $t$",
             ylabel=r"$N_t=\psi_t^2+(\theta_t-1)^2\,[+(\phi_t+1)^2]$")
    ax_n.set_title("squared distance to the equilibrium", fontsize=9)
    grid = sens.pivot(index="data_weight", columns="bridge_weight", values="rate").sort_index(ascending=False)
    sns.heatmap(grid, ax=ax_heat, annot=True, fmt=".2f", cmap="RdYlGn_r", center=1.0, vmin=0.5, vmax=1.5,
                cbar_kws={"label": r"$\rho(M)^2$ per step (<1 converges)"}, annot_kws={"fontsize": 8})
    ax_heat.set(xlabel=r"bridge weight $\lambda_2$", ylabel=r"data weight $\lambda_1$")
    ax_heat.set_title(f"Stein Bridging: asymptotic factor of $N_t$ per step, $\\eta={eta:g}$", fontsize=9)
    handles, labels = ax_n.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), frameon=False,
               bbox_to_anchor=(0.5, -0.01))
    fig.suptitle(r"Bilinear game $\min_\theta\max_\psi\ \psi-\psi\theta$ (paper Prop. 1, Fig. 2), "
                 f"alternating gradient steps, $\\eta={eta:g}$")
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig


def main(argv=None) -> None:
    cfg = defaults()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out-dir", required=True, type=Path)
    parser.add_argument("--eta", type=float, default=cfg["eta"])
    parser.add_argument("--steps", type=int, default=cfg["steps"])
    parser.add_argument("--init", type=float, nargs=3, default=cfg["init"], metavar=("PSI", "THETA", "PHI"))
    for k in WEIGHTS:
        parser.add_argument(f"--{k.replace('_', '-')}", type=int if k == "va_anneal_steps" else float,
                            default=cfg[k])
    parser.add_argument("--sensitivity-lambdas", type=float, nargs="+", default=cfg["sensitivity_lambdas"])
    args = parser.parse_args(argv)
    if not 0 < args.eta < 1:
        parser.error(f"--eta must lie in (0, 1) (paper Prop. 1), got {args.eta}")
    weights = {k: getattr(args, k) for k in WEIGHTS}
    trajs = {m: simulate(m, args.eta, args.steps, args.init, **weights) for m in METHODS}
    sens = sensitivity(args.eta, args.steps, args.init, args.sensitivity_lambdas)
    sns.set_theme(style="whitegrid", context="paper")
    save(figure(trajs, args.eta, sens), args.out_dir / "bilinear_game")
    with atomic_path(args.out_dir / "bilinear_game.csv") as tmp:
        summary(trajs, args.eta, args.steps, sens).to_csv(tmp, index=False, float_format="%.6g")


if __name__ == "__main__":
    main()
