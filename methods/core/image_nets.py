"""Image networks (the paper's appendix): the same roles as the 2-D MLPs of methods/core/nets.py, for
images in [−1, 1] of shape (C, H, W). The classes in nets.py pick these when the data are images.

MNIST (1 × 28 × 28):
* critic: conv 5×5 stride 2 (1 → 64), conv 5×5 stride 2 (64 → 128), FC 128·7·7 → 256, FC 256 → 1;
* generator: z (100) → FC 256 → FC 128·7·7 → deconv (128 → 64, 14 × 14) → deconv (64 → 1, 28 × 28), tanh;
* energy: the critic's trunk with `experts` outputs (128 on images) and the energy head of nets.ENERGY_HEADS.
CIFAR-10 (3 × 32 × 32), DCGAN (Radford et al. 2016) in the same pattern:
* critic: conv 4×4 stride 2 (3 → 64 → 128 → 256; 32 → 16 → 8 → 4), FC 256·4·4 → 1;
* generator: z → FC 256·4·4 → deconv (256 → 128 → 64 → 3; 4 → 8 → 16 → 32), tanh.
`image_width` scales every channel count and hidden width (1 = the paper's networks; the default profile uses a
narrower network to fit a CPU budget). Hidden activations: leaky ReLU (slope 0.2) in critics and generators, as
DCGAN; the energy trunk uses SiLU, smooth because every Stein loss differentiates ∇E once more. No batch normalisation:
the gradient penalty and the scores are per-sample quantities, which batch statistics would couple. Input
gradients (the gradient penalty, scores) come from autograd on these networks.
"""
from __future__ import annotations

import torch
from torch import nn

LEAKY = 0.2


def conv_trunk(shape: tuple[int, ...], activation: str, width: float = 1.0) -> tuple[nn.Sequential, int]:
    """The critic's convolutional trunk for `shape` (channels scaled by `width`) and its flattened output width."""
    c, h, w = shape
    k = lambda n: max(1, round(n * width))  # noqa: E731
    act = (lambda: nn.LeakyReLU(LEAKY)) if activation == "leaky_relu" else nn.SiLU
    if (h, w) == (28, 28):
        trunk = nn.Sequential(nn.Conv2d(c, k(64), 5, 2, 2), act(), nn.Conv2d(k(64), k(128), 5, 2, 2), act(),
                              nn.Flatten(), nn.Linear(k(128) * 7 * 7, k(256)), act())
        return trunk, k(256)
    if (h, w) == (32, 32):
        trunk = nn.Sequential(nn.Conv2d(c, k(64), 4, 2, 1), act(), nn.Conv2d(k(64), k(128), 4, 2, 1), act(),
                              nn.Conv2d(k(128), k(256), 4, 2, 1), act(), nn.Flatten())
        return trunk, k(256) * 4 * 4
    raise ValueError(f"no image network for images of shape {shape}; supported: (C, 28, 28) (MNIST) and "
                     f"(C, 32, 32) (CIFAR-10)")


class ImageGenerator(nn.Module):
    """x = G(z), z ~ N(0, noise_std² I) of dimension noise_dim; the MNIST or DCGAN generator by image size."""

    def __init__(self, hp: dict, shape: tuple[int, ...]):
        super().__init__()
        self.noise_dim, self.noise_std = hp["noise_dim"], hp["noise_std"]
        c, h, w = shape
        k = lambda n: max(1, round(n * hp["image_width"]))  # noqa: E731
        act = lambda: nn.LeakyReLU(LEAKY)  # noqa: E731
        if (h, w) == (28, 28):
            self.net = nn.Sequential(nn.Linear(self.noise_dim, k(256)), act(), nn.Linear(k(256), k(128) * 7 * 7),
                                     act(), nn.Unflatten(1, (k(128), 7, 7)), nn.ConvTranspose2d(k(128), k(64), 4, 2, 1),
                                     act(), nn.ConvTranspose2d(k(64), c, 4, 2, 1), nn.Tanh())
        elif (h, w) == (32, 32):
            self.net = nn.Sequential(nn.Linear(self.noise_dim, k(256) * 4 * 4), act(),
                                     nn.Unflatten(1, (k(256), 4, 4)), nn.ConvTranspose2d(k(256), k(128), 4, 2, 1),
                                     act(), nn.ConvTranspose2d(k(128), k(64), 4, 2, 1), act(),
                                     nn.ConvTranspose2d(k(64), c, 4, 2, 1), nn.Tanh())
        else:
            conv_trunk(shape, "leaky_relu")  # raises the unsupported-shape error

    def noise(self, n: int) -> torch.Tensor:
        return self.noise_std * torch.randn(n, self.noise_dim)

    def forward(self, n: int, z: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(self.noise(n) if z is None else z)


class ImageCritic(nn.Module):
    """Scalar critic D(x) on images: the convolutional trunk and one linear output."""

    def __init__(self, hp: dict, shape: tuple[int, ...]):
        super().__init__()
        trunk, width = conv_trunk(shape, "leaky_relu", hp["image_width"])
        self.net = nn.Sequential(trunk, nn.Linear(width, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)


class ImageEnergy(nn.Module):
    """E(x) on images: the convolutional trunk (SiLU) with `experts` outputs h_k and the energy head."""

    def __init__(self, hp: dict, shape: tuple[int, ...], head_fn):
        super().__init__()
        trunk, width = conv_trunk(shape, "silu", hp["image_width"])
        self.net = nn.Sequential(trunk, nn.Linear(width, hp["experts"]))
        self.head_fn = head_fn  # f of the energy head E = Σ_k f(h_k) (nets.ENERGY_HEADS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head_fn(self.net(x)).sum(-1)
