"""Distributions of ``scipy.stats``: norm, t, gamma, beta (location-scale families),
poisson, multivariate_normal and dirichlet.

Their methods are bound methods of distribution objects (``stats.norm.logpdf``), made
anew on every attribute access; `lazy_method()` declares each one, recognised by its
object and function once the user's code has imported ``scipy.stats``.  The value is
SciPy's own call; the derivative code is NumPy and scipy.special, built from
primitives that have rules themselves, so Hessians follow.

A location-scale family has log density ``log f(z; shapes) - log(scale)`` with
``z = (x - loc) / scale``; `_Family` gives the slope of ``log f`` in z and its partials
in the shape parameters, from which every method's partials follow:

* logpdf: x: slope/scale, loc: -slope/scale, scale: -(slope*z + 1)/scale;
* pdf: the result times logpdf's partials, 0 where the density is 0 (outside the
  support, where it is constant);
* cdf: x: pdf, loc: -pdf, scale: -pdf*z, with SciPy's pdf (shapes refused where noted);
  logcdf: the cdf's divided by the cdf, as ``exp(logpdf - logcdf)`` with SciPy's logpdf.

logpdf's derivatives hold inside the support; outside it, where SciPy's value is -inf,
they are what the formula gives there (as in autograd).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .. import batched_statistics
from .. import runtime_stats as rts
from ..ir import Const, Op, Operand
from .core import REGISTRY, helper, lazy_method
from .emit import Emit, array_op, param, position
from .multilinear import Refused, linear_jvp, refuse, replay_helper


def _f(e: Emit, prim: str, *args: Operand, family: str = "numpy") -> Operand:
    """An elementwise primitive of the primal values (a function with a rule)."""
    return e.b.apply(prim, list(args), family)


def _sp(e: Emit, prim: str, *args: Operand) -> Operand:
    return _f(e, prim, *args, family="scipy")


def _num(value: float) -> Const:
    return Const(float(value))


# ------------------------------------------------------------------ generic rules


def _elementwise_jvp(partials: Callable[[Emit, Op], dict[str, Operand]],
                     refused: dict[str, str]) -> Callable:
    """The tangent: the sum over the arguments that vary of partial times tangent."""
    def jvp(e: Emit, op: Op, t: list[Operand | None]) -> Operand | None:
        refuse(op, refused, t)
        varying = {name: t[k] for name in REGISTRY[op.prim].params
                   if (k := position(op, name)) is not None and k < len(t) and t[k] is not None}
        if not varying:
            return None
        d = partials(e, op)
        return e.sum_terms([e.mul(d[name], tangent) for name, tangent in varying.items()])
    return jvp


def _elementwise_vjp(partials: Callable[[Emit, Op], dict[str, Operand]],
                     refused: dict[str, str]) -> Callable:
    """The adjoints: g times each partial, summed back to its argument's shape."""
    def vjp(e: Emit, op: Op, g: Operand) -> list[Operand | None]:
        parts: list[Operand | None] = [None] * len(op.args)
        d = partials(e, op)
        for name, partial in d.items():
            k = position(op, name)
            if k is not None and name not in refused:
                parts[k] = e.helper("unbroadcast", e.mul(g, partial), op.args[k])
        return Refused(parts, refuse(op, refused))
    return vjp


# ------------------------------------------------------------------ location-scale families


@dataclass
class _Family:
    """A location-scale family in the standardised variable z: d log f / dz and
    d log f / d shape, in z and the shape parameters."""

    name: str
    shapes: tuple[str, ...]
    slope: Callable[..., Operand]  # (e, z, *shapes) -> d log f / dz
    shape_partials: tuple[Callable[..., Operand], ...]  # (e, z, *shapes) -> d log f / d shape
    cdf_refused: dict[str, str] = field(default_factory=dict)

    def signature(self) -> str:
        return ", ".join(["x*", *(f"{s}*" for s in self.shapes), "loc*=0", "scale*=1"])

    def parts(self, e: Emit, op: Op, inside: Operand | None = None
              ) -> tuple[Operand, Operand, list[Operand]]:
        """z, the scale, and the shape parameters of the op; z moved to a point of the
        support where `inside` is false (the density is 0 there, and so is its slope)."""
        scale = param(op, "scale")
        z = e.truediv(e.sub(param(op, "x"), param(op, "loc")), scale)
        if inside is not None:
            z = e.where(inside, z, _num(0.5))
        return z, scale, [param(op, s) for s in self.shapes]

    def logpdf_partials(self, e: Emit, op: Op, inside: Operand | None = None
                        ) -> dict[str, Operand]:
        z, scale, shapes = self.parts(e, op, inside)
        slope = e.truediv(self.slope(e, z, *shapes), scale)
        partials = {"x": slope, "loc": e.neg(slope),
                    "scale": e.neg(e.truediv(e.add(e.mul(self.slope(e, z, *shapes), z),
                                                   _num(1.0)), scale))}
        for name, partial in zip(self.shapes, self.shape_partials):
            partials[name] = partial(e, z, *shapes)
        return partials

    def pdf_partials(self, e: Emit, op: Op) -> dict[str, Operand]:
        """The density times logpdf's partials; 0 where the density is (outside the
        support, where logpdf's partials do not exist)."""
        inside = e.call(np.not_equal, op.result, _num(0.0))
        return {name: e.mul(op.result, d)
                for name, d in self.logpdf_partials(e, op, inside).items()}

    def _sibling(self, e: Emit, op: Op, method: str) -> Operand:
        """SciPy's `method` of this distribution at the op's arguments (its pdf for the
        derivative of its cdf), an op with rules of its own."""
        name = f"{self.name}_{method}"
        given = {p: param(op, p) for p in REGISTRY[op.prim].params
                 if position(op, p) is not None}
        return array_op(e.b, name, given, attrs={"fn": REGISTRY[name].fn.resolve()})

    def _cdf_partials(self, e: Emit, op: Op, pdf: Operand) -> dict[str, Operand]:
        z, _, _ = self.parts(e, op)
        return {"x": pdf, "loc": e.neg(pdf), "scale": e.neg(e.mul(pdf, z))}

    def cdf_partials(self, e: Emit, op: Op) -> dict[str, Operand]:
        return self._cdf_partials(e, op, self._sibling(e, op, "pdf"))

    def logcdf_partials(self, e: Emit, op: Op) -> dict[str, Operand]:
        """pdf / cdf as exp(logpdf - logcdf): finite far in the lower tail."""
        ratio = _f(e, "exp", e.sub(self._sibling(e, op, "logpdf"), op.result))
        return self._cdf_partials(e, op, ratio)

    def declare(self, *methods: str) -> None:
        for method in methods:
            partials = getattr(self, f"{method}_partials")
            refused = self.cdf_refused if "cdf" in method else {}
            lazy_method(f"{self.name}_{method}", ("scipy.stats", self.name, method),
                        self.signature(), jvp=_elementwise_jvp(partials, refused),
                        vjp=_elementwise_vjp(partials, refused), elementwise=True)




def _half(e: Emit, x: Operand) -> Operand:
    return e.mul(_num(0.5), x)


# norm: log f = -z**2/2 - log(sqrt(2 pi))
_Family("norm", (), slope=lambda e, z: e.neg(z),
        shape_partials=()).declare("logpdf", "pdf", "cdf", "logcdf")


def _t_slope(e: Emit, z: Operand, df: Operand) -> Operand:
    """-(df + 1) z / (df + z**2)."""
    return e.neg(e.truediv(e.mul(e.add(df, _num(1.0)), z), e.add(df, e.mul(z, z))))


def _t_df(e: Emit, z: Operand, df: Operand) -> Operand:
    """(digamma((df+1)/2) - digamma(df/2) - 1/df - log1p(z**2/df)) / 2
    + (df + 1) z**2 / (2 df (df + z**2))."""
    z2 = e.mul(z, z)
    digammas = e.sub(_sp(e, "digamma", _half(e, e.add(df, _num(1.0)))),
                     _sp(e, "digamma", _half(e, df)))
    inner = e.sub(e.sub(digammas, e.truediv(_num(1.0), df)),
                  _f(e, "log1p", e.truediv(z2, df)))
    tail = e.truediv(e.mul(e.add(df, _num(1.0)), z2), e.mul(e.mul(_num(2.0), df), e.add(df, z2)))
    return e.add(_half(e, inner), tail)


_Family("t", ("df",), _t_slope, (_t_df,),
        cdf_refused={"df": "t.cdf has no derivative rule in the degrees of freedom df "
                           "(only in x, loc and scale)"}).declare("logpdf", "pdf", "cdf")


_Family("gamma", ("a",),
        slope=lambda e, z, a: e.sub(e.truediv(e.sub(a, _num(1.0)), z), _num(1.0)),
        shape_partials=(lambda e, z, a: e.sub(_f(e, "log", z), _sp(e, "digamma", a)),),
        cdf_refused={"a": "gamma.cdf has no derivative rule in the shape a (only in x, "
                          "loc and scale)"}).declare("logpdf", "pdf", "cdf")


def _beta_slope(e: Emit, z: Operand, a: Operand, b: Operand) -> Operand:
    """(a - 1)/z - (b - 1)/(1 - z)."""
    return e.sub(e.truediv(e.sub(a, _num(1.0)), z),
                 e.truediv(e.sub(b, _num(1.0)), e.sub(_num(1.0), z)))


def _beta_shape(which: int) -> Callable[..., Operand]:
    """log z - digamma(a) + digamma(a + b) (a), log(1 - z) - digamma(b) + ... (b)."""
    def partial(e: Emit, z: Operand, a: Operand, b: Operand) -> Operand:
        log_part = _f(e, "log", z) if which == 0 else _f(e, "log1p", e.neg(z))
        own = _sp(e, "digamma", a if which == 0 else b)
        return e.add(e.sub(log_part, own), _sp(e, "digamma", e.add(a, b)))
    return partial


_Family("beta", ("a", "b"), _beta_slope, (_beta_shape(0), _beta_shape(1)),
        cdf_refused={name: "beta.cdf has no derivative rule in the shapes a and b (only in "
                           "x, loc and scale)" for name in ("a", "b")}).declare(
    "logpdf", "pdf", "cdf")


# ------------------------------------------------------------------ poisson

_COUNTS = {"k": "the count k of poisson is data: it has no derivative",
           "loc": "the shift loc of poisson is a whole number: it has no derivative"}


def _poisson_logpmf(e: Emit, op: Op) -> dict[str, Operand]:
    """d/dmu (k log mu - mu - gammaln(k + 1)) = k/mu - 1, with k shifted by loc."""
    k = e.sub(param(op, "k"), param(op, "loc"))
    return {"mu": e.sub(e.truediv(k, param(op, "mu")), _num(1.0))}


def _poisson_pmf(e: Emit, op: Op) -> dict[str, Operand]:
    return {"mu": e.mul(op.result, _poisson_logpmf(e, op)["mu"])}


for _method, _partials in (("logpmf", _poisson_logpmf), ("pmf", _poisson_pmf)):
    lazy_method(f"poisson_{_method}", ("scipy.stats", "poisson", _method), "k*, mu*, loc*=0",
                jvp=_elementwise_jvp(_partials, _COUNTS),
                vjp=_elementwise_vjp(_partials, _COUNTS), elementwise=True)


# ------------------------------------------------------------------ multivariate_normal
# With the points as rows X (n, d), r = X - mean and S = r P (P the inverse of the
# covariance matrix C), the log density of a point is -r P r / 2 - log det C / 2 - ...:
# its partials are -s in x, s in mean and (s s^T - P) / 2 in C; C is
# `covariance_matrix(cov)`, whose transpose carries that to `cov`.


def _mvn_parts(e: Emit, op: Op) -> tuple[Operand, Operand, Operand, Operand]:
    """The dimension d, the points as rows X, S = (X - mean) P, and P."""
    mean, cov = param(op, "mean"), param(op, "cov")
    dimension = e.call(rts.mvn_dimension, mean, cov)
    points = e.reshape(param(op, "x"), e.call(rts.mvn_points_shape, dimension))
    centred = points if isinstance(mean, Const) and mean.value is None else e.sub(points, mean)
    precision = e.inv(e.helper("covariance_matrix", cov, dimension))
    return dimension, points, e.matmul(centred, precision), precision


def _per_point(e: Emit, op: Op, d: Operand) -> Operand:
    """A derivative of each point's log density, shaped like the result (SciPy squeezes
    it), times the density for pdf."""
    d = e.reshape(d, e.shape(op.result))
    return e.mul(op.result, d) if op.prim.endswith("_pdf") else d


def _mvn_jvp(e: Emit, op: Op, t: list[Operand | None]) -> Operand | None:
    dimension, _, s, precision = _mvn_parts(e, op)
    tangent = {name: t[k] for name in ("x", "mean", "cov")
               if (k := position(op, name)) is not None and k < len(t) and t[k] is not None}
    terms = []
    if "x" in tangent:
        moved = e.reshape(tangent["x"], e.call(rts.mvn_points_shape, dimension))
        terms.append(e.neg(e.sum(e.mul(s, moved), axis=-1)))
    if "mean" in tangent:
        terms.append(e.sum(e.mul(s, tangent["mean"]), axis=-1))
    if "cov" in tangent:
        moved = replay_helper(e, "covariance_matrix", tangent["cov"], dimension)
        quadratic = e.sum(e.mul(e.matmul(s, moved), s), axis=-1)
        trace = e.sum(e.sum(e.mul(precision, moved), axis=-1), axis=-1)
        terms.append(_half(e, e.sub(quadratic, trace)))
    return _per_point(e, op, e.sum_terms(terms)) if terms else None


def _mvn_vjp(e: Emit, op: Op, g: Operand) -> list[Operand | None]:
    _, _, s, precision = _mvn_parts(e, op)
    if op.prim.endswith("_pdf"):
        g = e.mul(g, op.result)
    weights = e.reshape(g, Const((-1, 1)))  # one per point, as a column
    weighted = e.mul(weights, s)
    parts: list[Operand | None] = [None] * len(op.args)
    k = position(op, "x")
    if k is not None:
        parts[k] = e.reshape(e.neg(weighted), e.shape(op.args[k]))
    k = position(op, "mean")
    if k is not None:
        parts[k] = e.helper("unbroadcast", weighted, op.args[k])
    k = position(op, "cov")
    if k is not None:
        outer = e.matmul(e.swap_last(s), weighted)
        matrix_bar = _half(e, e.sub(outer, e.mul(e.sum(g), precision)))
        parts[k] = e.helper("covariance_adjoint", matrix_bar, op.args[k])
    return parts


helper("covariance_matrix", rts.covariance_matrix, (0,),
       lambda e, h, a: [e.helper("covariance_adjoint", h, a[0]), None], jvp=linear_jvp,
       batched=batched_statistics.batched_covariance_matrix)
helper("covariance_adjoint", rts.covariance_adjoint, (0,),
       lambda e, h, a: [e.helper("covariance_matrix", h, e.call(len, a[0])), None],
       jvp=linear_jvp, batched=batched_statistics.batched_covariance_adjoint)
for _method in ("logpdf", "pdf"):
    lazy_method(f"multivariate_normal_{_method}", ("scipy.stats", "multivariate_normal", _method),
                "x*, mean*=None, cov*=1, allow_singular=False", jvp=_mvn_jvp, vjp=_mvn_vjp)


# ------------------------------------------------------------------ dirichlet
# x holds the K components along its first axis (points along the others), alpha (K,):
# log density sum((alpha - 1) log x) + gammaln(sum alpha) - sum(gammaln(alpha)), with
# partials (alpha - 1)/x in x and log x - digamma(alpha) + digamma(sum alpha) in alpha.


def _dirichlet_partials(e: Emit, op: Op) -> tuple[Operand, Operand, Operand]:
    """The partials in x and alpha, and alpha as a column against x's points."""
    x, alpha = param(op, "x"), param(op, "alpha")
    column = e.reshape(alpha, e.call(rts.dirichlet_alpha_shape, alpha, x))
    in_x = e.truediv(e.sub(column, _num(1.0)), x)
    in_alpha = e.add(e.sub(_f(e, "log", x), _sp(e, "digamma", column)),
                     _sp(e, "digamma", e.sum(alpha)))
    return in_x, in_alpha, column


def _dirichlet_jvp(e: Emit, op: Op, t: list[Operand | None]) -> Operand | None:
    in_x, in_alpha, _ = _dirichlet_partials(e, op)
    terms = []
    for name, partial in (("x", in_x), ("alpha", in_alpha)):
        k = position(op, name)
        if k is None or k >= len(t) or t[k] is None:
            continue
        tangent = t[k]
        if name == "alpha":
            shape = e.call(rts.dirichlet_alpha_shape, op.args[k], param(op, "x"))
            tangent = e.reshape(tangent, shape)
        terms.append(e.sum(e.mul(partial, tangent), axis=0))
    return _per_point(e, op, e.sum_terms(terms)) if terms else None


def _dirichlet_vjp(e: Emit, op: Op, g: Operand) -> list[Operand | None]:
    in_x, in_alpha, alpha_column = _dirichlet_partials(e, op)
    if op.prim.endswith("_pdf"):
        g = e.mul(g, op.result)
    g = e.reshape(g, e.call(rts.dirichlet_points_shape, param(op, "x")))
    parts: list[Operand | None] = [None] * len(op.args)
    k = position(op, "x")
    if k is not None:
        parts[k] = e.mul(g, in_x)
    k = position(op, "alpha")
    if k is not None:
        column = e.helper("unbroadcast", e.mul(g, in_alpha), alpha_column)
        parts[k] = e.reshape(column, e.shape(op.args[k]))
    return parts


for _method in ("logpdf", "pdf"):
    lazy_method(f"dirichlet_{_method}", ("scipy.stats", "dirichlet", _method), "x*, alpha*",
                jvp=_dirichlet_jvp, vjp=_dirichlet_vjp)
