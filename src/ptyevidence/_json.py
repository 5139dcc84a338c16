"""The one JSON reader and writer: bounded in, strict out.

Every JSON document ptyevidence reads (sidecars, contracts, the ``_metadata`` record of an NPZ, the
report's records) goes through :func:`parse_json` or :func:`read_json`. ``json.loads`` accepts what a
damaged or hostile file can hold but the program cannot use: nesting deep enough to exhaust the stack,
integers beyond int64 (or Python's 4300-digit conversion limit), numbers beyond float range, repeated
keys (the last silently wins) and the ``NaN``/``Infinity`` literals. Each is refused with one line
naming its key path. Every JSON document written goes through :func:`strict_json`: numpy values become
Python ones and a non-finite float becomes ``null`` (its key paths returned), so output is standard JSON.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable
from typing import Any

from .exceptions import InputError

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "dumps_strict",
    "parse_json",
    "read_json",
    "strict_json",
]

#: Deepest nesting of arrays and objects accepted (ptyevidence's own documents need 6).
MAX_DEPTH = 64
#: Largest document read by default, in bytes.
MAX_BYTES = 64 * 2**20
#: Integers are accepted in the int64 range, like the arrays they describe.
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1
#: A JSON string (escapes included), for finding brackets outside strings.
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{},:]', re.DOTALL)


class _Bad:
    """A value the document holds but may not: kept in place so its key path can be named."""

    def __init__(self, problem: str) -> None:
        self.problem = problem


def parse_json(text: str, what: str, path: str | None = None, max_depth: int = MAX_DEPTH) -> Any:
    """Parse JSON ``text`` within the bounds; refuse with the key path that breaks them.

    Parameters
    ----------
    text : str
        The document.
    what : str
        What it is, for messages: ``"sidecar 'f.json'"``.
    path : str or None
        The file, recorded on the error.
    max_depth : int
        Deepest nesting of arrays and objects accepted.

    Returns
    -------
    Any
        The parsed value: dicts, lists, str, int (int64 range), finite float, bool, None.

    Raises
    ------
    InputError
        If the text is not JSON or holds what the bounds refuse.

    Examples
    --------
    >>> parse_json('{"a": [1, 2.5]}', "record")
    {'a': [1, 2.5]}
    >>> parse_json('{"a": [1, 1e400]}', "record")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ptyevidence.exceptions.InputError: record: a[1] is a number beyond float range (1e400); ...
    """
    too_deep = _depth_violation(text, max_depth)
    if too_deep is not None:
        _fail(what, path, too_deep, f"nests arrays/objects deeper than {max_depth} levels")
    bad: list[int] = []

    def flag(problem: str) -> _Bad:
        bad.append(1)
        return _Bad(problem)

    try:
        value = json.loads(
            text,
            parse_int=lambda s: _int(s, flag),
            parse_float=lambda s: _float(s, flag),
            parse_constant=lambda s: flag(f"the non-standard literal {s}"),
            object_pairs_hook=lambda pairs: _object(pairs, flag),
        )
    except json.JSONDecodeError as exc:
        msg = f"{what} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        raise InputError(msg, path) from None
    except RecursionError:  # only if max_depth was set beyond the interpreter's stack
        _fail(what, path, "", "nests too deeply to parse")
    if bad:
        where, problem = _find_bad(value, [])
        _fail(what, path, where, problem)
    return value


def read_json(path: str | os.PathLike, what: str, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH) -> Any:
    """Read a JSON file of at most ``max_bytes`` with :func:`parse_json`.

    Raises
    ------
    InputError
        If the file is missing, too large, not UTF-8, not JSON or out of bounds.
    """
    path = os.fspath(path)
    try:
        size = os.path.getsize(path)
        if size > max_bytes:
            msg = (
                f"{what} is {size / 2**20:.1f} MiB, more than the {max_bytes / 2**20:.0f} MiB "
                "a JSON document may hold here; it was damaged or is not what was expected"
            )
            raise InputError(msg, path)
        with open(path, "rb") as fh:
            raw = fh.read(max_bytes + 1)
    except OSError as exc:
        msg = f"{what} cannot be read ({exc.strerror or exc})"
        raise InputError(msg, path) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        msg = f"{what} cannot be read as JSON: not UTF-8 text ({exc.reason} at byte {exc.start})"
        raise InputError(msg, path) from None
    return parse_json(text, what, path, max_depth)


def _fail(what: str, path: str | None, where: str, problem: str) -> None:
    at = f"{where} " if where else "the document "
    msg = f"{what}: {at}{problem}; it was damaged or is not what was expected"
    raise InputError(msg, path)


def _int(text: str, flag: Callable[[str], _Bad]) -> int | _Bad:
    digits = len(text.lstrip("-"))
    if digits > 19:  # more than int64 can hold, whatever the digits; never convert a huge one
        return flag(f"an integer of {digits} digits, beyond int64")
    value = int(text)
    if not _INT_MIN <= value <= _INT_MAX:
        return flag(f"an integer beyond int64 ({text})")
    return value


def _float(text: str, flag: Callable[[str], _Bad]) -> float | _Bad:
    value = float(text)
    if not math.isfinite(value):
        return flag(f"a number beyond float range ({text[:24]}{'...' if len(text) > 24 else ''})")
    return value


def _object(pairs: list[tuple[str, Any]], flag: Callable[[str], _Bad]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                out[key] = flag("is a key that repeats in its object (which one counts?)")
            seen.add(key)
    return out


def _find_bad(value: Any, where: list[Any]) -> tuple[str, str]:
    """Key path and problem of the first flagged value (depth is bounded, so recursion is safe)."""
    if isinstance(value, _Bad):
        problem = value.problem
        return _key_path(where), problem if problem.startswith("is ") else f"is {problem}"
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        if isinstance(item, (dict, list, _Bad)):
            found = _find_bad(item, [*where, key])
            if found[0] or found[1]:
                return found
    return "", ""


def _key_path(parts: list[Any]) -> str:
    """Spell a key path: ``["a", 3, "b"]`` -> ``a[3].b``; the top level is ``(top level)``."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_\-]*", part):
            text += f".{part}" if text else part
        else:
            text += f"[{json.dumps(part)}]"
    return text or "(top level)"


def _depth_violation(text: str, limit: int) -> str | None:
    """Key path where nesting first exceeds ``limit``, or None; one pass outside strings."""
    if text.count("[") + text.count("{") <= limit:
        return None
    depth = 0
    outside = _STRING.sub('""', text)
    for char in re.finditer(r"[\[\]{}]", outside):
        depth += 1 if char.group() in "[{" else -1
        if depth > limit:
            return _path_at_depth(text, limit)
    return None


def _path_at_depth(text: str, limit: int) -> str:
    """Walk the tokens up to the first container nested deeper than ``limit``; name its key path."""
    stack: list[list[Any]] = []  # [kind, key or index, expecting a key]
    for token in _TOKEN.finditer(text):
        tok = token.group()
        if tok in "[{":
            if len(stack) >= limit:
                break
            stack.append(["[", 0, False] if tok == "[" else ["{", None, True])
        elif tok in "]}":
            if stack:
                stack.pop()
        elif not stack:
            continue
        elif tok == ",":
            top = stack[-1]
            if top[0] == "[":
                top[1] += 1
            else:
                top[2] = True
        elif tok == ":":
            stack[-1][2] = False
        elif stack[-1][0] == "{" and stack[-1][2]:
            try:
                stack[-1][1] = json.loads(tok)
            except ValueError:
                stack[-1][1] = tok
    parts = [frame[1] for frame in stack if frame[1] is not None]
    if len(parts) > 8:  # the path into a deep nest is mostly [0][0]...: name where it starts
        return f"{_key_path(parts[:6])}... ({len(stack)} levels down)"
    return _key_path(parts)


def strict_json(value: Any) -> tuple[Any, list[str]]:
    """Return ``value`` as plain JSON data and the key paths of the non-finite floats made null.

    numpy scalars and arrays become Python numbers and lists; tuples become
    lists; anything else that JSON cannot hold becomes its ``str``.

    Examples
    --------
    >>> strict_json({"a": [1.0, float("nan")], "b": float("inf")})
    ({'a': [1.0, None], 'b': None}, ['a[1]', 'b'])
    """
    found: list[str] = []

    def walk(item: Any, where: list[Any]) -> Any:
        if isinstance(item, float) or _is_numpy_scalar(item):
            item = item.item() if _is_numpy_scalar(item) else item
            if isinstance(item, complex):
                return [walk(item.real, [*where, 0]), walk(item.imag, [*where, 1])]
            if isinstance(item, float) and not math.isfinite(item):
                found.append(_key_path(where))
                return None
            return item
        if item is None or isinstance(item, (str, bool, int)):
            return item
        if isinstance(item, dict):
            return {str(k): walk(v, [*where, str(k)]) for k, v in item.items()}
        if isinstance(item, (list, tuple)):
            return [walk(v, [*where, i]) for i, v in enumerate(item)]
        if hasattr(item, "tolist") and hasattr(item, "dtype"):  # a numpy array
            return walk(item.tolist(), where)
        return str(item)

    return walk(value, []), found


def _is_numpy_scalar(item: Any) -> bool:
    return hasattr(item, "dtype") and hasattr(item, "item") and getattr(item, "shape", None) == ()


def dumps_strict(value: Any, **kwargs: Any) -> str:
    """``json.dumps`` of :func:`strict_json`'s data (``allow_nan=False``): always standard JSON."""
    data, _ = strict_json(value)
    return json.dumps(data, allow_nan=False, **kwargs)
