"""Open a dataset file with the reader that fits its format.

Readers register here: NPZ, HDF5/CXI and ptychodus's product and training
HDF5 files are built in, and with the optional ``ptychodus`` extra any file a
ptychodus reader plugin reads (``reader="ptychodus"`` or
``"ptychodus:PLUGIN"``; tried on its own when no built-in reader can use an
HDF5 file or a file of another format). Every reader returns a
:class:`~ptyevidence.readers.base.Source`, so validation, fixtures and
coverage never ask which format they hold. ``positions_from`` pairs a
diffraction-only file with the file holding its positions
(:class:`~ptyevidence.readers.pair.PairedSource`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from ..exceptions import InputError, UsageError
from .base import Source
from .common import check_readable_file
from .npz import NpzSource

__all__ = ["PTYCHODUS_READER", "default_contract_for", "open_source", "reader_names", "register_reader"]

#: ``reader`` value of the ptychodus plugin backend (``"ptychodus:PLUGIN"`` names a plugin).
PTYCHODUS_READER = "ptychodus"

_ZIP_MAGIC = b"PK\x03\x04"
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"

_HDF5_SUFFIXES = (".cxi", ".h5", ".hdf5")


def _open_cxi(path: str, geometry: str | None = None, **options: Any) -> Source:
    """Open a CXI/HDF5 file (the reader and h5py load only when needed); ``geometry`` None: far-field, assumed."""
    from .cxi import CxiSource

    return CxiSource(path, geometry=geometry, **options)


def _hdf5_layout_is(kind: str) -> Callable[[str, bytes], bool]:
    def test(path: str, head: bytes) -> bool:
        from .product import product_layout

        return head.startswith(_HDF5_MAGIC) and product_layout(path) == kind

    return test


def _open_product(path: str) -> Source:
    from .product import ProductSource

    return ProductSource(path)


#: (name, test(path, first_bytes) -> bool, factory(path) -> source, default contract)
_READERS: list[tuple[str, Callable[[str, bytes], bool], Callable[[str], Source], str]] = [
    ("ptychodus-product", _hdf5_layout_is("ptychodus-product"), _open_product, "ptychodus-product"),
    ("ptychodus-training", _hdf5_layout_is("ptychodus-training"), _open_product, "ptychodus-training"),
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
        every attribute and method of the protocol, not a subset (inherit
        :class:`~ptyevidence.readers.common.SourceBase` for the defaults of a
        format that stores nothing beside its arrays).
        :func:`open_source` refuses anything else with a ``TypeError``.
    default_contract : str
        Contract used when the caller names none.
    """
    _READERS.insert(0, (name, test, factory, default_contract))


def reader_names() -> list[str]:
    """Return the names ``reader`` accepts: the registered readers, then ``ptychodus``.

    Examples
    --------
    >>> reader_names()[-3:]
    ['npz', 'cxi', 'ptychodus']
    """
    return [name for name, *_ in _READERS] + [PTYCHODUS_READER]


def _reader_for(path: str, reader: str | None = None) -> tuple[str, Callable[[str], Source], str]:
    if reader is not None:
        for name, _, factory, contract in _READERS:
            if name == reader:
                return name, factory, contract
        msg = f"reader '{reader}' is not one of {', '.join(reader_names())} (or ptychodus:PLUGIN)"
        raise UsageError(msg)
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


def _ptychodus_plugin(reader: str | None) -> str | None | bool:
    """Return the plugin ``reader`` names ("" for any), or False when it is not the ptychodus backend."""
    if reader is None or reader.split(":", 1)[0] != PTYCHODUS_READER:
        return False
    return reader.partition(":")[2].strip()


def _open_one(path: str, reader: str | None, frames_only: bool = False, **geometry: Any) -> Source:
    return _checked(_open_unchecked(path, reader, frames_only, **geometry), reader, path)


def _open_unchecked(path: str, reader: str | None, frames_only: bool, **geometry: Any) -> object:
    plugin = _ptychodus_plugin(reader)
    given = {k: v for k, v in geometry.items() if v is not None}
    if plugin is not False:
        from .ptychodus_plugins import PtychodusSource

        _no_geometry(path, "ptychodus", given)
        return PtychodusSource(path, plugin or None)
    try:
        name, factory, _ = _reader_for(path, reader)
        if name == "cxi":
            return _open_cxi(path, require_positions=not frames_only, **geometry)
        _no_geometry(path, name, given)
        return factory(path)
    except InputError as exc:
        if reader is not None or path.endswith(".npz"):
            raise
        return _fall_back(path, exc)


def _no_geometry(path: str, reader: str, given: dict[str, Any]) -> None:
    """Refuse geometry options for a file whose positions are not converted from metres."""
    if given:
        names = " and ".join(f"{k}={v!r}" for k, v in given.items())
        msg = (
            f"{names} applies to CXI files, whose translations are converted to pixels; "
            f"'{path}' is read by the {reader} reader, which takes its positions as stored"
        )
        raise UsageError(msg)


def _fall_back(path: str, refusal: InputError) -> Source:
    """Try ptychodus's plugins on a file no built-in reader can use; else explain the refusal."""
    from .ptychodus_plugins import EXTRA_HINT, PtychodusSource, available

    if not available():
        # A file that only lacks its positions needs positions_from, not another reader.
        if "positions_from=" in str(refusal):
            raise refusal
        msg = f"{refusal}; or {EXTRA_HINT}"
        raise InputError(msg, path) from None
    try:
        source = PtychodusSource(path)
    except InputError:
        raise refusal from None
    if "xcoords" in source:
        source.notes.insert(0, f"read by ptychodus: the built-in reader refused it ({refusal})")
        return source
    source.close()
    raise refusal


def default_contract_for(
    path: str | os.PathLike,
    reader: str | None = None,
    positions_from: str | os.PathLike | None = None,
    geometry: str | None = None,
    sample_pixel_size: float | None = None,
) -> str:
    """Return the contract a file is checked against when none is named.

    ``raw`` for frames read through ptychodus or paired with ``positions_from``;
    ``ptychodus-product`` for a product read through ptychodus.
    """
    with open_source(path, reader, positions_from, geometry, sample_pixel_size) as source:
        name = next((c for n, _, _, c in _READERS if n == source.format), None)
        if name is not None:
            return name
        return "raw" if "diffraction" in source else "ptychodus-product"


def open_source(
    path: str | os.PathLike,
    reader: str | None = None,
    positions_from: str | os.PathLike | None = None,
    geometry: str | None = None,
    sample_pixel_size: float | None = None,
) -> Source:
    """Open ``path`` with the first registered reader that recognizes it.

    Parameters
    ----------
    path : str or path
        The dataset file.
    reader : str or None
        A name of :func:`reader_names` (``"ptychodus"``, or ``"ptychodus:PLUGIN"``
        for one ptychodus plugin); None recognizes the format, and falls back
        to ptychodus's plugins (when installed) for files no built-in reader
        can use.
    positions_from : str, path or None
        The file holding the positions of a diffraction-only ``path`` (a
        ptychodus product, say); the two are read as one pair.
    geometry : {"far-field", "near-field"} or None
        CXI only: the propagation geometry its translations are converted to
        pixels for. None: not stated, far-field is assumed, and the source
        says so (``position_statement()``, ``geometry_assumed``).
    sample_pixel_size : float or None
        CXI only: the sample-plane pixel size in metres (near-field needs it;
        it overrides the far-field formula).

    Raises
    ------
    InputError
        If the file is missing or empty, no reader recognizes it, or the
        pair's counts differ.
    MissingExtraError
        If ``reader`` names ptychodus and it is not installed.
    TypeError
        If the reader returned something that is not a :class:`Source`
        (a bug of that reader).
    """
    path = os.fspath(path)
    check_readable_file(path)
    if positions_from is not None:
        from .pair import PairedSource

        positions_path = os.fspath(positions_from)
        check_readable_file(positions_path)
        frames = _open_one(path, reader, frames_only=True, geometry=geometry, sample_pixel_size=sample_pixel_size)
        try:
            return PairedSource(frames, _open_one(positions_path, None))
        except BaseException:
            frames.close()
            raise
    return _open_one(path, reader, geometry=geometry, sample_pixel_size=sample_pixel_size)


def _checked(source: object, reader: str | None, path: str) -> Source:
    if not isinstance(source, Source):
        name = reader or _reader_for(path)[0]
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
    name
    for name in {*Source.__annotations__, *vars(Source)}
    if not name.startswith("_") or name in ("__contains__", "__enter__", "__exit__")
)
