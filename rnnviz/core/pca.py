"""The state trajectory's map: principal components of hidden states, fitted on a corpus (numpy).

The typed text's hidden states, projected on the two directions along which the corpus's states
vary most, draw a path on a map where the corpus's own states are the background.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnviz.core.errors import ConfigError

MAX_ROWS = 20_000  # states the components are fitted on (a seeded sample of them beyond that)


@dataclass(frozen=True)
class Projection:
    mean: np.ndarray  # (H,)
    axes: np.ndarray  # (k, H) orthonormal, most variance first; each axis's largest entry is positive
    variance: np.ndarray  # (k,) the states' variance along each axis
    total: float  # the states' total variance (the sum over all directions)

    @property
    def explained(self) -> np.ndarray:
        """The fraction of the total variance along each axis."""
        return self.variance / self.total if self.total > 0 else np.zeros_like(self.variance)

    def project(self, x: np.ndarray) -> np.ndarray:
        """(..., H) states -> (..., k) coordinates."""
        return (np.asarray(x, dtype=np.float64) - self.mean) @ self.axes.T


def fit_pca(states: np.ndarray, k: int = 2, max_rows: int = MAX_ROWS, seed: int = 0) -> Projection:
    """Principal components of (N, H) states, by SVD of the centred rows."""
    x = np.asarray(states, dtype=np.float64)
    if x.ndim != 2 or len(x) < 2:
        raise ConfigError("principal components need at least 2 states")
    if len(x) > max_rows:
        x = x[np.sort(np.random.default_rng(seed).choice(len(x), max_rows, replace=False))]
    mean = x.mean(axis=0)
    centred = x - mean
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    k = min(k, vt.shape[0])
    axes = vt[:k].copy()
    flip = np.sign(axes[np.arange(k), np.argmax(np.abs(axes), axis=1)])
    axes *= np.where(flip == 0, 1.0, flip)[:, None]
    variance = s[:k] ** 2 / (len(x) - 1)
    return Projection(mean, axes, variance, float((s**2).sum() / (len(x) - 1)))
