"""Load a fixture for a test: its arrays, its sidecar and its embedded metadata."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..fixture import read_sidecar
from ..fixture.sidecar import default_metadata_path
from ..readers.metadata import METADATA_KEY, read_metadata_member
from ..readers.registry import open_source

__all__ = ["LoadedFixture", "load_fixture"]


@dataclass(frozen=True, eq=False)
class LoadedFixture(Mapping[str, np.ndarray]):
    """A fixture read whole: a read-only mapping of key to array, plus its record.

    Attributes
    ----------
    path, sidecar_path : str
        The fixture NPZ and its JSON sidecar.
    arrays : dict of str to numpy.ndarray
        Every array member except ``_metadata``, in native byte order and C
        order (``diffraction`` ``(n, H, W)`` float32 amplitudes, ``xcoords``
        ``(n,)`` float64 in object pixels...).
    record : dict
        The sidecar: indices, digests, coverage, contract verdict...
    metadata : dict
        The embedded ``_metadata`` record (empty when absent).
    """

    path: str
    sidecar_path: str
    arrays: dict[str, np.ndarray]
    record: dict[str, Any]
    metadata: dict[str, Any]

    def __getitem__(self, key: str) -> np.ndarray:
        return self.arrays[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.arrays)

    def __len__(self) -> int:
        return len(self.arrays)

    @property
    def indices(self) -> np.ndarray:
        """``(n,)`` int64 source index of each fixture row, from the sidecar."""
        return np.asarray(self.record["indices"], dtype=np.int64)


def load_fixture(path: str | os.PathLike, metadata: str | os.PathLike | None = None) -> LoadedFixture:
    """Read a fixture's arrays and its sidecar, never unpickling.

    Loading checks nothing beyond the sidecar's required fields; use
    :func:`ptyevidence.testing.assert_fixture` to check the arrays against it.

    Parameters
    ----------
    path : str or path
        The fixture NPZ.
    metadata : str or path, optional
        Its sidecar; default ``path`` with a ``.json`` suffix.

    Returns
    -------
    LoadedFixture
        Fresh arrays on every call, so a test may modify them.

    Raises
    ------
    InputError
        If the fixture or sidecar is missing or unreadable.

    Examples
    --------
    >>> import os, tempfile
    >>> from ptyevidence import make_demo_data, make_fixture
    >>> folder = tempfile.mkdtemp()
    >>> src = make_demo_data(os.path.join(folder, "scan.npz"), n_positions=40)
    >>> made = make_fixture(src, os.path.join(folder, "fixture.npz"), subset_size=16)
    >>> fixture = load_fixture(made.path)
    >>> fixture["diffraction"].shape, fixture.metadata["layout"], fixture.indices[:3].tolist()
    ((16, 64, 64), 'canonical', [0, 2, 5])
    """
    fixture_path = os.fspath(path)
    sidecar_path = os.fspath(metadata) if metadata is not None else default_metadata_path(fixture_path)
    record = read_sidecar(sidecar_path)
    with open_source(fixture_path) as source:
        keys = [k for k in source.keys() if k != METADATA_KEY]  # noqa: SIM118 - not iterable
        arrays = {key: source.read(key) for key in keys}
        embedded = read_metadata_member(source) or {}
    return LoadedFixture(fixture_path, sidecar_path, arrays, record, embedded)
