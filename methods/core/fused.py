"""An MLP's value and input gradient with a hand-written backward pass: the fast path behind the gradient penalty
and every Stein loss on 2-D data (methods/core/nets.py `MLP.value_and_grad`; issue "Speed").

For an MLP  z_l = a_{l−1} W_lᵀ + b_l,  a_l = φ(z_l) (l = 1…L, a_0 = x),  h = a_L W_{L+1}ᵀ + b_{L+1}  and a head
v(x) = Σ_k f(h_k), the input gradient is the chain rule written out (reverse mode, per sample):

    δ_{L+1} = f'(h),   g_l = δ_{l+1} W_{l+1},   δ_l = g_l ⊙ φ'(z_l),   ∇_x v = g_0 = δ_1 W_1.

Losses use both v and g_0 (the WGAN-GP penalty ‖∇D‖, the KSD of the score −∇E), so training differentiates g_0
once more. Autograd does this by replaying every recorded operation of the chain (dozens of small ones per layer);
`ValueAndGrad.backward` is that second derivative written out. With cotangents v̄ (B,) and ḡ_0 (rows, d):

  along the chain, l = 1…L:    δ̄_l = ḡ_{l−1} W_lᵀ,   W̄_l += δ_lᵀ ḡ_{l−1},   ḡ_l = δ̄_l ⊙ φ'(z_l),
                               z̄_l += δ̄_l ⊙ g_l ⊙ φ''(z_l)
  at the top:                  δ̄_{L+1} = ḡ_L W_{L+1}ᵀ,   W̄_{L+1} += δ_{L+1}ᵀ ḡ_L,   h̄ = v̄ f'(h) + δ̄_{L+1} ⊙ f''(h)
  down the forward pass:       W̄_{L+1} += h̄ᵀ a_L,   ā_L = h̄ W_{L+1},   and for l = L…1:
                               z̄_l += ā_l ⊙ φ'(z_l),   W̄_l += z̄_lᵀ a_{l−1},   b̄_l = Σ z̄_l,   ā_{l−1} = z̄_l W_l
  and x̄ = ā_0.

The same matrix products autograd would run, a few element-wise operations, and no recorded graph.
tests/test_fused.py checks values and every gradient (parameters and x) against autograd's double backward for
each activation and head. A stack of K runs (methods/core/stack.py) gives every tensor a leading run dimension:
x (K, B, d), W_l (K, out, in), b_l (K, out); the same formulas run as batched products. Only the first `rows` rows
need g_0 (the critic's interpolates; the rest of the batch
only needs v), so the chain runs on those rows alone.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import torch


class Derivatives(NamedTuple):
    """An element-wise function with its derivatives: φ(z), φ'(z, a) and φ''(z, a, φ') given a = φ(z) (whichever
    argument is cheaper; `curvature` returns None where φ'' = 0), and optionally `fast`, φ for tensors that autograd
    does not track (this module's forward), where in-place composites are allowed."""
    fn: Callable
    slope: Callable
    curvature: Callable
    fast: Callable | None = None


class Saved(NamedTuple):
    """What `backward` needs from `forward`: the rows with a gradient, the derivative triples, h and f'(h), the
    parameters and, per hidden layer, z, a (with a_0 = x), φ'(z), g and δ."""
    rows: int
    act: Derivatives
    head: Derivatives
    h: torch.Tensor
    top: torch.Tensor
    params: tuple
    zs: list
    acts: list
    slopes: list
    gs: list
    deltas: list


def forward(x: torch.Tensor, rows: int, act: Derivatives, head: Derivatives, params) -> tuple:
    """(v(x) for every row, ∇_x v for the first `rows` rows, Saved) for W_1, b_1, …, W_{L+1}, b_{L+1} = params;
    plain tensor operations, nothing recorded."""
    weights, biases = params[0::2], params[1::2]
    phi, dphi = act.fast or act.fn, act.slope
    a, zs, acts, slopes = x, [], [x], []
    for w, b in zip(weights[:-1], biases[:-1]):
        z = _affine(b, a, w)
        a = phi(z)
        zs.append(z)
        acts.append(a)
        slopes.append(dphi(z, a))
    h = _affine(biases[-1], a, weights[-1])
    value = (head.fast or head.fn)(h).sum(-1)
    top = head.slope(h)  # δ_{L+1} for every row; the chain uses its first `rows`
    g = _mm(top[..., :rows, :], weights[-1])
    gs, deltas = [], []
    for w, p in zip(reversed(weights[:-1]), reversed(slopes)):
        delta = g * p[..., :rows, :]
        gs.append(g)
        deltas.append(delta)
        g = _mm(delta, w)
    return value, g, Saved(rows, act, head, h, top, tuple(params), zs, acts, slopes, gs[::-1], deltas[::-1])


def backward(saved: Saved, value_bar: torch.Tensor | None, grad_bar: torch.Tensor | None,
             need_x: bool = False, need_params: bool = True) -> tuple[torch.Tensor | None, list]:
    """(x̄, [W̄_1, b̄_1, …]) for cotangents v̄ (B,) and ḡ_0 (rows, d), either None (module docstring); without
    `need_params` the parameter gradients are skipped (None), e.g. a fixed critic inside a generator step."""
    rows, n = saved.rows, len(saved.zs)
    weights = saved.params[0::2]
    zs, acts, slopes, gs, deltas = saved.zs, saved.acts, saved.slopes, saved.gs, saved.deltas
    top, h = saved.top, saved.h
    d2phi, d2f = saved.act.curvature, saved.head.curvature
    w_bar = [None] * (n + 1)
    z_extra = [None] * n
    h_bar = None if value_bar is None else value_bar[..., None] * top
    if grad_bar is not None:
        g_bar = grad_bar
        for l in range(n):  # layer l + 1 of the chain, bottom up
            d_bar = _mm(g_bar, weights[l].mT)
            w_bar[l] = _mm(deltas[l].mT, g_bar) if need_params else None
            g_bar = d_bar * slopes[l][..., :rows, :]
            curv = d2phi(zs[l][..., :rows, :], acts[l + 1][..., :rows, :], slopes[l][..., :rows, :])  # None: φ'' = 0
            z_extra[l] = None if curv is None else d_bar * gs[l] * curv
        w_bar[n] = _mm(top[..., :rows, :].mT, g_bar) if need_params else None
        curv = d2f(h[..., :rows, :])  # None: f'' = 0
        if curv is not None:
            curv = _mm(g_bar, weights[n].mT) * curv
            if h_bar is None:
                h_bar = torch.zeros_like(h)
            h_bar[..., :rows, :] += curv
    grads = [None] * (2 * (n + 1))
    if h_bar is None and grad_bar is None:
        return None, grads
    if h_bar is None:  # neither the value nor f'' reaches h: the chain alone carries the gradient
        grads[2 * n] = w_bar[n]
        a_bar = None
    else:
        if need_params:
            grads[2 * n] = _add(w_bar[n], _mm(h_bar.mT, acts[n]))
            grads[2 * n + 1] = h_bar.sum(-2)
        a_bar = _mm(h_bar, weights[n])
    for l in reversed(range(n)):
        z_bar = None if a_bar is None else a_bar * slopes[l]
        if z_extra[l] is not None:
            if z_bar is None:
                z_bar = torch.zeros_like(zs[l])
            z_bar[..., :rows, :] += z_extra[l]
        if z_bar is None:
            grads[2 * l], a_bar = w_bar[l], None
            continue
        if need_params:
            grads[2 * l] = _add(w_bar[l], _mm(z_bar.mT, acts[l]))
            grads[2 * l + 1] = z_bar.sum(-2)
        if l > 0 or need_x:
            a_bar = _mm(z_bar, weights[l])
    return (a_bar if need_x else None), grads


class ValueAndGrad(torch.autograd.Function):
    """`forward` and `backward` as an autograd function: (v(x) (B,), ∇_x v(x) for the first `rows` rows).
    Arguments: x, rows, the activation's and the head's derivatives, then W_1, b_1, …, W_{L+1}, b_{L+1}."""

    @staticmethod
    def forward(ctx, x, rows, act: Derivatives, head: Derivatives, *params):
        ctx.set_materialize_grads(False)
        value, grad, ctx.saved = forward(x, rows, act, head, params)
        return value, grad

    @staticmethod
    def backward(ctx, value_bar, grad_bar):
        x_bar, grads = backward(ctx.saved, value_bar, grad_bar, ctx.needs_input_grad[0])
        return (x_bar, None, None, None, *grads)


def _affine(b: torch.Tensor, a: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """a Wᵀ + b for one run (a (B, in), W (out, in), b (out,)) or a stack (a (K, B, in), W (K, out, in),
    b (K, out))."""
    if w.dim() == 2:
        return torch.addmm(b, a, w.T)
    return torch.baddbmm(b[:, None, :], a, w.mT)


def _mm(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a @ b (batched over a leading run dimension, if any), computed as (bᵀ aᵀ)ᵀ when b has few columns: BLAS is
    slow at products with a skinny right factor (measured, one thread: (128 × 300)(300 × 2) 46 µs, its transposed
    form 8 µs); an outer product (inner dimension 1) is a broadcast product, which batched BLAS is slow at (one
    thread, 9 × (300 × 1)(1 × 128): bmm 0.6 ms)."""
    if a.shape[-1] == 1:  # an outer product: every entry is one product, exactly as BLAS would form it
        return a * b
    if b.shape[-1] <= 8 < a.shape[-1]:
        return (b.mT @ a.mT).mT
    return a @ b


def _add(a, b):
    return b if a is None else a + b


def value_and_grad(x: torch.Tensor, rows: int, act: Derivatives, head: Derivatives,
                   params: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    return ValueAndGrad.apply(x, rows, act, head, *params)
