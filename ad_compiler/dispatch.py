"""One derivative, compiled again for each signature of inputs it is called with.

Array derivative code compiled for inputs of any shape asks shape questions at run
time (``transforms/specialize.py`` says which).  A `Dispatcher` keys each call by
the shapes and dtypes of its array arguments (and the values of its ints, tuples
and strings), and the first call with a new key runs *probe* code that reports
every value's shape, from which a specialised function is generated, checked
against the probe's result and kept for every later call with that key.  A call
the key cannot describe (keyword arguments, an object of another type) runs the
generic code, which is always correct.
"""
from __future__ import annotations

import dataclasses
import os
import threading
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import depth
from .codegen import Generated, generate
from .ir import Function, walk_ops
from .primitives import draws_anew
from .registry import get
from .transforms.adjoint_dots import adjoint_dots
from .transforms.primal_dots import primal_dots
from .transforms.row_products import row_products
from .transforms.short_axis_layout import short_axis_layout
from .transforms.specialize import specialize
from .transforms.static_shapes import VARIED, Facts, analyse, signature
from .transforms.tape_counters import tape_counters
from .transforms.tape_factors import tape_factors
from .transforms.tape_steps import tape_steps
from .transforms.tape_values import tape_values
from .transforms.unit_seeds import unit_seed_sweep
from .transforms.written_rows import written_rows

_MAX_SIGNATURES = 32  # beyond this many input signatures, calls run the generic code
_MAX_ITEMS = 64
_FLOAT64 = np.dtype(np.float64)
_NDARRAY = np.ndarray


class _Unkeyed(Exception):
    """An argument the dispatcher does not key on."""


@dataclass
class Lazy:
    """How to make a dispatcher's generic code when it is first needed, with what the
    dispatcher answers before then: the function's name, defaults and attributes."""

    make: Callable[[], Callable]
    name: str
    defaults: tuple | None
    attributes: dict[str, Any]

    def __call__(self) -> Callable:
        return self.make()


def _key(value: Any) -> Any:
    t = type(value)
    if t is np.ndarray:
        return (value.shape, value.dtype)
    if t is float:
        return float
    if t is int or t is bool or t is str or value is None:
        return (t, value)
    if t is list or t is tuple or (isinstance(value, tuple) and hasattr(t, "_fields")):
        if len(value) > _MAX_ITEMS:  # (a namedtuple: its class and its fields' keys)
            raise _Unkeyed
        return (t, tuple(map(_key, value)))
    if t is dict:  # parameters by name: the keys in their order, and each value's key
        if len(value) > _MAX_ITEMS:
            raise _Unkeyed
        return (t, tuple([(k, _key(v)) for k, v in value.items()]))
    if isinstance(value, np.ndarray):
        return (t, value.shape, value.dtype)
    if isinstance(value, (np.floating, np.complexfloating)):
        return t
    if isinstance(value, np.generic):
        return (t, value.item())
    raise _Unkeyed


def _keys(args: tuple) -> tuple:
    """The key of each argument (arrays, the common case, without a call each)."""
    return tuple([(a.shape, a.dtype) if type(a) is np.ndarray else _key(a) for a in args])


def _never(*args: Any) -> bool:
    return False


_NO_RECENT = (_never, None, _never, None)  # a dispatcher's before its first calls


def _signature_check(args: tuple, contiguous: tuple = ()) -> Callable[..., bool]:
    """A function of as many arguments as `args`, true exactly when their keys are those
    of `args`: plain arrays of the same shapes and dtypes (a builtin dtype is one object,
    so ``is`` answers; C-contiguous too at the positions `contiguous` names), floats,
    and ints, bools or None of the same values; `_never` for anything else.  Written out
    argument by argument, it answers in about half the time that building and hashing
    the key takes (0.5 against 1 us for six arrays)."""
    names = [f"a{i}" for i in range(len(args))]
    known: dict[str, Any] = {"ndarray": _NDARRAY}
    tests = []
    for i, (name, a) in enumerate(zip(names, args)):
        t = type(a)
        if t is _NDARRAY:
            known[f"shape{i}"], known[f"dtype{i}"] = a.shape, a.dtype
            tests.append(f"type({name}) is ndarray and {name}.shape == shape{i}"
                         f" and {name}.dtype is dtype{i}"
                         + (f" and {name}.flags.c_contiguous" if i in contiguous else ""))
        elif t is float:
            tests.append(f"type({name}) is float")
        elif t is int:
            known[f"value{i}"] = a
            tests.append(f"type({name}) is int and {name} == value{i}")
        elif t is bool or a is None:
            known[f"value{i}"] = a
            tests.append(f"{name} is value{i}")
        else:
            return _never
    # the last arguments first: the data, whose shapes change between calls (a shorter
    # last batch), usually come after the parameters, so a check that fails fails early
    tests.reverse()
    source = f"def check({', '.join(names)}):\n    return {' and '.join(tests) or 'True'}\n"
    exec(compile(source, "<signature check>", "exec"), known)
    return known["check"]


def _for_layout(version: Callable, args: tuple) -> Callable:
    """`version`, or the one it keeps for other layouts where it relies on inputs being
    C-contiguous (`primal_dots()`) and one of `args` there is not."""
    needs = getattr(version, "_adc_contiguous", None)
    if needs and not all(args[i].flags.c_contiguous for i in needs):
        return any_layout(version)
    return version


def any_layout(version: Callable) -> Callable:
    """`version`, or where it relies on C-contiguous inputs, the one that runs for any
    layout (what code exported for other callers may be)."""
    if getattr(version, "_adc_contiguous", None):
        if version._adc_otherwise is None:
            version._adc_otherwise = version._adc_make_otherwise()
        return version._adc_otherwise
    return version


def signature_key(args: tuple) -> Any:
    """What a call with `args` is dispatched on (shapes, dtypes, values of ints and
    tuples), or None for arguments the dispatcher does not key on."""
    try:
        return _keys(args)
    except (_Unkeyed, TypeError):
        return None


def worth_specializing(fn: Function) -> bool:
    """Whether `fn` calls array helpers that specialisation turns into plain NumPy (code
    over lists and numbers, whose helpers it leaves alone, runs without a dispatcher)."""
    if _has_effects(fn):
        return False
    return any(_flag(op.prim) for op in walk_ops(fn.body))


def _has_effects(fn: Function) -> bool:
    """Whether `fn` prints, logs, enters a context manager or draws random numbers: a
    first call runs probe code and a candidate beside the generic code, which would do
    it more than once (and draw other numbers each time)."""
    return any(op.attrs.get("sink") or op.attrs.get("manager") or draws_anew(op)
               for op in walk_ops(fn.body))


def _flag(prim: str) -> bool:
    record = get(prim)
    return record is not None and record.specializable


class Dispatcher:
    """`generic`, behind a table of versions specialised to its inputs' signatures.

    It passes for the generic function where the package looks at one: the code
    object (the cache's key, and what a second derivative differentiates), the
    defaults, globals and closure are the generic code's.  The generic code may be
    given as a function that makes it (`Lazy`): a long derivative is then compiled
    once for its first input signature instead of twice, and the generic code only
    when something needs it (a call the table cannot key, a signature that does not
    specialise, its source, its code object)."""

    def __init__(self, generic: Callable | Lazy, fn: Function, user_globals: dict[str, Any],
                 cells: dict[str, types.CellType]) -> None:
        self._generic: Callable | None = None
        self._make_generic: Lazy | None = None
        if isinstance(generic, Lazy):
            self._make_generic = generic
            self.__dict__.update(generic.attributes)
            self.__name__ = self.__qualname__ = generic.name
            self.__module__ = user_globals.get("__name__")
            self.__defaults__ = generic.defaults
        else:
            self._generic = generic
            self.__dict__.update(generic.__dict__)
            self.__name__ = self.__qualname__ = generic.__name__
            self.__module__ = generic.__module__
            self.__defaults__ = generic.__defaults__
        self.__doc__ = generic.attributes.get("__doc__") if isinstance(generic, Lazy) \
            else generic.__doc__
        self.__globals__ = user_globals
        self._adc_context = (fn, user_globals, cells)
        self._n_params = len(fn.params)
        self._table: dict[Any, Callable] = {}
        self.specializations: dict[Any, str] = {}  # input key -> what runs for it
        # the last two signatures called with, each as a check of arguments and the
        # version for them, last first (one tuple, replaced whole: a thread reads all
        # of it or none; two, so that calls alternating between two signatures, say a
        # batch and a shorter last batch, find theirs), and those of every signature
        # called with twice
        self._recent: tuple = _NO_RECENT
        self._checks: dict[Any, tuple[Callable[..., bool], Callable]] = {}
        self._observed: dict[int, tuple] = {}
        self._probe: Callable | str | None = None  # str: why there is none
        self._lock = threading.RLock()  # one probe run at a time: it fills _observed

    @property
    def _adc_generic(self) -> Callable:
        """The generic code, compiled when first asked for."""
        if self._generic is None:
            with self._lock, depth.collector_paused(), \
                    depth.room(depth.block_nesting(self._adc_context[0].body)):
                if self._generic is None:
                    self._generic = self._make_generic()
        return self._generic

    # what the package reads of the function it stands for: the generic code's
    __code__ = property(lambda self: self._adc_generic.__code__)
    __closure__ = property(lambda self: self._adc_generic.__closure__)
    __wrapped__ = property(lambda self: self._adc_generic)  # inspect.signature shows it
    source = property(lambda self: self._adc_generic.source)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Runs the version for the arguments' signature: first asking whether it is
        one of the last two calls' (`_signature_check()`, cheaper than a key), else by
        key."""
        if kwargs or len(args) != self._n_params:
            full = None if kwargs else self._with_defaults(args)
            if full is None:
                return self._adc_generic(*args, **kwargs)
            args = full
        last_check, last_version, check, version = self._recent
        if last_check(*args):
            return last_version(*args)
        if check(*args):
            self._recent = (check, version, last_check, last_version)
            return version(*args)
        try:  # _keys(args), written out: this runs on every call
            key = tuple([(a.shape, a.dtype) if type(a) is _NDARRAY else _key(a)
                         for a in args])
            version = self._table[key]
        except KeyError:
            return self._first_call(key, args)
        except (_Unkeyed, TypeError):
            return self._adc_generic(*args)
        laid_out = _for_layout(version, args)
        if laid_out is not version:  # (its check has no layout to ask for)
            key, version = (key, "other layouts"), laid_out
        recent = self._checks.get(key)
        if recent is None:
            recent = self._checks[key] = (
                _signature_check(args, getattr(version, "_adc_contiguous", ())), version)
        self._recent = (*recent, last_check, last_version)
        return version(*args)

    def __get__(self, instance: Any, owner: Any = None) -> Any:
        """A method when stored on a class, as functions are."""
        return self if instance is None else types.MethodType(self, instance)

    def _with_defaults(self, args: tuple) -> tuple | None:
        """`args` followed by the defaults of the parameters they leave out (None where
        there are not enough): a call that relies on defaults runs specialised code too."""
        missing, defaults = self._n_params - len(args), self.__defaults__ or ()
        if 0 < missing <= len(defaults):
            return args + tuple(defaults[len(defaults) - missing:])
        return None

    def version_for(self, *args: Any) -> Callable:
        """The function that runs for arguments like these: specialised to their shapes
        where it could be, else the generic code."""
        if len(args) != self._n_params:
            full = self._with_defaults(args)
            if full is None:
                return self._adc_generic
            args = full
        try:
            key = _keys(args)
        except (_Unkeyed, TypeError):
            return self._adc_generic
        if key not in self._table:
            self._first_call(key, args)
        version = self._table.get(key)
        return _for_layout(version, args) if version is not None else self._adc_generic

    def source_for(self, *args: Any) -> str:
        """The code that runs for arguments like these (specialised to their shapes)."""
        return self.version_for(*args).source

    def _record(self, *reported: Any) -> None:
        """What probe code calls with values it has seen: uid, value, uid, value, ..."""
        for uid, value in zip(reported[::2], reported[1::2]):
            sig = signature(value)
            if self._observed.setdefault(uid, sig) != sig:
                self._observed[uid] = VARIED

    def _build(self, ir: Function, probe: Callable | None = None) -> Generated:
        _, user_globals, cells = self._adc_context
        return generate(ir, self.__name__, user_globals=user_globals, closure_cells=cells,
                        probe=probe)

    def _first_call(self, key: Any, args: tuple) -> Any:
        with self._lock:
            if key in self._table:  # another thread got here first
                return _for_layout(self._table[key], args)(*args)
            with depth.collector_paused(), \
                    depth.room(depth.block_nesting(self._adc_context[0].body)):
                return self._specialise(key, args)

    def _specialise(self, key: Any, args: tuple) -> Any:
        if len(self._table) >= _MAX_SIGNATURES:
            return self._adc_generic(*args)
        fn = self._adc_context[0]
        if self._probe is None and _has_effects(fn):  # a first call runs it twice or more
            self._probe = "generic: it prints or enters a context manager"
        if self._probe is None:
            try:
                self._probe = self._build(fn, probe=self._record).fn
            except (SyntaxError, RecursionError) as error:
                # probe code reports each value after its statement, so a chain of a
                # hundred elifs nests a hundred levels deep, more than Python allows
                self._probe = f"generic: too deeply nested to probe ({error})"
        if isinstance(self._probe, str):
            self._table[key] = self._adc_generic
            self.specializations[key] = self._probe
            return self._adc_generic(*args)
        self._observed.clear()
        try:
            result = self._probe(*args)
        except Exception as error:
            result = self._adc_generic(*args)  # raises the error as the generic code does
            if _strict():
                raise AssertionError("the probe code failed where the generic code "
                                     "did not") from error
            return result
        chosen, note = None, "generic: no shape question has a static answer"
        try:
            facts = analyse(fn, self._observed)
            special = self._specialized(fn, facts)
            # factors a backward loop reads off its tape, and products of a loop's rows
            # with one matrix, made for every step at once: in the code that runs,
            # never in the code a derivative differentiates
            runs = _made_once(special or fn, facts)
            if runs is not None and special is None:
                special = fn
            if special is not None:
                candidate = self._candidate(runs or special, special, fn, facts)
                if _same(_for_layout(candidate, args)(*args), result):
                    chosen, note = candidate, "specialised"
                else:
                    note = "generic: the specialised code disagreed with the generic code"
                    if _strict():
                        raise AssertionError(f"{note}:\n{candidate.source}")
        except Exception as error:  # specialisation is an optimisation: never fatal
            if _strict():
                raise
            note = f"generic: specialisation failed ({type(error).__name__}: {error})"
        if chosen is None:
            chosen = self._adc_generic
            if _strict() and not _same(chosen(*args), result):
                raise AssertionError("the probe code disagreed with the generic code")
        self._table[key] = chosen
        self.specializations[key] = note
        return result

    def _candidate(self, runs: Function, special: Function, fn: Function,
                   facts: Facts) -> Callable:
        """`runs` compiled, with what a second derivative differentiates: `special`, or
        the per-step form of the adjoints `fn` sums after a loop; where `runs` relies on
        C-contiguous inputs, with the version for other layouts (`_for_layout()`)."""
        generated = self._build(runs)
        candidate = generated.fn
        candidate.source = generated.source
        per_step = getattr(fn, "per_step", None)
        candidate._adc_function = special if per_step is None else (
            specialize(per_step, facts) or per_step)
        candidate._adc_rules_version = self._adc_rules_version
        needs = getattr(runs, "contiguous_inputs", ())
        if needs:  # (compiled when a call first needs it)
            candidate._adc_contiguous = needs
            candidate._adc_otherwise = None
            candidate._adc_make_otherwise = lambda: self._built_later(
                runs.layout_free, special, fn, facts)
        return candidate

    def _built_later(self, runs: Function, special: Function, fn: Function,
                     facts: Facts) -> Callable:
        with self._lock, depth.collector_paused(), \
                depth.room(depth.block_nesting(self._adc_context[0].body)):
            return self._candidate(runs, special, fn, facts)

    def _specialized(self, fn: Function, facts: Facts) -> Function | None:
        """`fn` rewritten for inputs with these facts, or None where nothing changes."""
        return specialize(fn, facts)


class UnitSeedDispatcher(Dispatcher):
    """A batched sweep (vector-mode JVP or batched pullback) that is only ever called
    with the identity as its last argument, the seed of every unit direction of a
    vector (a Jacobian's): its versions carry that seed as a diagonal, never built
    (`unit_seed_sweep()`), and those that no longer read it are marked
    ``_adc_seed_unused``, so the caller may pass None for it."""

    def _specialized(self, fn: Function, facts: Facts) -> Function | None:
        swept = unit_seed_sweep(fn, facts, fn.params[-1])
        return specialize(swept or fn, facts) or swept

    def seedless(self, args: tuple, n: int, key: tuple | None = None) -> Callable | None:
        """The version for `args` (whose `signature_key()` is `key`, where known) and the
        identity of n directions if it reads no seed (called with None for it), else
        None: the caller builds the seed and calls."""
        try:
            key = (*(_keys(args) if key is None else key), ((n, n), _FLOAT64))
        except (_Unkeyed, TypeError):
            return None
        version = self._table.get(key)
        if not getattr(version, "_adc_seed_unused", False):
            return None
        return _for_layout(version, (*args, None))  # (a seed it never reads: no layout)

    def _specialise(self, key: Any, args: tuple) -> Any:
        result = super()._specialise(key, args)
        version = self._table.get(key)
        if version is not None and not is_generic(self, version):
            special = version._adc_function
            seed = special.params[-1]
            blocks = [special.body, *(b for op in walk_ops(special.body) for b in op.blocks)]
            version._adc_seed_unused = not any(
                a is seed for op in walk_ops(special.body) for a in op.args) and not any(
                y is seed for block in blocks for y in block.yields)
        return result


def unit_seeded(compiled: Callable) -> UnitSeedDispatcher:
    """The `UnitSeedDispatcher` of a compiled batched sweep, made once and kept on it."""
    made = getattr(compiled, "_adc_unit_seeded", None)
    if made is None:
        if isinstance(compiled, Dispatcher):
            fn, user_globals, cells = compiled._adc_context
            generic = compiled._adc_generic
        else:
            fn, user_globals, generic = compiled._adc_function, compiled.__globals__, compiled
            cells = dict(zip(generic.__code__.co_freevars, generic.__closure__ or ()))
        made = UnitSeedDispatcher(generic, fn, user_globals, cells)
        compiled._adc_unit_seeded = made
    return made


def is_generic(f: Callable, version: Callable) -> bool:
    """Whether `version`, which ``f.version_for`` chose, is `f`'s generic code (asked
    without compiling a dispatcher's generic code: until it is, no version is it)."""
    if isinstance(f, Dispatcher):
        return version is f._generic
    return version is getattr(f, "_adc_generic", None)


def _strict() -> bool:
    """AD_COMPILER_STRICT_SPECIALIZE=1 (the test suite) makes a failed specialisation
    an error instead of a quiet fallback to the generic code."""
    return os.environ.get("AD_COMPILER_STRICT_SPECIALIZE", "") not in ("", "0")


def _made_once(fn: Function, facts: Facts) -> Function | None:
    """`fn` with what its loops compute step by step made once before the loop, read
    where a loop wrote it or popped where the forward loop saved it (`written_rows()`,
    `tape_factors()`, `tape_steps()`, `tape_counters()`, `tape_values()`,
    `row_products()`), arithmetic over a short last axis made with that axis first
    (`short_axis_layout()`), all where that gives the same values, and products of
    derivative values as ``a.dot(b)`` (`adjoint_dots()`), and those of C-contiguous
    values too where that gives the same numbers (`primal_dots()`); None where none
    applies."""
    made = None
    for rewrite in (written_rows, tape_factors, tape_steps, tape_counters, tape_values,
                    row_products, short_axis_layout, adjoint_dots, primal_dots):
        made = rewrite(made or fn, facts) or made
    return made


def _same(a: Any, b: Any) -> bool:
    """Whether two results agree in structure, type, shape, dtype and (closely) value."""
    if isinstance(a, (tuple, list)) or isinstance(b, (tuple, list)):
        return (type(a) is type(b) and len(a) == len(b)
                and all(_same(x, y) for x, y in zip(a, b)))
    if isinstance(a, dict) or isinstance(b, dict):
        return (type(a) is type(b) and list(a) == list(b)
                and all(_same(a[k], b[k]) for k in a))
    if dataclasses.is_dataclass(a) and not isinstance(a, type):
        return type(a) is type(b) and all(
            _same(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a))
    if type(a) is not type(b) or np.shape(a) != np.shape(b):
        return False
    if isinstance(a, np.ndarray) and a.dtype != b.dtype:
        return False
    try:
        return bool(np.allclose(a, b, rtol=1e-6, atol=1e-12, equal_nan=True))
    except TypeError:
        try:
            return a is b or bool(a == b)
        except (TypeError, ValueError):  # (an object holding arrays: not compared)
            return False
