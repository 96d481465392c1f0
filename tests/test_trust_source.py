"""Derivatives follow the code that runs: a module edited and reloaded, a file edited
on disk without reloading, a helper redefined in a notebook, defaults changed."""
from __future__ import annotations

import importlib
import linecache
import math
import os
import sys
import textwrap
import uuid

import pytest

import ad_compiler as adc
from ad_compiler import cache as adc_cache


@pytest.fixture(autouse=True)
def empty_cache():
    """Equal code in another test's module would reuse that test's derivative."""
    adc_cache.clear()


@pytest.fixture
def module_dir(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)  # reload reads the new text
    return tmp_path


class EditableModule:
    """A module written to a file that a test can rewrite, import and reload."""

    def __init__(self, directory, text: str) -> None:
        self.name = f"adc_edited_{uuid.uuid4().hex[:10]}"
        self.path = directory / f"{self.name}.py"
        self.version = 0
        self.write(text)
        importlib.invalidate_caches()
        self.module = importlib.import_module(self.name)

    def write(self, text: str) -> None:
        self.path.write_text(textwrap.dedent(text))
        self.version += 1  # a later modification time, as an editor saving would give
        stamp = 1_700_000_000 + 10 * self.version
        os.utime(self.path, (stamp, stamp))

    def reload(self):
        self.module = importlib.reload(self.module)
        return self.module


SQUARE = """
import math

def f(x):
    return x * x

def g(x):
    return math.sin(x)
"""

CUBE = """
import math

def f(x):
    return x * x * x

def g(x):
    return math.sin(x)
"""


def test_reload_after_an_edit_differentiates_the_new_body(module_dir):
    edited = EditableModule(module_dir, SQUARE)
    assert adc.grad(edited.module.f)(3.0) == 6.0
    edited.write(CUBE)
    f = edited.reload().f
    assert f(3.0) == 27.0  # the new function runs
    assert adc.grad(f)(3.0) == pytest.approx(27.0, rel=1e-15)
    assert adc.grad(f, mode="forward")(3.0) == pytest.approx(27.0, rel=1e-15)
    assert adc.value_and_grad(f)(2.0) == pytest.approx((8.0, 12.0), rel=1e-15)
    assert adc.jvp(f, (2.0,), (1.0,)) == pytest.approx((8.0, 12.0), rel=1e-15)
    assert adc.hessian(f)(2.0) == pytest.approx(12.0, rel=1e-14)


def test_reload_of_an_edit_that_moves_the_function(module_dir):
    edited = EditableModule(module_dir, SQUARE)
    assert adc.grad(edited.module.g)(0.5) == pytest.approx(math.cos(0.5))
    edited.write("\n\n# a comment moves everything down\n" + CUBE.replace(
        "math.sin(x)", "math.sin(x) * x"))
    g = edited.reload().g
    assert adc.grad(g)(0.5) == pytest.approx(math.cos(0.5) * 0.5 + math.sin(0.5), rel=1e-15)


def test_file_edited_without_reload_differentiates_the_function_in_memory(module_dir):
    edited = EditableModule(module_dir, SQUARE)
    f_in_memory = edited.module.f
    assert adc.grad(edited.module.g)(0.2) == pytest.approx(math.cos(0.2))  # reads the file
    edited.write(CUBE)  # not reloaded: f still squares
    assert f_in_memory(3.0) == 9.0
    assert adc.grad(f_in_memory)(3.0) == pytest.approx(6.0, rel=1e-15)
    assert adc.grad(f_in_memory, mode="forward")(3.0) == pytest.approx(6.0, rel=1e-15)


def test_file_edited_without_reload_and_never_read_is_refused(module_dir):
    edited = EditableModule(module_dir, SQUARE)
    edited.write(CUBE)
    linecache.checkcache(str(edited.path))  # nothing holds the text f was made from
    with pytest.raises(adc.ADCompileError, match="edited after the function was defined") as info:
        adc.grad(edited.module.f)
    assert info.value.filename == str(edited.path)
    assert info.value.lineno == 4
    assert "reload" in info.value.hint
    edited.reload()  # and then it works, with the new body
    assert adc.grad(edited.module.f)(2.0) == pytest.approx(12.0, rel=1e-15)


def test_file_edited_so_that_the_line_holds_something_else_is_refused(module_dir):
    edited = EditableModule(module_dir, SQUARE)
    edited.write("\n\n\n" + SQUARE)  # f's line is now blank
    linecache.checkcache(str(edited.path))
    with pytest.raises(adc.ADCompileError, match="source of f"):
        adc.grad(edited.module.f)


def test_reload_that_only_changes_a_default_uses_the_new_default(module_dir):
    edited = EditableModule(module_dir, "def f(x, a=2.0):\n    return a * x * x\n")
    assert adc.grad(edited.module.f)(1.0) == pytest.approx(4.0)
    edited.write("def f(x, a=3.0):\n    return a * x * x\n")  # the same code object
    f = edited.reload().f
    assert adc.grad(f)(1.0) == pytest.approx(6.0, rel=1e-15)
    assert adc.value_and_grad(f)(1.0) == pytest.approx((3.0, 6.0), rel=1e-15)


HELPER_TWICE = """
def helper(t):
    return t * t

def f(x):
    return helper(x) + x
"""


def test_reload_that_only_changes_a_helper_rebuilds_the_caller(module_dir):
    edited = EditableModule(module_dir, HELPER_TWICE)
    assert adc.grad(edited.module.f)(2.0) == pytest.approx(5.0)
    # f's text and lines are unchanged: its code object is equal to the old one
    edited.write(HELPER_TWICE.replace("return t * t", "return t * t * t"))
    f = edited.reload().f
    assert adc.grad(f)(2.0) == pytest.approx(13.0, rel=1e-15)


def test_helper_whose_code_is_swapped_in_place_is_inlined_again(module_dir):
    """IPython's autoreload updates a function in place: same object, new __code__."""
    edited = EditableModule(module_dir, HELPER_TWICE)
    module = edited.module
    assert adc.grad(module.f)(2.0) == pytest.approx(5.0)
    edited.write(HELPER_TWICE.replace("return t * t", "return 3.0 * t"))
    fresh = importlib.util.spec_from_file_location("adc_fresh_copy", edited.path)
    new_module = importlib.util.module_from_spec(fresh)
    fresh.loader.exec_module(new_module)
    module.helper.__code__ = new_module.helper.__code__
    assert module.f(2.0) == 8.0
    assert adc.grad(module.f)(2.0) == pytest.approx(4.0, rel=1e-15)
    assert adc.grad(module.f, mode="forward")(2.0) == pytest.approx(4.0, rel=1e-15)


# ------------------------------------------------------------------ notebook cells


def run_cell(monkeypatch, namespace: dict, text: str, number: int) -> None:
    """Run a cell as IPython does: its text in linecache under a name of its own."""
    text = textwrap.dedent(text)
    name = f"<ipython-input-{number}-{uuid.uuid4().hex[:8]}>"
    monkeypatch.setitem(linecache.cache, name, (len(text), None, text.splitlines(True), name))
    exec(compile(text, name, "exec"), namespace)


def test_grad_called_again_after_a_helper_cell_is_rerun_uses_the_new_helper(monkeypatch):
    ns = {"__name__": "__main__"}
    run_cell(monkeypatch, ns, "import math\ndef helper(t):\n    return math.sin(t)\n", 1)
    run_cell(monkeypatch, ns, "def f(x):\n    return helper(x) * x\n", 2)
    old_gradient = adc.grad(ns["f"])
    x = 0.7
    assert old_gradient(x) == pytest.approx(math.cos(x) * x + math.sin(x), rel=1e-15)
    run_cell(monkeypatch, ns, "def helper(t):\n    return math.exp(t)\n", 3)
    assert ns["f"](x) == math.exp(x) * x
    new_gradient = adc.grad(ns["f"])
    assert new_gradient(x) == pytest.approx(math.exp(x) * (x + 1.0), rel=1e-15)
    assert adc.grad(ns["f"], mode="forward")(x) == pytest.approx(math.exp(x) * (x + 1.0),
                                                                rel=1e-15)
    assert adc.hessian(ns["f"])(x) == pytest.approx(math.exp(x) * (x + 2.0), rel=1e-14)
    # a gradient object built earlier inlined the helper it was built with (documented)
    assert old_gradient(x) == pytest.approx(math.cos(x) * x + math.sin(x), rel=1e-15)


def test_rerunning_the_same_cell_after_a_global_value_changed(monkeypatch):
    """Values are read when the generated code runs, so no rebuild is needed."""
    ns = {"__name__": "__main__"}
    run_cell(monkeypatch, ns, "scale = 2.0\ndef f(x):\n    return scale * x * x\n", 1)
    gradient = adc.grad(ns["f"])
    assert gradient(1.5) == pytest.approx(6.0)
    run_cell(monkeypatch, ns, "scale = 5.0\n", 2)
    assert gradient(1.5) == pytest.approx(15.0, rel=1e-15)
    assert adc.grad(ns["f"])(1.5) == pytest.approx(15.0, rel=1e-15)


# ------------------------------------------------------------------ code that matches its text


def asserting_square(x):
    assert x > 0.0
    return x * x


def test_a_function_pytest_rewrote_is_refused_at_its_assert():
    with pytest.raises(adc.ADCompileError, match="'assert' cannot be differentiated") as info:
        adc.grad(asserting_square)
    assert info.value.lineno == asserting_square.__code__.co_firstlineno + 1
    assert info.value.source_line.strip() == "assert x > 0.0"


def test_future_flags_and_lambdas_on_one_line_still_match(module_dir):
    edited = EditableModule(module_dir, """
        from __future__ import annotations
        import math

        def annotated(x: float) -> float:
            return math.sin(x) * x

        first, second = (lambda t: t * t), (lambda t: t * t * t)
        """)
    m = edited.module
    x = 0.8
    assert adc.grad(m.annotated)(x) == pytest.approx(math.cos(x) * x + math.sin(x), rel=1e-15)
    assert adc.grad(m.first)(x) == pytest.approx(2 * x, rel=1e-15)
    assert adc.grad(m.second)(x) == pytest.approx(3 * x * x, rel=1e-15)


SHARED_HELPER = """
import numpy as np

def helper(t):
    return np.sum(t * t)
"""

USES_SHARED_HELPER = """
import numpy as np
from {shared} import helper

def f(x):
    return helper(x) + np.sum(x)
"""


def test_equal_code_in_another_module_notices_a_helper_swapped_in_place(module_dir):
    """Two modules with the same text share the derivative of f (equal code objects,
    rebound to each module's globals); the copy still notices its helper's new code."""
    import numpy as np

    from ad_compiler.dispatch import Dispatcher

    shared = EditableModule(module_dir, SHARED_HELPER)
    text = USES_SHARED_HELPER.format(shared=shared.name)
    first = EditableModule(module_dir, text).module
    second = EditableModule(module_dir, text).module
    x = np.array([0.5, -1.0, 2.0])
    assert isinstance(adc.grad(first.f), Dispatcher)
    np.testing.assert_allclose(adc.grad(second.f)(x), 2 * x + 1, rtol=1e-15)  # rebound
    shared.write(SHARED_HELPER.replace("np.sum(t * t)", "np.sum(t * t * t)"))
    replacement = importlib.util.spec_from_file_location("adc_shared_copy", shared.path)
    fresh = importlib.util.module_from_spec(replacement)
    replacement.loader.exec_module(fresh)
    shared.module.helper.__code__ = fresh.helper.__code__  # as autoreload does
    for module in (second, first):
        np.testing.assert_allclose(adc.grad(module.f)(x), 3 * x * x + 1, rtol=1e-15)
