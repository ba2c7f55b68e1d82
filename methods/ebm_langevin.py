"""Energy-based model by maximum likelihood with short-run Langevin MCMC and a replay buffer (beyond the paper;
`ebm_langevin`): Du & Mordatch 2019, "Implicit generation and generalization in energy-based models";
Nijkamp, Hill, Zhu, Wu 2019, "Learning non-convergent non-persistent short-run MCMC toward energy-based model".

p_E(x) ∝ exp(−E(x)), E on the suite's energy trunk with the head `energy_head` (default `linear`, E = Σ_k h_k,
unconstrained as in Du & Mordatch: with the suite's softplus_experts head, E ≥ 0 saturates at its floor and, on
Two-Circle, a flat minimal-energy half-plane formed in which the chains wandered with no gradient left to remove
it; see methods/core/nets.py, ENERGY_HEADS). The maximum-likelihood gradient E_data[∇E] − E_{p_E}[∇E] is estimated with
negatives x⁻ from K steps of Langevin dynamics on E,

    x ← clamp_box( x − (η/2)·∇_x E(x) + s·ε ),   ε ~ N(0, I),   s = √η (unadjusted Langevin; `langevin_noise: null`)

(a number for `langevin_noise` decouples the noise scale from the step, as Du & Mordatch do), started from a
replay buffer of past negatives with probability `buffer_prob` (0.95) and otherwise from uniform noise over the
data box; the chains' end points replace their starts in the buffer, so buffered chains keep running across
iterations (persistent contrastive divergence). The energy descends, on a fresh data batch x⁺,

    L = E[E(x⁺)] − E[E(x⁻)] + α · E[E(x⁺)² + E(x⁻)²]      (α = energy_l2)

Du & Mordatch use α = 1 on images; the penalty holds energy differences near 1/α, and a 2-D mixture needs tens of
nats between modes and empty space, so the default here is α = 0.1 (α = 1 gave an energy range below 1 nat).
The step η is in the data's units: ULA needs η well below twice the variance of the modes it should resolve, so
η = 0.1 suits Two-Circle/Two-Spiral (variances 0.2/0.1) but blurs ring8/grid25 (std 0.01/0.05).

The "data box" is the bounding box of every training batch seen so far, widened on each side by `box_widen` times
its half-range (0.5 gives the box of the suite's evaluation grid, datasets/synthetic.py `evaluation_grid`);
chains are clamped to it.

Its "generator" is the MCMC sampler: `sample(n)` runs `sample_steps` Langevin steps from fresh uniform noise
(`sample_init: noise`, Nijkamp et al.'s short-run sampler) or continues chains drawn from the replay buffer
(`sample_init: buffer`). With `sample_denoise: true` (default) its last step is the chain's mean step, without its
noise, as samples of Langevin samplers are usually reported for their quality (the last step's noise is not
something the model learnt): the noise of one step, √η ≈ 0.32 at η = 0.1, is wider than HSR's τ on ring8 (0.03) and
grid25 (0.15), so noisy samples would score HSR 0 there whatever E learnt. The buffer and the data box are
registered buffers, so checkpoints carry them.
"""
from __future__ import annotations

import torch

from methods import register
from methods.core.params import Param
from methods.core.base import Method
from methods.core.nets import energy
from methods.core.stack import batch_dim, draw, draw_at, per_run, row_index, run_dims
from methods.core.stein import model_score

SAMPLE_INITS = ("noise", "buffer")


@register
class EbmLangevin(Method):
    name = "ebm_langevin"
    kind = "explicit"
    has_generator = True  # the Langevin sampler
    has_energy = True
    stackable = True
    stacked_tensors = ("replay", "data_low", "data_high")  # per run in a stack
    hyperparameters = {
        "langevin_steps": Param(20, "K steps per training iteration (buffered chains continue across iterations)",
                                low=1),
        "langevin_step": Param(0.1, "η: x ← x − (η/2)∇E(x) + s·ε; absolute units: needs η ≪ 2 × (mode variance)",
                               low=0),
        "langevin_noise": Param(None, "s; null = √η (unadjusted Langevin), a number decouples it (Du & Mordatch)",
                                low=0, nullable=True, type=float),
        "buffer_size": Param(10000, "replay buffer of chain end points", low=1),
        "buffer_prob": Param(0.95, "a chain starts from the buffer with this probability, else from uniform noise",
                             low=0, high=1),
        "box_widen": Param(0.5, "noise/clamp box = data bounding box widened by this × half-range (= evaluation grid)",
                           low=0),
        "energy_l2": Param(0.1, "α of α·(E(x⁺)² + E(x⁻)²); energy differences settle near 1/α", low=0),
        "sample_steps": Param(200, "Langevin steps of sample(n), from fresh uniform noise (or buffer chains)", low=1),
        "sample_init": Param("noise", "noise (short-run chains, Nijkamp et al.) | buffer (continue replay-buffer "
                             "chains)", choices=SAMPLE_INITS),
        "sample_denoise": Param(True, "sample(n)'s last step is the mean step, without its noise; false = the chain's "
                                "last noisy state"),
    }

    def __init__(self, hp: dict, data_shape: tuple[int, ...], stack=None):
        super().__init__(hp, data_shape, stack)
        hp = self.hp  # sample_init and the other declared parameters checked by Method.__init__
        self.energy_net = energy(hp, data_shape, self.stack)
        self.opt_e = self.adam("energy", self.energy_net, hp["lr_explicit"], hp["beta1_explicit"], "explicit")
        runs = run_dims(self.stack)  # a stack's buffers are per run
        self.register_buffer("replay", torch.zeros(*runs, hp["buffer_size"], *data_shape))
        self.register_buffer("data_low", torch.full((*runs, *data_shape), float("inf")))   # running min of batches
        self.register_buffer("data_high", torch.full((*runs, *data_shape), float("-inf")))  # running max
        self.register_buffer("replay_filled", torch.tensor(False))

    # --- the sampler --------------------------------------------------------------------------------------------
    def box(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The data box widened by `box_widen` × its half-range on each side, broadcastable against a batch (n, d),
        or (K, n, d) of a stack."""
        low, high = self.data_low, self.data_high
        pad = self.hp["box_widen"] * (high - low) / 2
        return per_run(self.stack, low - pad), per_run(self.stack, high + pad)

    def uniform(self, n: int, where: torch.Tensor | None = None) -> torch.Tensor:
        """n points uniform over the data box (per run, each from its own stream); with a mask `where` ((n,), or
        (K, n)), drawn only where it is True (each run as many as it has there; the other points are the box's
        low corner)."""
        if not torch.isfinite(self.data_low).all():
            raise RuntimeError("ebm_langevin has seen no training data yet, so its sampler has no data box")
        low, high = self.box()
        u = draw(self.stack, torch.rand, n, *self.data_shape) if where is None else \
            draw_at(self.stack, where, torch.rand, *self.data_shape)
        return low + (high - low) * u

    def langevin(self, x: torch.Tensor, steps: int, noisy_last: bool = True) -> torch.Tensor:
        """`steps` Langevin steps on E from x (gradients w.r.t. x only; parameters untouched); with
        `noisy_last=False` the last step is the mean step x − (η/2)∇E(x), without its noise."""
        eta = self.hp["langevin_step"]
        noise = eta ** 0.5 if self.hp["langevin_noise"] is None else self.hp["langevin_noise"]
        low, high = self.box()
        for k in range(steps):  # model_score enables grad itself: sample() runs under no_grad
            score = model_score(self.energy_net, x.detach(), create_graph=False)  # −∇E
            x = x.detach() + eta / 2 * score
            if noisy_last or k < steps - 1:
                x = x + noise * draw(self.stack, torch.randn, *x.shape[-1 - len(self.data_shape):])
            x = torch.maximum(torch.minimum(x, high), low)
        return x.detach()

    def buffered(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """n random replay-buffer indices per run and the chains stored there."""
        idx = draw(self.stack, lambda *shape, **g: torch.randint(self.hp["buffer_size"], shape, **g), n)
        return idx, self.replay[row_index(self.stack, idx)]

    # --- training -----------------------------------------------------------------------------------------------
    @torch.no_grad()
    def observe(self, real: torch.Tensor) -> None:
        """Grow the data box to cover this batch; on the first call, fill the replay buffer with uniform noise."""
        rows = batch_dim(self.stack)
        self.data_low.copy_(torch.minimum(self.data_low, real.min(rows).values))
        self.data_high.copy_(torch.maximum(self.data_high, real.max(rows).values))
        if not self.replay_filled:
            self.replay.copy_(self.uniform(self.hp["buffer_size"]))
            self.replay_filled.fill_(True)

    def negatives(self, n: int) -> torch.Tensor:
        idx, start = self.buffered(n)
        fresh = draw(self.stack, torch.rand, n) >= self.hp["buffer_prob"]
        start[fresh] = self.uniform(n, where=fresh)[fresh]  # each run draws as many fresh starts as it has
        x = self.langevin(start, self.hp["langevin_steps"])
        self.replay[row_index(self.stack, idx)] = x
        return x

    def train_step(self, data):
        real = data.batch()
        self.observe(real)
        fake = self.negatives(self.hp["batch_size"])
        e_real, e_fake = self.energy_net(real), self.energy_net(fake)  # (B,), or (K, B) in a stack: losses per run
        contrast = e_real.mean(-1) - e_fake.mean(-1)
        loss = contrast + self.hp["energy_l2"] * (e_real.pow(2) + e_fake.pow(2)).mean(-1)
        self.step(self.opt_e, loss)
        return {"energy": loss.detach(), "contrast": contrast.detach()}

    @torch.no_grad()
    def sample(self, n: int) -> torch.Tensor:
        start = self.buffered(n)[1] if self.hp["sample_init"] == "buffer" else self.uniform(n)
        return self.langevin(start, self.hp["sample_steps"], noisy_last=not self.hp["sample_denoise"])
