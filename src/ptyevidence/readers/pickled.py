"""Read the one pickle PtychoPINN writes, a 0-d object ``_metadata``, without running code.

PtychoPINN's ``MetadataManager.save_with_metadata`` stores its JSON record as
``numpy.array(json_text, dtype=object)`` (``ptycho/metadata.py:112-114`` at
712c23f), which ``numpy.savez`` pickles: the ``.npy`` member holds a pickle of
an ndarray whose one element is the JSON string. Unpickling it with
:mod:`pickle` would import and call whatever the stream names.

:class:`RestrictedUnpickler` interprets the stream instead. Its
``find_class`` always raises, and the opcodes that would look up or call an
object (``GLOBAL``, ``STACK_GLOBAL``, ``REDUCE``, ``BUILD``) build inert
records of the names and arguments; the opcodes that could run code in
another way (``INST``, ``OBJ``, ``NEWOBJ``, ``NEWOBJ_EX``, extensions,
persistent ids) are refused. :func:`object_scalar` then accepts the result
only if it has exactly the shape numpy gives a 0-d object array, and only
plain ``str``/``bytes``/``int``/``float``/``bool``/``None``/``list``/``tuple``/
``dict`` inside it. Anything else is refused with :class:`InputError`, and
the stream is bounded in size before it is read.
"""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from typing import Any, ClassVar

import numpy as np

from ..exceptions import InputError
from .npz import _read_npy_header

__all__ = [
    "MAX_PICKLE_BYTES",
    "PLAIN_TYPES",
    "RestrictedUnpickler",
    "object_scalar",
    "plain_problem",
    "read_object_scalar",
]

#: Largest pickled member read, in bytes (inflated); a metadata record is a few kB.
MAX_PICKLE_BYTES = 2**20
#: The only types that may come out.
PLAIN_TYPES = (str, bytes, int, float, bool, type(None), list, tuple, dict)
#: Deepest nesting and most items accepted in the payload.
_MAX_DEPTH = 64
_MAX_ITEMS = 100_000
#: Where numpy's ndarray pickle finds its reconstructor (numpy 1.x and 2.x).
_RECONSTRUCT = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct")}


class _Global:
    """A name a ``GLOBAL`` opcode asked for; never imported."""

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name

    def __repr__(self) -> str:
        return f"{self.module}.{self.name}"


class _Call:
    """A ``REDUCE`` (``func(*args)``) that was never called, with the state ``BUILD`` gave it."""

    def __init__(self, func: Any, args: Any) -> None:
        self.func, self.args, self.state = func, args, None

    def __repr__(self) -> str:
        return f"{self.func!r}(...)"


#: Raised for an opcode or a name the restricted unpickler never honours.
_Refused = pickle.UnpicklingError


#: Opcodes that would create an object of an arbitrary class (or look one up by id): always refused.
_REFUSED_OPCODES = ("INST", "OBJ", "NEWOBJ", "NEWOBJ_EX", "EXT1", "EXT2", "EXT4", "PERSID", "BINPERSID")


class RestrictedUnpickler(pickle._Unpickler):
    """An unpickler that resolves no global and calls nothing.

    ``GLOBAL``/``STACK_GLOBAL`` push the names they read, ``REDUCE`` and
    ``BUILD`` record the call and state; the result is plain data plus those
    records, for :func:`object_scalar` to check. Every other opcode that
    could create an object of an arbitrary class raises.

    Examples
    --------
    >>> import pickle
    >>> RestrictedUnpickler(io.BytesIO(pickle.dumps({"a": [1, 2.5, None]}))).load()
    {'a': [1, 2.5, None]}
    >>> RestrictedUnpickler(io.BytesIO(pickle.dumps(print))).load()
    builtins.print
    """

    dispatch: ClassVar[dict[int, Any]] = dict(pickle._Unpickler.dispatch)

    def find_class(self, module: str, name: str) -> Any:
        """Refuse: no name in a pickle is ever resolved."""
        msg = f"refusing to resolve {module}.{name}"
        raise _Refused(msg)

    def persistent_load(self, pid: Any) -> Any:
        """Refuse persistent ids."""
        msg = "refusing a persistent id"
        raise _Refused(msg)

    def _global(self) -> None:
        module = self.readline()[:-1].decode("utf-8")
        name = self.readline()[:-1].decode("utf-8")
        self.append(_Global(module, name))

    def _stack_global(self) -> None:
        name, module = self.stack.pop(), self.stack.pop()
        if not (isinstance(module, str) and isinstance(name, str)):
            msg = "STACK_GLOBAL with names that are not text"
            raise _Refused(msg)
        self.append(_Global(module, name))

    def _reduce(self) -> None:
        args = self.stack.pop()
        self.stack[-1] = _Call(self.stack[-1], args)

    def _build(self) -> None:
        state = self.stack.pop()
        target = self.stack[-1]
        if not isinstance(target, _Call) or target.state is not None:
            msg = "BUILD on something that is not a recorded call"
            raise _Refused(msg)
        target.state = state

    def _refuse(self) -> None:
        msg = "refusing an opcode that creates arbitrary objects"
        raise _Refused(msg)

    dispatch[pickle.GLOBAL[0]] = _global
    dispatch[pickle.STACK_GLOBAL[0]] = _stack_global
    dispatch[pickle.REDUCE[0]] = _reduce
    dispatch[pickle.BUILD[0]] = _build
    for _name in _REFUSED_OPCODES:
        dispatch[getattr(pickle, _name)[0]] = _refuse
    del _name


def object_scalar(payload: bytes, where: str = "pickle") -> Any:
    """Return the element of a pickled 0-d object ndarray, if it is plain data.

    Parameters
    ----------
    payload : bytes
        The pickle stream (the data part of an object ``.npy`` member).
    where : str
        The file and key, for messages.

    Returns
    -------
    str, bytes, int, float, bool, None, list, tuple or dict

    Raises
    ------
    InputError
        When the stream is larger than :data:`MAX_PICKLE_BYTES`, is not a
        pickle of a 0-d object ndarray, or holds anything but plain data.

    Examples
    --------
    >>> import numpy as np, pickle
    >>> object_scalar(pickle.dumps(np.array('{"layout": "canonical"}', dtype=object)))
    '{"layout": "canonical"}'
    """
    if len(payload) > MAX_PICKLE_BYTES:
        msg = f"{where}: pickled member of {len(payload)} bytes is larger than {MAX_PICKLE_BYTES}; not read"
        raise InputError(msg)
    try:
        tree = RestrictedUnpickler(io.BytesIO(payload)).load()
    except pickle.UnpicklingError as exc:
        msg = f"{where}: refusing to unpickle it ({exc}); only a 0-d object array of plain data is read"
        raise InputError(msg) from None
    except Exception as exc:  # noqa: BLE001 - any malformed stream is unusable input
        msg = f"{where}: not a readable pickle ({type(exc).__name__}: {exc})"
        raise InputError(msg) from None
    element = _ndarray_element(tree)
    if element is _NOT_AN_ARRAY:
        msg = (
            f"{where}: the pickle is not a 0-d object ndarray ({_describe(tree)}); "
            "only PtychoPINN's pickled text record is read"
        )
        raise InputError(msg)
    problem = plain_problem(element)
    if problem:
        msg = f"{where}: the pickled value holds {problem}; only plain text, numbers, lists and dicts are read"
        raise InputError(msg)
    return element


_NOT_AN_ARRAY = object()


def _ndarray_element(tree: Any) -> Any:
    """Return the one element of ``_reconstruct(ndarray, (0,), b'b')`` built with shape () and dtype O."""
    if not (isinstance(tree, _Call) and _named(tree.func) in _RECONSTRUCT):
        return _NOT_AN_ARRAY
    args, state = tree.args, tree.state
    if not (isinstance(args, tuple) and len(args) == 3 and _named(args[0]) == ("numpy", "ndarray")):
        return _NOT_AN_ARRAY
    if not (isinstance(state, tuple) and len(state) == 5):
        return _NOT_AN_ARRAY
    _, shape, dtype, _, data = state
    if shape != () or not _object_dtype(dtype) or not (isinstance(data, list) and len(data) == 1):
        return _NOT_AN_ARRAY
    return data[0]


def _object_dtype(dtype: Any) -> bool:
    return (
        isinstance(dtype, _Call)
        and _named(dtype.func) == ("numpy", "dtype")
        and isinstance(dtype.args, tuple)
        and dtype.args[:1] == ("O8",)
    )


def _named(obj: Any) -> tuple[str, str] | None:
    return (obj.module, obj.name) if isinstance(obj, _Global) else None


def _describe(tree: Any) -> str:
    return repr(tree) if isinstance(tree, (_Global, _Call)) else type(tree).__name__


def plain_problem(value: Any) -> str | None:
    """Say what in ``value`` is not plain data (or too deep, too large); None when all is plain.

    Examples
    --------
    >>> plain_problem({"a": [1, "b", None]}) is None, plain_problem({"a": {1j}})
    (True, 'a set')
    """
    pending, items = [(value, 0)], 0
    while pending:
        item, depth = pending.pop()
        items += 1
        if items > _MAX_ITEMS or depth > _MAX_DEPTH:
            return f"more than {_MAX_ITEMS} items or {_MAX_DEPTH} levels"
        if isinstance(item, (_Global, _Call)):
            return f"an object made by {item!r}"
        if type(item) not in PLAIN_TYPES:
            return f"a {type(item).__name__}"
        if isinstance(item, (list, tuple)):
            pending.extend((v, depth + 1) for v in item)
        elif isinstance(item, dict):
            pending.extend((v, depth + 1) for pair in item.items() for v in pair)
    return None


def read_object_scalar(path: str | os.PathLike, key: str) -> Any:
    """Read the 0-d object member ``key`` of an NPZ archive through :func:`object_scalar`.

    The member is inflated only up to :data:`MAX_PICKLE_BYTES` plus its
    header; its ``.npy`` header must say shape ``()`` and dtype object.

    Raises
    ------
    InputError
        When the member is missing, too large, not a 0-d object array or
        not plain data.
    """
    path = os.fspath(path)
    where = f"'{path}' key '{key}'"
    try:
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo(f"{key}.npy")
            if info.file_size > MAX_PICKLE_BYTES + 4096:
                msg = f"{where}: pickled member of {info.file_size} bytes is too large to read; not read"
                raise InputError(msg, path)
            with archive.open(info) as fp:
                raw = fp.read(MAX_PICKLE_BYTES + 4096 + 1)
    except (KeyError, zipfile.BadZipFile, OSError, EOFError) as exc:
        msg = f"{where} cannot be read ({exc})"
        raise InputError(msg, path) from None
    stream = io.BytesIO(raw)
    shape, _, dtype = _read_npy_header(stream, path, info.filename)
    if shape != () or dtype != np.dtype(object):
        msg = f"{where} is {dtype} of shape {shape}; only a 0-d object array is read this way"
        raise InputError(msg, path)
    return object_scalar(raw[stream.tell() :], where)
