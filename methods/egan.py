"""Calibrated energy-based GAN (Dai, Almahairi, Bachman, Hovy, Courville 2017, "Calibrating Energy-based
Generative Adversarial Networks", ICLR; `egan`).

The discriminator is an energy E(x), p_E ∝ exp(−E) (`nets.Energy`); the generator is "calibrated" by an entropy
term so that, at the optimum, P_G = P_data and the energy keeps the density, E*(x) = −log p_data(x) + const:

    energy:     min_E  E_data[E(x)] − E_z[E(G(z))]                      (Dai et al. §3; their discriminator c = E)    
    generator:  min_G  E_z[E(G(z))] − w · H(P_G)                          (K(P_G) = −H(P_G); w = entropy_weight)

What is implemented here (config/config.yaml, `methods: egan:`):
* Energy head `linear`, E(x) = Σ_k h_k(x) on the suite's energy trunk (2 → 128 → 128 → K): the released code's
  energy is the discriminator's unconstrained output (energy_form "identity"). The suite's `softplus_experts`
  head (E ≥ 0) also runs, but there the energy saturates at its floor E = 0 (see nets.ENERGY_HEADS) and, on Two-Circle,
  the generator spreads over that flat region.
* The energy loss of the authors' released synthetic code (zihangdai/cegan_iclr2017, synthetic/egan_knn.py): the
  linear objective is unbounded, so each generated sample's term is hinged at a margin m,
      L_E = mean_i max( mean_j E(x_j) − E(G(z_i)), −m )        (m = 10 as released; `margin: null` = linear),
  plus two optional regularisers that neither paper uses: energy_l2 · E[E(x⁺)² + E(x⁻)²] (Du & Mordatch 2019) and
  grad_penalty · E‖∇E(x⁺)‖² (Kumar et al. 2019). The default energy_l2 = 0.1 is a suite choice: without it the
  unbounded energy grows deep minima where neither data nor generator samples go (Two-Circle, 2000 iterations:
  KLD ≈ 11 instead of ≈ 1.3). Set energy_l2: 0, energy_steps: 1 for the papers' published form.
* `energy_steps` energy updates (n_d = 5, as for the suite's critics, paper Algorithm 1), then one generator update, per
  iteration. The released code instead switches between updating only D, only G or both from the size of the
  gap (its `lbound`/`rbound`) and scales the generator's learning rate by 10; neither is used here.
* The entropy gradient from the suite's shared DAE estimator (methods/core/entropy.py), in place of the paper's
  nearest-neighbour (EGAN-Ent-NN) or variational (EGAN-Ent-VI) entropy approximations: a DAE fitted on generated
  samples gives s ≈ ∇log q_G, and +surrogate(s, G(z)) descends −H(P_G) (Tao et al. 2019; methods/core/terms.py
  `Entropy`).
* `base_std` (off here, on for `dgm`): an optional Gaussian base term of the energy (BasedEnergy).

Adam: β1 = 0.9, lr_explicit for the energy (explicit side), β1 = 0.5, lr_implicit for the generator (paper Algorithm 1).
`dgm` (Kim & Bengio 2016) is this algorithm with other parameter values (methods/dgm.py).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from methods import register
from methods.core.base import Method
from methods.core.nets import energy, generator
from methods.core.params import Param
from methods.core.stack import dot, per_run, points, run_dims
from methods.core.stein import autograd_score, score_from_energy
from methods.core.terms import Entropy, MeanEnergy
from methods.core.updates import GeneratorUpdate

# The contrastive methods use the original papers' energy heads (`linear`, `minus_softplus_experts` in
# nets.ENERGY_HEADS): with E_data[E] − E_neg[E], the suite's softplus_experts head (E = Σ softplus(−h_k) ≥ 0)
# saturates at its floor E = 0, where ∂E/∂h vanishes, so a region of minimal energy wider than the data gets no
# more gradient from the negatives that wander in it (observed on Two-Circle: the generator then spreads out).


class BasedEnergy(nn.Module):
    """E(x) = E_net(x) + ‖x‖²/(2σ²) − bᵀx: the network energy plus an optional Gaussian base term with a learnt
    linear part b (Kim & Bengio 2016, §3: the free-energy form of a Gaussian-Bernoulli RBM, xᵀx/σ² − bᵀx − Σ_i
    softplus(W_iᵀφ(x) + b_i); the ½ here makes σ the standard deviation of the base Gaussian). The base keeps
    exp(−E) normalisable whatever the network does far from the data; `base_std = None` gives E = E_net. In a
    `stack` of K runs (vectors only) x is (K, B, d) and b is (K, d)."""

    stacked_tensors = ("b",)

    def __init__(self, hp: dict, shape: tuple[int, ...], stack=None):
        super().__init__()
        self.net, self.shape, self.stack = energy(hp, shape, stack), tuple(shape), stack
        self.base_std = hp["base_std"]
        if self.base_std is not None:
            self.b = nn.Parameter(torch.zeros(*run_dims(stack), math.prod(shape)))

    def base(self, x: torch.Tensor) -> torch.Tensor:
        """‖x‖²/(2σ²) − bᵀx per point."""
        flat = points(x, self.shape)
        return flat.pow(2).sum(-1) / (2 * self.base_std ** 2) - dot(self.stack, flat, self.b)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e = self.net(x)
        return e if self.base_std is None else e + self.base(x)

    def energy_and_score(self, x: torch.Tensor, frozen: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """(E(x), −∇_x E(x)): the network's (closed form for the MLP energy, autograd for an image network) plus
        the base term's −(x/σ² − b)."""
        if not hasattr(self.net, "energy_and_score"):
            return autograd_score(self, x)
        e, s = self.net.energy_and_score(x, frozen)
        if self.base_std is None:
            return e, s
        b = per_run(self.stack, self.b.view(*run_dims(self.stack), *self.shape))  # broadcasts against x
        return e + self.base(x), s - (x / self.base_std ** 2 - b)


@register
class Egan(Method):
    name = "egan"
    kind = "explicit"  # the energy is the model; its generator is the sampler that calibrates it
    has_generator = True
    has_energy = True
    stackable = True
    hyperparameters = {
        "energy_steps": Param(5, "energy (discriminator) updates per generator update (papers: 1)", low=1),
        "entropy_weight": Param(1.0, "w; 1 makes the generator loss KL(P_G ‖ p_E) up to log Z", low=0),
        "margin": Param(10.0, "hinge max(E_data − E(G(z)), −m) per generated sample (released code); null = linear",
                        low=0, nullable=True, type=float),
        "base_std": Param(None, "σ of a Gaussian base term ‖x‖²/(2σ²) − bᵀx of the energy; null = none", low=0,
                          nullable=True, type=float),
        "energy_l2": Param(0.1, "α·E[E(x⁺)² + E(x⁻)²] (Du & Mordatch 2019), not in either paper (0 = as published)",
                           low=0),
        "grad_penalty": Param(0.0, "γ·E‖∇E(x⁺)‖² at data points (Kumar et al. 2019); 0 = off, as in both papers",
                              low=0),
    }

    def __init__(self, hp: dict, data_shape: tuple[int, ...], stack=None):
        super().__init__(hp, data_shape, stack)
        hp = self.hp
        self.energy_net = BasedEnergy(hp, data_shape, self.stack)
        self.generator = generator(hp, data_shape, self.stack)
        self.entropy = self.score_estimator("entropy_dae", "implicit")  # s(x) ≈ ∇log q_G(x), on generated samples
        self.opt_e = self.adam("energy", self.energy_net, hp["lr_explicit"], hp["beta1_explicit"], "explicit")
        # the generator descends −w·H(P_G) + E_G[E] = KL(P_G ‖ p_E) + log Z (w = 1)
        self.generator_update = GeneratorUpdate(
            self.generator, self.adam("generator", self.generator, hp["lr_implicit"], hp["beta1_implicit"], "implicit"),
            [Entropy(self.entropy, hp["entropy_weight"], log_weight=False), MeanEnergy(self.energy_net)])

    def energy_loss(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """E_data[E] − E_G[E], each generated sample's term hinged at −margin when a margin is set; plus
        energy_l2 · E[E(x⁺)² + E(x⁻)²] and grad_penalty · E‖∇E(x⁺)‖² when those weights are non-zero."""
        if self.hp["grad_penalty"] > 0:
            real = real.detach().requires_grad_(True)
        e_real, e_fake = self.energy_net(real), self.energy_net(fake)  # (B,), or (K, B) for a stack: losses per run
        if self.hp["margin"] is None:
            loss = e_real.mean(-1) - e_fake.mean(-1)
        else:
            loss = (e_real.mean(-1, keepdim=True) - e_fake).clamp_min(-self.hp["margin"]).mean(-1)
        if self.hp["energy_l2"] > 0:
            loss = loss + self.hp["energy_l2"] * (e_real.pow(2).mean(-1) + e_fake.pow(2).mean(-1))
        if self.hp["grad_penalty"] > 0:
            score = points(score_from_energy(self.energy_net, real), self.data_shape)  # −∇E(x⁺), differentiable
            loss = loss + self.hp["grad_penalty"] * score.pow(2).sum(-1).mean(-1)
        return loss

    def train_step(self, data):
        for _ in range(self.hp["energy_steps"]):  # the energy on E_data[E] − E_G[E] (+ its regularisers)
            real = data.batch()
            loss_e = self.energy_loss(real, self.sample(self.hp["batch_size"]))
            self.step(self.opt_e, loss_e)
        # the generator on E_G[E] − w·H(P_G)
        logs = self.generator_update(self.generator.noise(self.hp["batch_size"]), data)
        return {"energy": loss_e.detach(), **logs}
