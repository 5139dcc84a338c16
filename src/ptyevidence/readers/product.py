"""Read ptychodus product and training-data HDF5 files, attributes included, as a Source.

Two flat HDF5 layouts that ptychodus writes:

- the **product** (``save_product``; PtychoPINN ``specs/data_contracts.md``):
  root attributes (``name``, ``detector_object_distance_m``, the photon
  energy...), positions in metres, a ``probe`` (2-D to 4-D, ``C, I, H, W``)
  and an ``object`` (2-D or ``L, H, W``) with their pixel sizes as dataset
  attributes, optionally the §12 ``/raw_data`` bundle (frames and positions
  in object pixels);
- the **training data** (``save_training_data``): ``patterns`` (photon
  counts), ``bad_pixels``, ``probe``, ``object``, positions in object pixels
  and scalar geometry datasets.

Every dataset is a key under its own name (a ``raw_data/`` member under its
name alone), and every attribute a 0-d (or small) array under ``@NAME`` for
the file's root and ``DATASET@NAME`` for a dataset's: ``@photon_energy_eV``,
``probe@pixel_width_m``. Contracts name attributes by these keys. Text
becomes a numpy unicode scalar; nothing is ever unpickled.

Beside them the reader derives the DATA-001 view that fixtures, coverage and
conversion read: ``xcoords``/``ycoords`` in object pixels (ptychodus's own
mapping, ``x_px = (x_m - center_x_m) / pixel_width_m + (W - 1) / 2``),
``probeGuess`` (the first mode) and ``objectGuess`` (the first layer), and,
when the file holds frames, ``diffraction`` (and ``mask``). What could not
be derived, and why, is in :attr:`ProductSource.notes`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from .._memory import check_budget
from ..exceptions import InputError
from .base import ArrayInfo
from .common import (
    BLOCK_BYTES,
    OneFile,
    check_readable_file,
    gather_indices,
    hdf5_read_errors,
    native_byte_order,
)
from .counts import (
    IntensitySummary,
    counts_notes,
    counts_to_amplitude,
    summarize_counts,
)
from .links import LinkedFile
from .memory import ArraySource

__all__ = [
    "PRODUCT_FORMAT",
    "TRAINING_FORMAT",
    "FlatSource",
    "ProductSource",
    "attribute_key",
    "product_layout",
]

PRODUCT_FORMAT = "ptychodus-product"
TRAINING_FORMAT = "ptychodus-training"
#: Root datasets by which each layout is recognized (any one of them suffices).
_PRODUCT_MARKS = ("probe_position_x_m", "probe_position_y_m", "probe_position_indexes")
_TRAINING_MARKS = ("probe_position_x_px", "probe_position_y_px")
#: The PtychoPINN spec's optional bundle of the source dataset (§12).
RAW_DATA_GROUP = "raw_data"
#: Datasets up to this size are read when the file is opened; larger ones on demand.
_EAGER_BYTES = 2**20


def attribute_key(dataset: str, name: str) -> str:
    """Return the key of attribute ``name`` of ``dataset`` ("" for the file's root).

    Examples
    --------
    >>> attribute_key("", "photon_energy_eV"), attribute_key("probe", "pixel_width_m")
    ('@photon_energy_eV', 'probe@pixel_width_m')
    """
    return f"{dataset}@{name}"


def product_layout(path: str | os.PathLike) -> str | None:
    """Return :data:`PRODUCT_FORMAT`, :data:`TRAINING_FORMAT` or None for an HDF5 file.

    Only the names of the root datasets are read. None when the file is not
    HDF5 or holds neither layout.
    """
    import h5py

    try:
        with h5py.File(os.fspath(path), "r") as fh:
            names = set(fh.keys())
    except (OSError, RuntimeError, KeyError, ValueError):  # not HDF5, or damaged: the CXI reader says which
        return None
    if any(m in names for m in _PRODUCT_MARKS) or {"probe", "object", "loss_values"} <= names:
        return PRODUCT_FORMAT
    if "patterns" in names and any(m in names for m in _TRAINING_MARKS):
        return TRAINING_FORMAT
    return None


def _text_or_array(value: Any) -> np.ndarray:
    """Return an attribute or small dataset value as a plain numpy array (text as unicode)."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        return np.array(value)
    arr = np.asarray(value)
    if arr.dtype.kind == "S":
        return np.char.decode(arr, "utf-8", "replace")
    if arr.dtype.kind == "O":
        # h5py returns variable-length strings as objects: decode them, never keep objects.
        items = [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in arr.reshape(-1)]
        return np.array(items, dtype=str).reshape(arr.shape)
    return native_byte_order(arr)


class FlatSource(OneFile, ArraySource):
    """Named arrays, some read on demand, with the DATA-001 view derived from a product's names.

    The base of :class:`ProductSource` and the ptychodus plugin reader: members
    live in :attr:`arrays` (read) or ``_lazy`` (objects with ``shape``,
    ``dtype``, ``ndim``, ``size``, ``compression`` and numpy-style ``[...]``
    reads of rows, like an h5py dataset). ``counts`` says whether the frames
    are photon counts, converted to amplitude by :meth:`frame_transform`.
    """

    layout = "canonical"
    position_units = "object pixels"
    counts = False

    def __init__(self, path: str, fmt: str) -> None:
        super().__init__({}, path)
        self.format = fmt
        self.notes: list[str] = []
        self._lazy: dict[str, Any] = {}
        self._frames_key: str | None = None
        self._summary: IntensitySummary | None = None

    def _alias(self, key: str, of: str, note: str) -> bool:
        """Present stored member ``of`` also as ``key`` (the DATA-001 view)."""
        if key in self or of not in self:
            return False
        if of in self._lazy:
            self._lazy[key] = self._lazy[of]
        else:
            self.arrays[key] = self.arrays[of]
        self.notes.append(note)
        return True

    def _first_mode(self, key: str, of: str, lead: int, what: str) -> None:
        """Derive a 2-D ``key`` from the first entry of the leading axes of ``of``."""
        if key in self or of not in self:
            return
        shape = self.info(of).shape
        if not 2 <= len(shape) <= 2 + lead:
            self.notes.append(f"{key}: not derived, '{of}' has shape {shape} (expected 2-D to {2 + lead}-D)")
            return
        first = (0,) * (len(shape) - 2)
        self.arrays[key] = np.ascontiguousarray(self.read(of)[first]) if first else self.read(of)
        if first:
            self.notes.append(f"{key}: {what} of '{of}' {shape}, i.e. {of}[{', '.join('0' * len(first))}]")
        else:
            self.notes.append(f"{key}: '{of}' as stored")

    def _derive_product(self) -> None:
        if "diffraction" in self:
            self._frames_key = "diffraction"
            self.notes.append(f"diffraction: '/{RAW_DATA_GROUP}/diffraction' (§12 bundle), as stored")
        if "xcoords" in self and "ycoords" in self:
            self.notes.append(f"xcoords, ycoords: '/{RAW_DATA_GROUP}' positions in object pixels, as stored")
        else:
            self._positions_from_metres()
        self._first_mode("probeGuess", "probe", 2, "first coherent and incoherent mode")
        self._first_mode("objectGuess", "object", 1, "first layer")

    def _positions_from_metres(self) -> None:
        needed = ["probe_position_x_m", "probe_position_y_m", "object"]
        needed += [attribute_key("object", a) for a in ("center_x_m", "center_y_m", "pixel_width_m", "pixel_height_m")]
        missing = [k for k in needed if k not in self]
        if missing:
            self.notes.append(f"xcoords, ycoords: not derived, the file lacks {', '.join(missing)}")
            return
        shape = self.info("object").shape
        scalars = {}
        for attr in ("center_x_m", "center_y_m", "pixel_width_m", "pixel_height_m"):
            value = self.arrays[attribute_key("object", attr)]
            scalars[attr] = float(value.reshape(-1)[0]) if value.size == 1 and value.dtype.kind in "biuf" else math.nan
        x_m = np.asarray(self.read("probe_position_x_m"), dtype=np.float64)
        y_m = np.asarray(self.read("probe_position_y_m"), dtype=np.float64)
        bad = [a for a, v in scalars.items() if not math.isfinite(v) or (a.startswith("pixel") and v <= 0)]
        if len(shape) not in (2, 3) or bad or x_m.ndim != 1 or x_m.shape != y_m.shape:
            why = (
                f"object@{', object@'.join(bad)} not a finite (positive) number"
                if bad
                else f"object shape {shape}, positions {x_m.shape} and {y_m.shape}"
            )
            self.notes.append(f"xcoords, ycoords: not derived ({why})")
            return
        height, width = shape[-2:]
        self.arrays["xcoords"] = (x_m - scalars["center_x_m"]) / scalars["pixel_width_m"] + (width - 1) / 2
        self.arrays["ycoords"] = (y_m - scalars["center_y_m"]) / scalars["pixel_height_m"] + (height - 1) / 2
        self.notes.append(
            "xcoords, ycoords: object pixels from probe_position_x_m/_y_m, x = (x_m - object@center_x_m) "
            f"/ object@pixel_width_m + (W - 1)/2 with W = {width} (y likewise, H = {height}): "
            "ptychodus's ObjectGeometry mapping"
        )

    def _derive_training(self) -> None:
        if self._alias("diffraction", "patterns", "diffraction: 'patterns' (photon counts), as stored"):
            self._frames_key = "patterns"
        self._alias("xcoords", "probe_position_x_px", "xcoords: 'probe_position_x_px' (object pixels)")
        self._alias("ycoords", "probe_position_y_px", "ycoords: 'probe_position_y_px' (object pixels)")
        if "bad_pixels" in self and self.info("bad_pixels").dtype.kind == "b":
            self._alias("mask", "bad_pixels", "mask: 'bad_pixels' (True = bad pixel)")
        self._first_mode("probeGuess", "probe", 1, "first incoherent mode")
        self._first_mode("objectGuess", "object", 1, "first layer")

    def keys(self) -> list[str]:
        """Return attributes, datasets and derived keys."""
        return [*self.arrays, *(k for k in self._lazy if k not in self.arrays)]

    def __contains__(self, key: object) -> bool:
        return key in self.arrays or key in self._lazy

    def info(self, key: str) -> ArrayInfo:
        """Return the header of ``key``."""
        if key in self._lazy:
            dset = self._lazy[key]
            compressed = dset.compression is not None
            return ArrayInfo(key, dset.dtype.newbyteorder("="), tuple(dset.shape), False, compressed)
        if key not in self.arrays:
            msg = f"'{self.path}' provides no array '{key}' (keys: {', '.join(self.keys())})"
            raise InputError(msg, self.path)
        return super().info(key)

    def read(self, key: str) -> np.ndarray:
        """Read ``key`` whole, native byte order."""
        if key not in self._lazy:
            self.info(key)
            return self.arrays[key]
        info = self.info(key)
        check_budget(info.nbytes, f"reading '{key}' from '{self.path}'")
        return native_byte_order(np.asarray(self._lazy[key][()]))

    def iter_blocks(self, key: str, block_bytes: int | None = None) -> Iterator[np.ndarray]:
        """Yield ``key`` flat, in blocks of whole rows for the datasets read on demand."""
        if key not in self._lazy:
            yield from super().iter_blocks(key, block_bytes)
            return
        for _, rows in self._row_blocks(key, BLOCK_BYTES if block_bytes is None else int(block_bytes)):
            yield rows.reshape(-1)

    def _row_blocks(self, key: str, block_bytes: int) -> Iterator[tuple[int, np.ndarray]]:
        dset = self._lazy[key]
        if dset.ndim == 0:
            yield 0, native_byte_order(np.asarray(dset[()]))
            return
        row_bytes = max(1, int(np.prod(dset.shape[1:], dtype=np.int64)) * dset.dtype.itemsize)
        step = max(1, block_bytes // row_bytes)
        for start in range(0, dset.shape[0], step):
            yield start, native_byte_order(np.asarray(dset[start : start + step]))

    def take(self, key: str, indices: Sequence[int] | np.ndarray, axis: int = 0) -> np.ndarray:
        """Gather entries ``indices`` along the first or last axis of ``key``."""
        info = self.info(key)
        axis, idx = gather_indices(self.path, info, indices, axis)
        if key not in self._lazy:
            return np.ascontiguousarray(np.take(self.arrays[key], idx, axis=axis))
        shape = list(info.shape)
        shape[axis] = idx.size
        check_budget(int(np.prod(shape, dtype=np.int64)) * info.dtype.itemsize, f"gathering '{key}'")
        if axis != 0:
            return np.ascontiguousarray(np.take(self.read(key), idx, axis=axis))
        uniq, inverse = np.unique(idx, return_inverse=True)
        rows = (
            native_byte_order(np.asarray(self._lazy[key][uniq]))
            if uniq.size
            else np.empty([0, *info.shape[1:]], info.dtype)
        )
        return np.ascontiguousarray(rows[inverse.reshape(-1)])

    def frame_transform(self, frames: np.ndarray) -> np.ndarray:
        """Convert photon counts to amplitude as ``convert`` does; amplitude frames pass unchanged."""
        if not self.counts:
            return frames
        return counts_to_amplitude(frames, self.arrays.get("mask"), self.intensity_summary().scale)

    def frame_transform_notes(self) -> list[str]:
        """Describe the frame conversion (photon counts) and the derived keys."""
        notes = [n for n in self.notes if n]
        if not self.counts or self._frames_key is None:
            return notes
        return counts_notes(self.intensity_summary(), f"'{self._frames_key}'") + notes

    def intensity_summary(self, progress: bool | None = None) -> IntensitySummary:
        """Scan every frame once for the amplitude scale (cached)."""
        if self._summary is None:
            blocks = (
                self._row_blocks("diffraction", BLOCK_BYTES)
                if "diffraction" in self._lazy
                else [(0, self.arrays["diffraction"])]
            )
            self._summary = summarize_counts(blocks, self.info("diffraction"), self.arrays.get("mask"), progress)
        return self._summary


class ProductSource(FlatSource):
    """A ptychodus product or training-data HDF5 file; a :class:`~ptyevidence.readers.base.Source`.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.h5`` file.
    kind : {"ptychodus-product", "ptychodus-training"} or None
        The layout; None recognizes it (:func:`product_layout`).
    allow_external_links : bool or None
        Read virtual datasets and external raw storage (refused by default);
        None takes the process-wide policy (:mod:`ptyevidence.readers.links`).

    Attributes
    ----------
    format : str
        The layout.
    layout : str
        ``"canonical"``: both layouts store frames ``(N, H, W)``.
    notes : list of str
        What was derived, from what, and what could not be.

    Raises
    ------
    InputError
        If the file is not HDF5 or holds neither layout.

    Examples
    --------
    >>> import h5py, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "product.h5")
    >>> with h5py.File(path, "w") as f:
    ...     f.attrs["photon_energy_eV"] = 8000.0
    ...     f["probe_position_x_m"] = np.array([0.0, 1e-7])
    ...     f["probe_position_y_m"] = np.zeros(2)
    ...     f["object"] = np.ones((1, 9, 9), np.complex64)
    ...     f["object"].attrs.update(center_x_m=0.0, center_y_m=0.0, pixel_width_m=1e-8,
    ...                              pixel_height_m=1e-8)
    >>> with ProductSource(path) as src:
    ...     print(src.read("@photon_energy_eV"), src.read("xcoords").tolist())
    8000.0 [4.0, 14.0]
    """

    def __init__(
        self, path: str | os.PathLike, kind: str | None = None, allow_external_links: bool | None = None
    ) -> None:
        import h5py

        path = os.fspath(path)
        check_readable_file(path)
        kind = kind or product_layout(path)
        if kind not in (PRODUCT_FORMAT, TRAINING_FORMAT):
            msg = (
                f"'{path}' is not a ptychodus product (root datasets {', '.join(_PRODUCT_MARKS)}) "
                f"nor training data ('patterns' and {', '.join(_TRAINING_MARKS)})"
            )
            raise InputError(msg, path)
        super().__init__(path, kind)
        self.counts = kind == TRAINING_FORMAT
        try:
            self._file = h5py.File(path, "r")
        except OSError as exc:
            msg = f"'{path}' is not a readable HDF5 file ({exc})"
            raise InputError(msg, path) from None
        self._links = LinkedFile(self._file, path, allow_external_links)
        try:
            with hdf5_read_errors(f"'{path}'", path):
                self._read_members(h5py)
            if self.format == TRAINING_FORMAT:
                self._derive_training()
            else:
                self._derive_product()
        except Exception:
            self._file.close()
            raise

    def _read_members(self, h5py: Any) -> None:
        for name, value in self._file.attrs.items():
            self.arrays[attribute_key("", name)] = _text_or_array(value)
        datasets: list[tuple[str, Any]] = []
        self._file.visititems(lambda name, obj: datasets.append((name, obj)) if isinstance(obj, h5py.Dataset) else None)
        for name, dset in datasets:
            # Virtual parts, external raw storage and missing filters, under the link policy.
            self._links.check_dataset(dset, name)
            key = name.removeprefix(f"{RAW_DATA_GROUP}/")
            if key in self.arrays or key in self._lazy:
                key = name  # a raw_data member shadowing a root dataset keeps its path
            if dset.size * dset.dtype.itemsize > _EAGER_BYTES:
                # Large members are read on demand; one of objects or records is never read.
                self._lazy[key] = dset
            else:
                with hdf5_read_errors(f"'{self.path}': dataset '{name}'", self.path):
                    self.arrays[key] = _text_or_array(dset[()])
            for attr, value in dset.attrs.items():
                self.arrays[attribute_key(key, attr)] = _text_or_array(value)

    def close(self) -> None:
        """Close the file and the files its external links opened."""
        self._links.close()

    def linked_files(self) -> list[str]:
        """Return the other files the datasets read from (only with ``allow_external_links``)."""
        return list(self._links.linked)
