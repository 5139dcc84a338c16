"""A small, safe expression language for the claims of pipeline contracts.

Contracts state testable claims as expressions over the dumped arrays, the
fixture's arrays and the configuration a run used, e.g.
``-1 * (coords_nn - coords_offsets)`` or
``sqrt((N / 2) ** 2 / mean(sum(diffraction ** 2, axis=(1, 2))))``.
The text is parsed with :mod:`ast` and only arithmetic, comparisons,
boolean logic, ``a if c else b``, literals, indexing, dotted names into the
namespaces given by the caller and calls of the functions in
:data:`FUNCTIONS` are evaluated; anything else is refused. Nothing is passed
to ``eval``.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ...exceptions import ExpressionError, MissingName

__all__ = ["FUNCTIONS", "ExpressionError", "MissingName", "Namespace", "evaluate", "in_bounds"]


class Namespace(Mapping):
    """A read-only mapping whose entries are reached as attributes (``file.xcoords``).

    Parameters
    ----------
    name : str
        Shown in :class:`MissingName` messages.
    values : mapping
        Entry name -> value; nested mappings become namespaces too.
    """

    def __init__(self, name: str, values: Mapping[str, Any]) -> None:
        self._name = name
        self._values = {
            k: Namespace(f"{name}.{k}", v) if isinstance(v, Mapping) and not isinstance(v, Namespace) else v
            for k, v in values.items()
        }

    def __getitem__(self, key: str) -> Any:
        try:
            return self._values[key]
        except KeyError:
            name = f"{self._name}.{key}"
            raise MissingName(name, self._name) from None

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Namespace({self._name!r}, {sorted(self._values)})"


def in_bounds(x: Any, y: Any, x_bounds: Any, y_bounds: Any) -> np.ndarray:
    """Return the indices of positions inside fractional bounds of the scan range.

    A position is inside when ``min + lo * range <= value <= min + hi * range``
    on both axes (a zero range counts as 1), the rule the contracts cite for
    the Torch loader's edge exclusion.

    Examples
    --------
    >>> x = [0.0, 1.0, 5.0, 9.0, 10.0]
    >>> in_bounds(x, x, (0.1, 0.9), (0.1, 0.9)).tolist()
    [1, 2, 3]
    """
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    inside = np.ones(x.shape, bool)
    for values, (lo, hi) in ((x, x_bounds), (y, y_bounds)):
        low, high = float(values.min()), float(values.max())
        span = high - low if high > low else 1.0
        lower, upper = low + lo * span, low + hi * span
        if high <= low:
            upper = lower
        inside &= (values >= lower) & (values <= upper)
    return np.flatnonzero(inside)


def _min(*args: Any, **kwargs: Any) -> Any:
    return np.min(args[0], **kwargs) if len(args) == 1 else min(args)


def _max(*args: Any, **kwargs: Any) -> Any:
    return np.max(args[0], **kwargs) if len(args) == 1 else max(args)


_NUMPY = ("abs", "all", "any", "arange", "mean", "moveaxis", "ptp", "sqrt", "stack", "sum", "unique")
#: Functions an expression may call.
FUNCTIONS: dict[str, Callable[..., Any]] = {name: getattr(np, name) for name in _NUMPY} | {
    "float": float,
    "int": int,
    "len": len,
    "in_bounds": in_bounds,
    "max": _max,
    "min": _min,
}

_BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Not: operator.not_}
_COMPARE = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}


def _operator(table: Mapping[type, Callable[..., Any]], op: ast.AST) -> Callable[..., Any]:
    if type(op) not in table:
        msg = f"operator '{type(op).__name__}' is not allowed"
        raise ExpressionError(msg)
    return table[type(op)]


def evaluate(expression: str, names: Mapping[str, Any]) -> Any:
    """Evaluate ``expression`` with ``names`` as its variables.

    Parameters
    ----------
    expression : str
        Text in the language described in the module docstring.
    names : mapping
        Top-level names; values may be numbers, strings, arrays or
        :class:`Namespace` objects (reached with dots).

    Returns
    -------
    object
        The value (a number, a boolean, a string or a numpy array).

    Raises
    ------
    MissingName
        If a name is not defined.
    ExpressionError
        If the text uses something outside the language or fails.

    Examples
    --------
    >>> evaluate("min(nsamples, M) if C == 1 else nsamples", {"nsamples": 512, "M": 64, "C": 1})
    64
    >>> evaluate("sqrt(cfg.N ** 2 / 4)", {"cfg": Namespace("cfg", {"N": 64})})
    np.float64(32.0)
    >>> try:
    ...     evaluate("__import__('os')", {})
    ... except ExpressionError as exc:
    ...     print(str(exc)[:43])
    function '__import__' is not available; use
    """
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError as exc:
        msg = f"expression '{expression}' is not valid: {exc.msg}"
        raise ExpressionError(msg) from None
    try:
        return _Evaluator(names).visit(tree.body)
    except ExpressionError:
        raise
    except (ArithmeticError, TypeError, ValueError, IndexError, KeyError) as exc:
        msg = f"expression '{expression}' failed: {type(exc).__name__}: {exc}"
        raise ExpressionError(msg) from None


class _Evaluator(ast.NodeVisitor):
    def __init__(self, names: Mapping[str, Any]) -> None:
        self.names = names

    def generic_visit(self, node: ast.AST) -> Any:
        msg = f"'{type(node).__name__}' is not allowed in a claim expression"
        raise ExpressionError(msg)

    def visit_Constant(self, node: ast.Constant) -> Any:
        if not isinstance(node.value, (int, float, str, bool, type(None))):
            msg = f"constant {node.value!r} is not allowed"
            raise ExpressionError(msg)
        return node.value

    def visit_Name(self, node: ast.Name) -> Any:
        if node.id not in self.names:
            raise MissingName(node.id)
        return self.names[node.id]

    def visit_Attribute(self, node: ast.Attribute) -> Any:
        base = self.visit(node.value)
        if not isinstance(base, Namespace) or node.attr.startswith("_"):
            msg = f"'.{node.attr}' is only allowed on a namespace such as file or DataConfig"
            raise ExpressionError(msg)
        return base[node.attr]

    def visit_Tuple(self, node: ast.Tuple) -> tuple:
        return tuple(self.visit(e) for e in node.elts)

    def visit_List(self, node: ast.List) -> list:
        return [self.visit(e) for e in node.elts]

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        return _operator(_BINARY, node.op)(self.visit(node.left), self.visit(node.right))

    def visit_UnaryOp(self, node: ast.UnaryOp) -> Any:
        return _operator(_UNARY, node.op)(self.visit(node.operand))

    def visit_BoolOp(self, node: ast.BoolOp) -> Any:
        # As Python: ``and`` stops at the first false value, ``or`` at the first true one.
        stop = isinstance(node.op, ast.Or)
        for item in node.values:
            value = self.visit(item)
            if bool(value) is stop:
                return value
        return value

    def visit_Compare(self, node: ast.Compare) -> Any:
        left = self.visit(node.left)
        for op, comparator in zip(node.ops, node.comparators):
            right = self.visit(comparator)
            if not _operator(_COMPARE, op)(left, right):
                return False
            left = right
        return True

    def visit_IfExp(self, node: ast.IfExp) -> Any:
        return self.visit(node.body) if self.visit(node.test) else self.visit(node.orelse)

    def visit_Subscript(self, node: ast.Subscript) -> Any:
        return self.visit(node.value)[self.visit(node.slice)]

    def visit_Slice(self, node: ast.Slice) -> slice:
        parts = [None if p is None else self.visit(p) for p in (node.lower, node.upper, node.step)]
        return slice(*parts)

    def visit_Call(self, node: ast.Call) -> Any:
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            name = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
            msg = f"function '{name}' is not available; use one of {', '.join(sorted(FUNCTIONS))}"
            raise ExpressionError(msg)
        args = [self.visit(a) for a in node.args]
        kwargs = {k.arg: self.visit(k.value) for k in node.keywords if k.arg is not None}
        if len(kwargs) != len(node.keywords):
            msg = "'**' arguments are not allowed"
            raise ExpressionError(msg)
        return FUNCTIONS[node.func.id](*args, **kwargs)
