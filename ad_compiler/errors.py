"""The one exception users see when a function cannot be differentiated."""
from __future__ import annotations


class ADCompileError(Exception):
    """Code the compiler cannot differentiate, located in the user's source.

    The message names the file, line and column, shows the source line with a caret
    under the offending construct, says what is unsupported and what to do instead.
    """

    def __init__(
        self,
        what: str,
        *,
        hint: str = "",
        filename: str | None = None,
        lineno: int | None = None,
        col: int | None = None,
        source_line: str | None = None,
    ) -> None:
        self.what = what
        self.hint = hint
        self.filename = filename
        self.lineno = lineno
        self.col = col
        self.source_line = source_line
        super().__init__(self._format())

    def _format(self) -> str:
        parts = []
        if self.filename is not None:
            where = f'File "{self.filename}"'
            if self.lineno is not None:
                where += f", line {self.lineno}"
                if self.col is not None:
                    where += f", column {self.col + 1}"
            parts.append(where)
        if self.source_line:
            stripped = self.source_line.rstrip("\n")
            indent = len(stripped) - len(stripped.lstrip())
            parts.append("    " + stripped.strip())
            if self.col is not None and self.col >= indent:
                parts.append("    " + " " * (self.col - indent) + "^")
        parts.append(self.what)
        if self.hint:
            parts.append("hint: " + self.hint)
        return "\n".join(parts)

    def one_line(self) -> str:
        """The error in one line, for a command line's stderr."""
        loc = ""
        if self.filename is not None:
            loc = f"{self.filename}:{self.lineno or '?'}:{(self.col or 0) + 1}: "
        return f"{loc}{self.what}" + (f" ({self.hint})" if self.hint else "")


def no_rule_hint(callee: str, nargs: int, example: str, rewrite: str = "") -> str:
    """The three ways out of a call that has no derivative rule: a rule of one's own, no
    derivative through it (`example` shows the call with its argument wrapped), or
    other functions (`rewrite` suggests some)."""
    names = ["x"] if nargs <= 1 else [f"x{k}" for k in range(nargs)]
    partials = "<dy/dx>" if nargs <= 1 else "(" + ", ".join(f"<dy/d{n}>" for n in names) + ")"
    return (f"register a rule with adc.defpartials({callee}, lambda y, {', '.join(names)}: "
            f"{partials}) if it is an elementwise scalar function; or wrap the argument in "
            f"adc.stop_gradient(...) if no derivative should flow through it, as in {example}; "
            f"or rewrite it with functions that have derivative rules{rewrite}")
