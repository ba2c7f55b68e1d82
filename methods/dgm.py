"""Deep directed generative model with energy-based probability estimation (Kim & Bengio 2016, arXiv:1606.03439;
`dgm`).

An energy model p_E ∝ exp(−E) trained by maximum likelihood, with the generator's samples standing in for the
model samples of the negative phase, and a generator trained to match p_E:

    ∇_E [−log-likelihood] = E_data[∇E(x)] − E_{p_E}[∇E(x)]  ≈  ∇_E ( E_data[E(x)] − E_z[E(G(z))] )
    generator:  min_G  KL(P_G ‖ p_E) = E_z[E(G(z))] − H(P_G) + log Z

This is the same pair of updates as the calibrated energy-based GAN (`egan`, Dai et al. 2017): there the objective
is read as a game with an entropy-regularised generator, here as maximum likelihood with an amortised sampler.
After reading both papers, the algorithms differ only in the energy's form, its regularisers and the entropy
estimator, so `Dgm` is `Egan`'s algorithm with other parameter values (declared below; config/config.yaml,
`methods: dgm:`):

* `energy_head: minus_softplus_experts` and `base_std` — Kim & Bengio's energy (§3, the free energy of a
  Gaussian-Bernoulli RBM with deep features φ) is E(x) = xᵀx/σ² − bᵀx − Σ_i softplus(W_iᵀφ(x) + b_i); here
  E(x) = ‖x‖²/(2σ²) − bᵀx − Σ_k softplus(h_k(x)) on the suite's energy trunk, b learnt (`egan.BasedEnergy`; σ =
  base_std is the standard deviation of the base Gaussian). Kim & Bengio used σ = 1 on normalised data; the 2-D
  data here are not normalised, so σ is set to their scale (10). egan uses the unconstrained E = Σ_k h_k.
* `margin: null` — the plain maximum-likelihood energy loss E_data[E] − E_G[E] (egan hinges it at a margin, as
  Dai et al.'s released code does).
* Entropy: Kim & Bengio estimate H(P_G) from the batch-normalisation scales of the generator (each normalised unit
  taken as Gaussian, H ≈ Σ_a ½ log(2πe γ_a²)); this suite uses its one DAE estimator for every entropy
  gradient (methods/core/entropy.py), and the suite's generator has no batch normalisation.

* `energy_l2: 0` — as published: no energy-magnitude penalty (egan's 0.1 is a suite addition). With it, dgm's
  energy stayed nearly flat (0.15-2.2 nats over the grid, AUC ≈ 0.5, at 1500 iterations); without it, the energy
  varies by 73-230 nats and the generator finds far more modes, though the free energy also digs deep minima away
  from the data (KLD 7-12): config/config.yaml records the measurement.

Shared with egan and not from the paper: `energy_steps: 5` energy updates per generator update (the papers
alternate one and one); set it to 1 in config for the published schedule.
"""
from __future__ import annotations

from methods import register
from methods.core.params import Param
from methods.egan import Egan


@register
class Dgm(Egan):
    """egan's updates, kind "joint" (an energy model and a generator, each trained against the other), with its own
    defaults (module docstring)."""

    name = "dgm"
    kind = "joint"
    hyperparameters = {
        **Egan.hyperparameters,
        "margin": Param(None, "null: the plain maximum-likelihood loss E_data[E] − E_G[E]", low=0, nullable=True,
                        type=float),
        "base_std": Param(10.0, "σ of the Gaussian base term (paper: σ = 1 on normalised data; 2-D data span ~±10)",
                          low=0, nullable=True, type=float),
        "energy_l2": Param(0.0, "as published: Kim & Bengio's loss has no energy-magnitude penalty", low=0),
    }
