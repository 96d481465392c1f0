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


def test_an_error_in_generated_code_notes_the_users_line():
    g = adc.grad(D.root_of_log, wrt=(0, 1))
    with pytest.raises(ValueError, match="math domain error") as info:
        g(2.0, -1.0)  # sqrt of a negative number in the adjoint of line 7
    notes = getattr(info.value, "__notes__", [])
    assert len(notes) == 1
    lineno = next(n for n, text in enumerate(FIXTURE.read_text().splitlines(), 1)
                  if "math.sqrt(z)" in text)
    assert f"{FIXTURE}, line {lineno}: w = math.sqrt(z)" in notes[0]
    assert "<ad_compiler:root_of_log_grad:" in notes[0]
    shown = "".join(traceback.format_exception(info.value))
    assert "math.sqrt(" in shown  # the generated line itself, from linecache


def test_the_note_is_added_once_through_nested_derivatives():
    hvp_point = (2.0, -1.0)
    inner = adc.grad(D.root_of_log, wrt=0)
    with pytest.raises(ValueError) as info:
        adc.grad(inner, wrt=0)(*hvp_point)
    notes = info.value.__notes__
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
