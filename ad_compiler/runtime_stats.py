"""Run-time helpers of the derivative code of scipy.stats distributions
(registry/stats.py): shapes as SciPy reads them, and the covariance matrix
multivariate_normal reads from its `cov` argument, with its transpose."""
from __future__ import annotations

import numpy as np


def mvn_dimension(mean: object, cov: object) -> int:
    """The dimension multivariate_normal infers: the size of `mean` if given, else
    that of `cov` (a number: 1, a vector: its length, a matrix: its order)."""
    if mean is not None:
        return int(np.size(mean))
    cov = np.asarray(cov)
    return 1 if cov.ndim == 0 else int(cov.shape[0])


def mvn_points_shape(dimension: int) -> tuple[int, int]:
    """The points as rows, (-1, d): x of shape (d,) is one point, (..., d) many (and
    for d == 1, any x is a list of points)."""
    return (-1, dimension)


def covariance_matrix(cov: np.ndarray, dimension: int) -> np.ndarray:
    """The matrix multivariate_normal uses for `cov`: c * I for a number, the diagonal
    matrix of a vector, and of a matrix its lower triangle mirrored (SciPy's
    eigendecomposition reads only the lower triangle).  Linear in `cov`."""
    cov = np.asarray(cov)
    if cov.ndim == 0:
        return cov * np.eye(dimension)
    if cov.ndim == 1:
        return np.diag(cov)
    lower = np.tril(cov)
    return lower + np.tril(cov, -1).T


def covariance_adjoint(g: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """The transpose of `covariance_matrix` at an adjoint `g` of the matrix: its trace
    for a number, its diagonal for a vector, and for a matrix g + g.T on the strict
    lower triangle, g's diagonal, and zero above (what SciPy does not read)."""
    g = np.asarray(g)
    ndim = np.ndim(cov)
    if ndim == 0:
        return np.trace(g)
    if ndim == 1:
        return np.diagonal(g).copy()
    return np.tril(g) + np.tril(g.T, -1)


def dirichlet_alpha_shape(alpha: np.ndarray, x: np.ndarray) -> tuple[int, ...]:
    """`alpha` shaped to broadcast against x's trailing axes of points; the
    derivative needs x with all K components (SciPy also takes K - 1)."""
    k = np.shape(alpha)[0]
    if np.shape(x)[0] != k:
        raise ValueError("the derivative of scipy.stats.dirichlet needs x with all "
                         f"{k} components along its first axis (SciPy also accepts "
                         f"{k - 1}, leaving the last one out)")
    return (k,) + (1,) * (np.ndim(x) - 1)


def dirichlet_points_shape(x: np.ndarray) -> tuple[int, ...]:
    """The shape of dirichlet.logpdf's result before SciPy squeezes it: x's points."""
    return np.shape(x)[1:]
