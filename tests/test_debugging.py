"""Debugging generated code: errors name the user's line; files for external debuggers."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import traceback
from pathlib import Path

import pytest
from support import load_fixture

import ad_compiler as adc

D = load_fixture("debugging")
FIXTURE = Path(D.__file__).resolve()


def _fixture_line(text: str) -> int:
    return next(n for n, line in enumerate(FIXTURE.read_text().splitlines(), 1) if text in line)


def _notes_shown(error: BaseException) -> list[str]:
    """The lines of a printed traceback that name a line of generated code."""
    shown = "".join(traceback.format_exception(error))
    return [line for line in shown.splitlines() if line.startswith("in generated code ")]


def test_an_error_in_generated_code_notes_the_users_line():
    g = adc.grad(D.root_of_log, wrt=(0, 1))
    with pytest.raises(ValueError, match="math domain error") as info:
        g(2.0, -1.0)  # sqrt of a negative number in the adjoint of line 7
    # what the user sees on every Python: the note on the line after the message
    shown = "".join(traceback.format_exception(info.value)).splitlines()
    assert shown[-2] == "ValueError: math domain error"
    note = shown[-1]
    assert note.startswith("in generated code <ad_compiler:root_of_log_grad:")
    assert note.endswith(f"which comes from {FIXTURE}, line {_fixture_line('math.sqrt(z)')}: "
                         "w = math.sqrt(z)")
    assert _notes_shown(info.value) == [note]
    if sys.version_info >= (3, 11):  # a note, the message as it was
        assert info.value.__notes__ == [note]
        assert str(info.value) == "math domain error"
    else:  # Python 3.10 has no notes: the message carries it
        assert str(info.value) == f"math domain error\n{note}"


def test_an_error_whose_argument_is_not_its_message_keeps_it():
    """KeyError's argument is the key: it stays as it was, and the note is in __notes__
    (printed from Python 3.11 on)."""
    g = adc.grad(D.weighted, wrt=1)
    with pytest.raises(KeyError) as info:
        g({"v": 1.0}, 2.0)
    assert info.value.args == ("w",)
    (note,) = info.value.__notes__
    assert note.startswith("in generated code <ad_compiler:weighted_grad:")
    assert note.endswith(f"{FIXTURE}, line {_fixture_line('params[')}: w = params[\"w\"]")
    if sys.version_info >= (3, 11):
        assert _notes_shown(info.value) == [note]


def test_the_note_is_added_once_through_nested_derivatives():
    hvp_point = (2.0, -1.0)
    inner = adc.grad(D.root_of_log, wrt=0)
    with pytest.raises(ValueError) as info:
        adc.grad(inner, wrt=0)(*hvp_point)
    notes = _notes_shown(info.value)
    assert len(notes) == len(set(notes)) >= 1


def test_keep_dir_writes_generated_code_to_files(tmp_path):
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(FIXTURE.parent)!r})
        import debugging
        import ad_compiler as adc
        g = adc.grad(debugging.root_of_log, wrt=(0, 1))
        print(g.__code__.co_filename)
        print(g(2.0, 3.0))
        """)
    env = {**os.environ, "AD_COMPILER_KEEP_DIR": str(tmp_path / "generated")}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    filename = result.stdout.splitlines()[0]
    assert filename.startswith(str(tmp_path / "generated")) and filename.endswith(".py")
    text = Path(filename).read_text()
    assert "def root_of_log_grad(x, y):" in text and "# adjoint of: w = math.sqrt(z)" in text
