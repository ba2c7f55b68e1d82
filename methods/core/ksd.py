"""Kernel Stein discrepancy (Liu, Lee & Jordan 2016; Chwialkowski, Strathmann & Gretton 2016) of
samples x_i from Q against a model with score s = ∇ log p:

    u(x, x') = s(x)ᵀ k(x, x') s(x') + s(x)ᵀ ∇_{x'} k + (∇_x k)ᵀ s(x') + tr ∇_x ∇_{x'} k
    KSD_U = Σ_{i≠j} u(x_i, x_j) / (B(B−1))          KSD_V = Σ_{i,j} u(x_i, x_j) / B²

Both kernels are radial, k = φ(r²) with r² = ‖x − x'‖² and D = x − x', so with primes for d/d(r²):

    ∇_x k = 2φ' D = −∇_{x'} k,   tr ∇_x∇_{x'} k = −2dφ' − 4φ'' r²,
    u = φ sᵀs' − 2φ' (s − s')ᵀD − 2dφ' − 4φ'' r².

RBF: φ = exp(−r²/(2h²)), φ' = −φ/(2h²), φ'' = φ/(4h⁴), φ''' = −φ/(8h⁶); h = `bandwidth`, or the median heuristic.
IMQ: φ = (c + r²)^β, φ⁽ⁿ⁾ = β(β−1)…(β−n+1) (c + r²)^{β−n}.

Two implementations of the same number:
* `stein_kernel_matrix` builds the B × B matrix u from its definition; differentiated by autograd, it is the
  reference (tests/test_stein.py checks it against torch.func derivatives of the kernels).
* `ksd` (the training path) is an autograd.Function whose backward is the closed-form gradient. u is symmetric
  (u(a, b; s_a, s_b) = u(b, a; s_b, s_a)), so with w_ij the pair weights (0 on the diagonal for U) and N their count,

    ∂KSD/∂s_i = (2/N) Σ_j w_ij (φ_ij s_j − 2φ'_ij D_ij)
    ∂KSD/∂x_i = (2/N) Σ_j w_ij (A_ij D_ij − 2φ'_ij (s_i − s_j)),
    A = 2φ' sᵢᵀsⱼ − 4φ'' (sᵢ − sⱼ)ᵀD − 4dφ'' − 8φ''' r² − 8φ''

  (differentiate u in its first argument: ∂φ⁽ⁿ⁾/∂x = 2φ⁽ⁿ⁺¹⁾D, ∂r²/∂x = 2D). Each sum over j is a B × B matrix times
  a B × d one, so the gradient costs a handful of tensor operations instead of the ~40 recorded ones that autograd
  replays for the matrix version; tests/test_ksd.py checks values and gradients against it.
  Leading dimensions are groups: x of shape (G, B, d) gives G discrepancies in one call.
"""
from __future__ import annotations

import functools

import torch

KERNELS = ("rbf", "imq")
STATISTICS = ("u", "v")


def median_bandwidth(x: torch.Tensor) -> torch.Tensor:
    """Median heuristic: h = median of the pairwise distances ‖x_i − x_j‖, i < j (no gradient). For an even number
    of pairs it is the mean of the two middle distances (as numpy.median), not torch.median's lower one."""
    with torch.no_grad():
        d = torch.pdist(x.flatten(1)).sort().values
        n = d.numel()
        return (0.5 * (d[(n - 1) // 2] + d[n // 2])).clamp_min(1e-8)


def _check(kernel: str, statistic: str) -> None:
    if kernel not in KERNELS:
        raise ValueError(f"unknown kernel {kernel!r}; valid: {', '.join(KERNELS)}")
    if statistic not in STATISTICS:
        raise ValueError(f"unknown KSD statistic {statistic!r}; valid: {', '.join(STATISTICS)}")


def _bandwidth(x: torch.Tensor, bandwidth) -> float | torch.Tensor:
    """h as a number, or per group (shape (G, 1, 1)) for the median heuristic."""
    if isinstance(bandwidth, str):
        if bandwidth != "median":
            raise ValueError(f"bandwidth must be a number or 'median'; got {bandwidth!r}")
        return torch.stack([median_bandwidth(g) for g in x]).view(-1, 1, 1)
    return float(bandwidth)


def rbf(r2: torch.Tensor, hh) -> torch.Tensor:
    """exp(−r²/(2h²)) with hh = h². Arguments below −80 are raised to −80 (φ < 2e-35 either way): where exp's
    result underflows, torch's CPU kernel runs ~9× slower (measured, 20 000 arguments in [−150, 0]: 166 µs against
    18 µs), and distant pairs are most pairs of a spread-out sample."""
    return (r2 * (-0.5 / hh)).clamp_min_(-80.0).exp_()


def radial_derivatives(kernel: str, r2: torch.Tensor, h, c: float, beta: float, order: int) -> list[torch.Tensor]:
    """[φ, φ', …, φ⁽ᵒʳᵈᵉʳ⁾] of the kernel k = φ(r²), element-wise on r2 (module docstring)."""
    if kernel == "rbf":
        phi = rbf(r2, h * h)
        return [phi * (-1 / (2 * h * h)) ** n for n in range(order + 1)]
    base = c + r2
    out, coef = [], 1.0
    for n in range(order + 1):
        out.append(coef * base.pow(beta - n))
        coef *= beta - n
    return out


def stein_kernel_matrix(x: torch.Tensor, s: torch.Tensor, kernel: str = "rbf", bandwidth=1.0,
                        imq_c: float = 1.0, imq_beta: float = -0.5) -> torch.Tensor:
    """The B×B matrix u(x_i, x_j) for samples x (B, d) with scores s (B, d), written out from the definition
    (module docstring); differentiable by autograd. The reference for `ksd`."""
    _check(kernel, "u")
    x, s = x.flatten(1), s.flatten(1)
    d = x.shape[1]
    diff = x[:, None, :] - x[None, :, :]  # D_ij = x_i − x_j
    r2 = diff.pow(2).sum(-1)
    h = _bandwidth(x[None], bandwidth)
    h = h.view(()) if torch.is_tensor(h) else h
    phi, phi1, phi2 = radial_derivatives(kernel, r2, h, imq_c, imq_beta, 2)
    grad_x = 2 * phi1[..., None] * diff  # ∇_x k(x_i, x_j)
    trace = -2 * d * phi1 - 4 * phi2 * r2
    return phi * (s @ s.T) + (s[:, None, :] * -grad_x).sum(-1) + (grad_x * s[None, :, :]).sum(-1) + trace


class KSDState:
    """What the closed-form backward needs from the forward pass (plain attributes)."""


def ksd_forward(x, s, kernel, h, c, beta, statistic) -> tuple[torch.Tensor, KSDState]:
    """KSD of each group of x (G, B, d) with scores s (G, B, d): values (G,) and the state for `ksd_backward`.
    The RBF kernel with a fixed bandwidth (the default) takes `_rbf_forward`; other kernels build u from φ, φ',
    φ''. Plain tensor operations, nothing recorded."""
    st = KSDState()
    b, d = x.shape[-2], x.shape[-1]
    st.d, st.statistic = d, statistic
    st.n = b * (b - 1) if statistic == "u" else b * b
    sq = (x * x).sum(-1)
    xt = x.transpose(-1, -2)
    r2 = torch.baddbmm(sq[..., :, None] + sq[..., None, :], x, xt, alpha=-2).clamp_min_(0)  # ‖x_i‖² + ‖x_j‖² − 2xᵢ·xⱼ
    if kernel == "rbf" and not torch.is_tensor(h):
        return _rbf_forward(st, x, s, r2, sq, h * h), st
    st.rbf = False
    ss = s @ s.transpose(-1, -2)
    sx = s @ xt  # s_i · x_j
    xs = (x * s).sum(-1)  # s_i · x_i
    q = xs[..., :, None] + xs[..., None, :] - sx - sx.transpose(-1, -2)  # (s_i − s_j)·(x_i − x_j)
    phi, phi1, phi2, phi3 = radial_derivatives(kernel, r2, h, c, beta, 3)
    u = phi * ss - 2 * phi1 * q - 2 * d * phi1 - 4 * phi2 * r2
    if statistic == "u":
        for m in (u, phi, phi1):
            m.diagonal(dim1=-2, dim2=-1).zero_()
    st.tensors = (x, s, r2, ss, q, phi, phi1, phi2, phi3)
    return u.sum((-2, -1)) / st.n, st


def ksd_backward(st: KSDState, grad_out: torch.Tensor, need_x: bool, need_s: bool) -> tuple:
    """(∂/∂x, ∂/∂s) of Σ_g grad_out_g · KSD_g (module docstring), each None unless needed."""
    if st.rbf:
        return _rbf_backward(st, grad_out, need_x, need_s)
    x, s, r2, ss, q, phi, phi1, phi2, phi3 = st.tensors
    scale = (2 / st.n) * grad_out[..., None, None]
    grad_x = grad_s = None
    rs1 = phi1.sum(-1, keepdim=True)
    if need_s:  # Σ_j w(φ s_j − 2φ' (x_i − x_j))
        grad_s = scale * (phi @ s - 2 * (rs1 * x - phi1 @ x))
    if need_x:  # Σ_j w(A D_ij − 2φ' (s_i − s_j))
        a = 2 * phi1 * ss - 4 * phi2 * q - 4 * st.d * phi2 - 8 * phi3 * r2 - 8 * phi2
        if st.statistic == "u":
            a.diagonal(dim1=-2, dim2=-1).zero_()
        grad_x = scale * (a.sum(-1, keepdim=True) * x - a @ x - 2 * (rs1 * s - phi1 @ s))
    return grad_x, grad_s


def _rbf_forward(st, x, s, r2, sq, hh):
    """RBF with a fixed bandwidth, H = h²: u = φ [sᵢᵀsⱼ + q/H + d/H − r²/H²] with q = (sᵢ − sⱼ)ᵀ(xᵢ − xⱼ). With
    P = w ⊙ φ (symmetric) every pair sum is a product with P: Σ P⊙ssᵀ = Σ s ⊙ Ps, Σ P⊙q = 2Σ rs·(x·s) − 2Σ s ⊙ Px,
    Σ P⊙r² = 2Σ rs·‖x‖² − 2Σ x ⊙ Px (rs = row sums of P), so the forward pass needs P and P[s, x] only."""
    st.rbf = True
    p = rbf(r2, hh)
    if st.statistic == "u":
        p.diagonal(dim1=-2, dim2=-1).zero_()
    d = x.shape[-1]
    c = torch.cat([s, x], -1)
    pc = _sym_mm(p, c)
    ps, px = pc[..., :d], pc[..., d:]
    rs = p.sum(-1)
    # Σ_i [sᵢ·(Ps)ᵢ − (2/H) sᵢ·(Px)ᵢ + (2/H²) xᵢ·(Px)ᵢ] + Σ_i rsᵢ [(2/H) xᵢ·sᵢ + d/H − (2/H²)‖xᵢ‖²]
    xs = (x * s).sum(-1)
    per_row = (c * (pc @ _rbf_mix(d, hh, x.dtype))).sum(-1) + \
        rs * ((2 / hh) * xs + d / hh - (2 / (hh * hh)) * sq)
    value = per_row.sum(-1)
    st.hh = hh
    st.tensors = (x, s, c, sq, xs, p, ps, px, rs)
    return value / st.n


@functools.lru_cache(maxsize=16)
def _rbf_mix(d: int, hh: float, dtype: torch.dtype) -> torch.Tensor:
    """M with [Ps, Px] M = [Ps − (2/H) Px, (2/H²) Px] (see `_rbf_forward`)."""
    eye = torch.eye(d, dtype=dtype)
    return torch.cat([torch.cat([eye, torch.zeros(d, d, dtype=dtype)], 1),
                      torch.cat([-(2 / hh) * eye, (2 / (hh * hh)) * eye], 1)])


def _rbf_backward(st, grad_out, need_x, need_s):
    """∂/∂s = (2/N)[Ps + (rs x − Px)/H];  ∂/∂x = (2/N)[rs(A) x − A x + (rs s − Ps)/H],
    A = P ⊙ m,  m = −sᵢᵀsⱼ/H − q/H² + r²/H³ − (d + 2)/H² (the general formulas with φ⁽ⁿ⁾ = φ (−1/(2H))ⁿ).
    Expanding q and r², m is a bilinear form plus a row and a column term, m_ij = cᵢ·vⱼ + αᵢ + αⱼ with c = [s, x],
    v = [x/H² − s/H, s/H² − 2x/H³], α = ‖x‖²/H³ − x·s/H² − (d + 2)/(2H²): one batched product builds it."""
    x, s, c, sq, xs, p, ps, px, rs = st.tensors
    hh, d = st.hh, st.d
    scale = (2 / st.n) * grad_out[..., None, None]
    rs_ = rs[..., None]
    grad_x = grad_s = None
    if need_s:
        grad_s = scale * (ps + (rs_ * x - px) / hh)
    if need_x:
        v = torch.cat([x / (hh * hh) - s / hh, s / (hh * hh) - x * (2 / (hh * hh * hh))], -1)
        alpha = sq / (hh * hh * hh) - xs / (hh * hh) - (d + 2) / (2 * hh * hh)
        a = torch.baddbmm(alpha[..., :, None] + alpha[..., None, :], c, v.transpose(-1, -2)).mul_(p)  # symmetric
        grad_x = scale * (a.sum(-1, keepdim=True) * x - _sym_mm(a, x) + (rs_ * s - ps) / hh)
    return grad_x, grad_s


def _sym_mm(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a @ b for symmetric a (…, B, B) and a skinny b (…, B, k), computed as (bᵀ a)ᵀ: batched BLAS is slow at
    products with a skinny right factor (measured, one thread, two groups of 100 × 100 times 100 × 4: 26 µs; the
    transposed form 10 µs)."""
    return (b.transpose(-1, -2) @ a).transpose(-1, -2)


class _KSD(torch.autograd.Function):
    """`ksd_forward` / `ksd_backward` as an autograd function."""

    @staticmethod
    def forward(ctx, x, s, kernel, h, c, beta, statistic):
        value, ctx.state = ksd_forward(x, s, kernel, h, c, beta, statistic)
        return value

    @staticmethod
    def backward(ctx, grad_out):
        grad_x, grad_s = ksd_backward(ctx.state, grad_out, ctx.needs_input_grad[0], ctx.needs_input_grad[1])
        return grad_x, grad_s, None, None, None, None, None


def ksd_groups(x: torch.Tensor, s: torch.Tensor, kernel: str = "rbf", bandwidth=1.0, statistic: str = "u",
               imq_c: float = 1.0, imq_beta: float = -0.5) -> torch.Tensor:
    """Squared KSD of each group: x and s of shape (G, B, d) give shape (G,) (module docstring)."""
    _check(kernel, statistic)
    return _KSD.apply(x, s, kernel, _bandwidth(x, bandwidth), imq_c, imq_beta, statistic)


def ksd(x: torch.Tensor, s: torch.Tensor, kernel: str = "rbf", bandwidth=1.0, statistic: str = "u",
        imq_c: float = 1.0, imq_beta: float = -0.5) -> torch.Tensor:
    """Squared kernel Stein discrepancy between the sample x (B, *shape) and the model whose score at x is s.
    `statistic` "u" (default; unbiased, mean over i ≠ j) or "v" (mean over all pairs, as released)."""
    return ksd_groups(x.flatten(1)[None], s.flatten(1)[None], kernel, bandwidth, statistic, imq_c, imq_beta)[0]


def ksd_reference(x: torch.Tensor, s: torch.Tensor, kernel: str = "rbf", bandwidth=1.0, statistic: str = "u",
                  imq_c: float = 1.0, imq_beta: float = -0.5) -> torch.Tensor:
    """`ksd` from `stein_kernel_matrix`, differentiated by autograd (the reference in tests)."""
    _check(kernel, statistic)
    u = stein_kernel_matrix(x, s, kernel, bandwidth, imq_c, imq_beta)
    b = u.shape[0]
    if statistic == "v":
        return u.sum() / (b * b)
    return (u.sum() - u.diagonal().sum()) / (b * (b - 1))
