"""docs/architecture.md stays true to the code: every path and every name it quotes
in backticks exists.

What counts as a name, by how it is written in the document:

* ``ad_compiler/...`` (and ``tests/...``, ``examples/...``, ``docs/...``): a path that
  must exist;
* ``name()``: a function or class defined in some module of the package;
* ``Owner.name()``: ``name`` defined in the module ``Owner`` (its file's stem) or in
  the class ``Owner``;
* ``CamelCase``: a class defined in the package (Python's own names excepted);
* ``UPPER_CASE``: a module-level name of the package, or an environment variable its
  source reads.
"""
from __future__ import annotations

import builtins
import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest

import ad_compiler

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "architecture.md"
PACKAGE = Path(ad_compiler.__file__).parent

_PATH = re.compile(r"^(ad_compiler|tests|examples|docs|benchmarks)/[\w./-]*$")
_CALL = re.compile(r"^(?:(?P<owner>[A-Za-z_]\w*)\.)?(?P<name>[A-Za-z_]\w*)\(\)$")
_CLASS = re.compile(r"^_?[A-Z]\w*[a-z]\w*$")
_CONSTANT = re.compile(r"^_?[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$|^_?[A-Z]{4,}$")


def _quoted() -> list[str]:
    """Every backticked span of the document, outside fenced code blocks."""
    text = DOC.read_text(encoding="utf-8")
    prose = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return re.findall(r"`([^`\n]+)`", prose)


def _modules() -> dict[str, object]:
    """Every module of the package, by its dotted name and by its file's stem
    (``tensor_rules``; for a stem two packages share, the first found)."""
    found = {"ad_compiler": ad_compiler}
    for info in pkgutil.walk_packages(ad_compiler.__path__, "ad_compiler."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        found[info.name] = module  # two packages may each have a core.py
        found.setdefault(info.name.rsplit(".", 1)[-1], module)
    return found


MODULES = _modules()


def _defined_here(module: object) -> dict[str, object]:
    """Names a module defines itself (not what it imports), functions and classes."""
    own = {}
    for name, value in vars(module).items():
        if getattr(value, "__module__", None) == module.__name__:
            own[name] = value
    return own


def _classes() -> dict[str, type]:
    return {name: value for module in MODULES.values()
            for name, value in _defined_here(module).items() if inspect.isclass(value)}


def _is_defined_function(name: str) -> bool:
    return any(callable(value) for module in MODULES.values()
               for n, value in _defined_here(module).items() if n == name)


def _has_method(owner: str, name: str) -> bool:
    module = MODULES.get(owner)
    if module is not None:
        return callable(getattr(module, name, None))
    cls = _classes().get(owner)
    if cls is None:
        return False
    return any(name in vars(klass) for klass in cls.__mro__)


def _is_constant(name: str) -> bool:
    if any(name in vars(module) for module in MODULES.values()):
        return True
    source = "\n".join(p.read_text(encoding="utf-8") for p in PACKAGE.rglob("*.py"))
    return name.startswith("AD_COMPILER_") and re.search(rf"\b{name}\b", source) is not None


QUOTED = _quoted()


def test_the_document_quotes_paths_and_names():
    """The patterns below find what they should: a change to how the document writes
    names would otherwise leave it unchecked."""
    assert sum(bool(_PATH.match(q)) for q in QUOTED) >= 30
    assert sum(bool(_CALL.match(q)) for q in QUOTED) >= 60
    assert sum(bool(_CLASS.match(q)) for q in QUOTED) >= 20
    assert sum(bool(_CONSTANT.match(q)) for q in QUOTED) >= 10


@pytest.mark.parametrize("path", sorted({q for q in QUOTED if _PATH.match(q)}))
def test_every_quoted_path_exists(path):
    assert (ROOT / path).exists(), f"docs/architecture.md names {path}, which does not exist"


@pytest.mark.parametrize("call", sorted({q for q in QUOTED if _CALL.match(q)}))
def test_every_quoted_function_exists(call):
    match = _CALL.match(call)
    owner, name = match["owner"], match["name"]
    if owner is None:
        assert _is_defined_function(name), f"no function or class {name} in ad_compiler"
    else:
        assert _has_method(owner, name), f"{owner} has no {name}"


@pytest.mark.parametrize("name", sorted({q for q in QUOTED if _CLASS.match(q)
                                         and not hasattr(builtins, q)}))
def test_every_quoted_class_exists(name):
    assert name in _classes(), f"no class {name} in ad_compiler"


@pytest.mark.parametrize("name", sorted({q for q in QUOTED if _CONSTANT.match(q)}))
def test_every_quoted_table_or_setting_exists(name):
    assert _is_constant(name), f"no module-level name or environment variable {name}"


def test_the_checks_catch_a_name_that_does_not_exist():
    """The checks can fail: names the package does not define are reported."""
    assert not _is_defined_function("differentiate_everything")
    assert not _has_method("rules", "no_such_rule")
    assert not _has_method("Builder", "no_such_method")
    assert "NoSuchClass" not in _classes()
    assert not _is_constant("NO_SUCH_TABLE")
    assert not (ROOT / "ad_compiler/no_such_module.py").exists()
