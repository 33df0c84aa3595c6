"""Source text, scopes and errors shared by the TensorIR and graph parsers.

A :class:`Source` is the text being parsed with where it came from (file and
first line), so every :class:`~mlc.errors.ParseError` names the line and
column of the user's file, not of the snippet.
"""
from __future__ import annotations

import ast
import inspect
import linecache
import textwrap
from dataclasses import dataclass, field

from ..errors import ParseError

__all__ = ["Source", "Scopes", "attr_path"]


@dataclass
class Source:
    """Text to parse; ``line_offset`` is added to ast line numbers in errors.

    ``env`` holds the Python names visible where the text was written (the
    decorated function's globals and closure), used for constants and for
    recognising the ``T``/``I``/``R`` aliases.
    """
    text: str
    filename: str = "<string>"
    line_offset: int = 0
    col_offset: int = 0
    env: dict = field(default_factory=dict)

    @staticmethod
    def of(obj, line: int | None = None) -> Source:
        """The source of a decorated function or class, with its globals and closure. For a
        class, ``line`` (one of its lines: where its decorator ran) picks it among classes
        of the same name in the file, which ``inspect`` confuses (it finds the first)."""
        try:
            lines, start = _class_lines(obj, line) if inspect.isclass(obj) and line else (None, None)
            if lines is None:
                lines, start = inspect.getsourcelines(obj)
            filename = inspect.getsourcefile(obj) or "<unknown>"
        except (OSError, TypeError) as err:
            raise ParseError(f"cannot read the source of {getattr(obj, '__qualname__', obj)!r} "
                             f"({err}); define it in a file, or pass the text to mlc.parse") from None
        raw = "".join(lines)
        text = textwrap.dedent(raw)
        indent = len(lines[0]) - len(lines[0].lstrip()) if lines else 0
        module = inspect.getmodule(obj)
        env = dict(getattr(obj, "__globals__", None) or (vars(module) if module else {}))
        code = getattr(obj, "__code__", None)
        if code is not None and obj.__closure__:
            for name, cell in zip(code.co_freevars, obj.__closure__):
                try:
                    env[name] = cell.cell_contents
                except ValueError:  # an empty cell: the name is not bound yet
                    pass
        return Source(text, filename, start - 1, indent, env)

    def tree(self) -> ast.Module:
        try:
            return ast.parse(self.text)
        except SyntaxError as err:
            raise ParseError(f"invalid Python syntax: {err.msg}", self.filename,
                             (err.lineno or 1) + self.line_offset,
                             max((err.offset or 1) - 1, 0) + self.col_offset,
                             self.line(err.lineno or 1)) from None
        except RecursionError as err:  # Python's own parser, building the tree of a deep expression
            raise ParseError(f"an expression is nested too deeply for Python's parser ({err}); split it "
                             "into statements that store partial results (a few thousand operators "
                             "each at most)", self.filename, 1 + self.line_offset, self.col_offset,
                             self.line(1)) from None

    def line(self, lineno: int) -> str:
        lines = self.text.splitlines()
        text = lines[lineno - 1] if 0 < lineno <= len(lines) else ""
        return " " * self.col_offset + text

    def error(self, node, message: str) -> ParseError:
        lineno = getattr(node, "lineno", 1)
        col = getattr(node, "col_offset", 0)
        return ParseError(message, self.filename, lineno + self.line_offset, col + self.col_offset,
                          self.line(lineno))


def _class_lines(cls, line: int) -> tuple[list[str] | None, int | None]:
    """The lines (and first line number) of the definition of class ``cls`` spanning ``line``
    in its file (decorators included), or (None, None)."""
    filename = inspect.getsourcefile(cls)
    if filename is None:
        return None, None
    text = "".join(linecache.getlines(filename))
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return None, None
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == cls.__name__:
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            if first <= line <= node.end_lineno:
                return text.splitlines(keepends=True)[first - 1:node.end_lineno], first
    return None, None


class Scopes:
    """Nested name -> value maps: a loop, block or function opens a scope."""

    def __init__(self):
        self.stack: list[dict] = [{}]

    def push(self) -> None:
        self.stack.append({})

    def pop(self) -> None:
        self.stack.pop()

    def define(self, name: str, value) -> None:
        self.stack[-1][name] = value

    def lookup(self, name: str):
        for scope in reversed(self.stack):
            if name in scope:
                return scope[name]
        return None


def attr_path(node) -> list[str] | None:
    """``T.axis.remap`` -> ["T", "axis", "remap"]; None for anything but a dotted name."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return parts[::-1]
