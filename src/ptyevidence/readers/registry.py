"""Open a dataset file with the reader that fits its format.

Readers register here: NPZ and HDF5/CXI are built in. Every reader returns a
:class:`~ptyevidence.readers.base.Source`, so validation, fixtures and
coverage never ask which format they hold.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from ..exceptions import InputError
from .base import Source
from .common import check_readable_file
from .npz import NpzSource

__all__ = ["default_contract_for", "open_source", "register_reader"]

_ZIP_MAGIC = b"PK\x03\x04"
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"

_HDF5_SUFFIXES = (".cxi", ".h5", ".hdf5")


def _open_cxi(path: str) -> Source:
    """Open a CXI/HDF5 file; the reader (and h5py) load only when needed."""
    from .cxi import CxiSource

    return CxiSource(path)


#: (name, test(path, first_bytes) -> bool, factory(path) -> source, default contract)
_READERS: list[tuple[str, Callable[[str, bytes], bool], Callable[[str], Source], str]] = [
    (
        "npz",
        lambda path, head: head.startswith(_ZIP_MAGIC) or path.endswith(".npz"),
        NpzSource,
        "data001",
    ),
    (
        "cxi",
        lambda path, head: head.startswith(_HDF5_MAGIC) or path.lower().endswith(_HDF5_SUFFIXES),
        _open_cxi,
        "raw",
    ),
]


def register_reader(
    name: str,
    test: Callable[[str, bytes], bool],
    factory: Callable[[str], Source],
    default_contract: str = "data001",
) -> None:
    """Register a reader tried before the built-in NPZ reader.

    Parameters
    ----------
    name : str
        Format name shown in reports.
    test : callable
        ``test(path, first_8_bytes)`` returns True when the reader applies.
    factory : callable
        ``factory(path)`` returns an open :class:`~ptyevidence.readers.base.Source`:
        every attribute and method of the protocol, not a subset.
        :func:`open_source` refuses anything else with a ``TypeError``.
    default_contract : str
        Contract used when the caller names none.
    """
    _READERS.insert(0, (name, test, factory, default_contract))


def _reader_for(path: str) -> tuple[str, Callable[[str], Source], str]:
    with open(path, "rb") as fh:
        head = fh.read(8)
    for name, test, factory, contract in _READERS:
        if test(path, head):
            return name, factory, contract
    if head.startswith(_HDF5_MAGIC):
        msg = f"'{path}' is an HDF5 file but no HDF5 reader is available"
        raise InputError(msg, path)
    msg = (
        f"'{path}' is neither an NPZ (zip) archive nor a recognized HDF5/CXI file "
        f"(first bytes {head!r}); convert it to NPZ or check the path"
    )
    raise InputError(msg, path)


def default_contract_for(path: str | os.PathLike) -> str:
    """Return the contract a file is checked against when none is named."""
    path = os.fspath(path)
    check_readable_file(path)
    return _reader_for(path)[2]


def open_source(path: str | os.PathLike) -> Source:
    """Open ``path`` with the first registered reader that recognizes it.

    Raises
    ------
    InputError
        If the file is missing or empty, or no reader recognizes it.
    TypeError
        If the reader returned something that is not a :class:`Source`
        (a bug of that reader).
    """
    path = os.fspath(path)
    check_readable_file(path)
    name, factory, _ = _reader_for(path)
    source = factory(path)
    if not isinstance(source, Source):
        missing = [m for m in _SOURCE_MEMBERS if not hasattr(source, m)]
        msg = (
            f"reader '{name}' returned a {type(source).__name__} for '{path}', which is not a "
            f"ptyevidence Source (missing: {', '.join(missing) or '?'}); a reader's factory "
            "must return an object implementing ptyevidence.readers.base.Source"
        )
        raise TypeError(msg)
    return source


#: Members of :class:`Source`, to name the missing ones when a reader falls short.
_SOURCE_MEMBERS = sorted(
    name for name in {*Source.__annotations__, *vars(Source)}
    if not name.startswith("_") or name in ("__contains__", "__enter__", "__exit__")
)
