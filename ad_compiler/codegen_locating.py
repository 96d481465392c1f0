"""Errors raised in generated code name the user's line they come from: the function's
body runs in a ``try`` whose handler adds a note, found by the comments quoting the
user's statements."""
from __future__ import annotations

from .ir import Function


def _with_locating(inner: list[str]) -> list[str]:
    """The function's lines with its body in ``try``: an exception gets a note naming
    the user's source line before it goes on (no cost unless something is raised)."""
    head = 2 if len(inner) > 1 and inner[1].lstrip().startswith('"""') else 1
    body = ["    " + line if line else line for line in inner[head:]]
    return [*inner[:head], "    try:", *body, "    except BaseException as __adc_error__:",
            "        __adc_locate__(__adc_error__)", "        raise"]


class _Locator:
    """Maps lines of generated code to the user's statements they came from."""

    def __init__(self, filename: str, fn: Function) -> None:
        self.filename = filename
        self.user_file = fn.filename
        self.by_text = {text: lineno for lineno, text in fn.statements.items()}
        self.lines: dict[int, tuple[int, str]] = {}

    def index(self, text: str) -> None:
        current = None
        for number, line in enumerate(text.splitlines(), 1):
            stripped = line.strip()
            if stripped.startswith("# "):
                statement = stripped[2:].removeprefix("adjoint of: ")
                if statement in self.by_text:
                    current = (self.by_text[statement], statement)
            elif current is not None:
                self.lines[number] = current

    def __call__(self, error: BaseException) -> None:
        tb, lineno = error.__traceback__, None
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == self.filename:
                lineno = tb.tb_lineno
            tb = tb.tb_next
        where = self.lines.get(lineno) if lineno is not None else None
        if where is None:
            return
        add_note(error, f"in generated code {self.filename}, line {lineno}, which comes "
                        f"from {self.user_file}, line {where[0]}: {where[1]}")


def add_note(error: BaseException, note: str) -> None:
    """`error.add_note(note)`, once.  Python 3.10 has no notes and its tracebacks show
    none: there, where the message is the exception's one string argument, the note goes
    on a line of its own after it, where later Pythons print notes.  Other exceptions
    (KeyError, whose argument is the key) keep their arguments and get `__notes__`,
    which 3.10 shows only where the exceptiongroup backport is loaded (under pytest)."""
    if hasattr(error, "add_note"):
        if note not in getattr(error, "__notes__", ()):
            error.add_note(note)
        return
    if (len(error.args) == 1 and isinstance(error.args[0], str)
            and type(error).__str__ is BaseException.__str__):
        if note not in error.args[0].splitlines():
            error.args = (f"{error.args[0]}\n{note}",)
        return
    notes = getattr(error, "__notes__", None)
    if not isinstance(notes, list):
        notes = error.__notes__ = []
    if note not in notes:
        notes.append(note)
