"""The algebra of structured kernels (Bhalgat et al. 2020), as LANGUAGE.md defines it.

A structured ``[O, Cg, kh, kw]`` kernel is ``W = A alpha`` with ``alpha [O, c, nh, nw]``
and ``A = B(Cg, c) ⊗ B(kh, nh) ⊗ B(kw, nw)``, where ``B(L, n)`` is the ``L × n`` box
matrix whose column ``j`` has ones on rows ``j .. j + L − n``. Everything is separable, so
composing, projecting (``alpha = A⁺ vec(W)``) and the nearest structured kernel
(``A A⁺ vec(W)``) apply one small matrix along each axis. A structured linear layer is the
one-axis case ``W [O, F] = alpha [O, c] B(F, c)ᵀ``.
"""

from __future__ import annotations

import functools

import torch


def box_matrix(length: int, n: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``B(length, n)``: ``length × n``, column ``j`` has ones on rows ``j .. j + length − n``."""
    if not 1 <= n <= length:
        raise ValueError(f"a box basis needs 1 <= n <= length, got n={n}, length={length}")
    b = torch.zeros(length, n, dtype=dtype)
    for j in range(n):
        b[j : j + length - n + 1, j] = 1.0
    return b


@functools.lru_cache(maxsize=None)
def _matrices(length: int, n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(B, B⁺, B B⁺) in float32, B⁺ computed in float64."""
    b = box_matrix(length, n)
    pinv = torch.linalg.pinv(b.double()).float()
    return b, pinv, b @ pinv


@functools.lru_cache(maxsize=None)
def _matrices64(length: int, n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    b = box_matrix(length, n, torch.float64)
    pinv = torch.linalg.pinv(b)
    return b, pinv, b @ pinv


class Structure:
    """The separable box basis of one structured conv kernel ``[O, Cg, kh, kw]`` with
    structure ``c × nh × nw``."""

    def __init__(self, cg: int, c: int, kernel: tuple[int, int], n: tuple[int, int]):
        (kh, kw), (nh, nw) = kernel, n
        if not 1 <= c <= cg:
            raise ValueError(f"c must be in 1..{cg} (the input channels per group), got {c}")
        if not (1 <= nh <= kh and 1 <= nw <= kw):
            raise ValueError(f"n must be in 1..kernel per axis, got n={n} for kernel={kernel}")
        self.cg, self.c, self.kernel, self.n = cg, c, (kh, kw), (nh, nw)
        self._axes = ((cg, c), (kh, nh), (kw, nw))

    def _mats(self, which: int, dtype: torch.dtype, device) -> list[torch.Tensor]:
        table = _matrices64 if dtype == torch.float64 else _matrices
        return [table(length, n)[which].to(device=device, dtype=dtype) for length, n in self._axes]

    @staticmethod
    def _apply(mats: list[torch.Tensor], t: torch.Tensor) -> torch.Tensor:
        # result[o, a, b, c] = sum m0[a, i] m1[b, j] m2[c, k] t[o, i, j, k]
        m0, m1, m2 = mats
        return torch.einsum("ai,bj,ck,oijk->oabc", m0, m1, m2, t)

    def compose(self, alpha: torch.Tensor) -> torch.Tensor:
        """``W = A alpha``: ``[O, c, nh, nw]`` → ``[O, Cg, kh, kw]``."""
        return self._apply(self._mats(0, alpha.dtype, alpha.device), alpha)

    def project(self, weight: torch.Tensor) -> torch.Tensor:
        """``alpha = A⁺ vec(W)`` (least squares): ``[O, Cg, kh, kw]`` → ``[O, c, nh, nw]``."""
        return self._apply(self._mats(1, weight.dtype, weight.device), weight)

    def projection(self, weight: torch.Tensor) -> torch.Tensor:
        """``A A⁺ vec(W)``: the structured kernel nearest to ``W``."""
        return self._apply(self._mats(2, weight.dtype, weight.device), weight)

    def relative_residual(self, weight: torch.Tensor) -> torch.Tensor:
        """``‖(I − A A⁺) W‖_F / ‖W‖_F`` (0 for a zero kernel); differentiable."""
        norm = torch.linalg.norm(weight)
        if not norm.is_nonzero():
            return norm
        return torch.linalg.norm(weight - self.projection(weight)) / norm


class LinearStructure:
    """The box basis of a structured linear weight ``[O, F]`` with ``c`` boxes of length
    ``F − c + 1``."""

    def __init__(self, features: int, c: int):
        if not 1 <= c <= features:
            raise ValueError(f"c must be in 1..{features} (the input features), got {c}")
        self.features, self.c = features, c

    def _mat(self, which: int, dtype: torch.dtype, device) -> torch.Tensor:
        table = _matrices64 if dtype == torch.float64 else _matrices
        return table(self.features, self.c)[which].to(device=device, dtype=dtype)

    def compose(self, alpha: torch.Tensor) -> torch.Tensor:
        """``W = alpha Bᵀ``: ``[O, c]`` → ``[O, F]``."""
        return alpha @ self._mat(0, alpha.dtype, alpha.device).T

    def project(self, weight: torch.Tensor) -> torch.Tensor:
        """``alpha = W (B⁺)ᵀ``: ``[O, F]`` → ``[O, c]``."""
        return weight @ self._mat(1, weight.dtype, weight.device).T

    def projection(self, weight: torch.Tensor) -> torch.Tensor:
        """``W (B B⁺)ᵀ``: the structured weight nearest to ``W``."""
        return weight @ self._mat(2, weight.dtype, weight.device).T

    def relative_residual(self, weight: torch.Tensor) -> torch.Tensor:
        """``‖W − projection(W)‖_F / ‖W‖_F`` (0 for a zero weight); differentiable."""
        norm = torch.linalg.norm(weight)
        if not norm.is_nonzero():
            return norm
        return torch.linalg.norm(weight - self.projection(weight)) / norm
