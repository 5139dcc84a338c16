"""Read any file ptychodus can read, through ptychodus's own plugin registry (optional extra).

ptychodus registers one reader plugin per beamline or file format for each
kind of data (diffraction patterns, probe positions, products).
:class:`PtychodusSource` asks the registry, once per process
(:func:`load_registry`), and presents what the plugins return as a
:class:`~ptyevidence.readers.base.Source`:

- a diffraction dataset: ``diffraction`` ``(N, H, W)`` as ptychodus returns it
  (photon counts, converted to amplitude by :meth:`~PtychodusSource.frame_transform`
  like ``convert`` does), ``indexes`` (its pattern indexes), ``mask`` (its bad
  pixels, when any) and the detector metadata as ``diffraction@...`` attributes;
- a product: the vocabulary of ptychodus's HDF5 product (``probe_position_x_m``,
  ``probe`` ``(C, I, H, W)``, ``object`` ``(L, H, W)``, ``@photon_energy_eV``,
  ``object@pixel_width_m``...), and the DATA-001 view derived from it as in
  :mod:`ptyevidence.readers.product`;
- a positions file: its positions, in metres.

Frames stream where ptychodus's arrays are lazy (its HDF5-family readers
hold a file and dataset path, read here frame block by frame block); readers
that load everything at ``read()`` (NPZ, NPY, SLAC NPZ, training data...)
are said to be eager in :attr:`PtychodusSource.notes`.

Plugins are chosen by name (``plugin``: a simple or display name, as
``--reader ptychodus:NAME``) or, without one, by trying those whose file
filter matches the file name, ptychodus's own formats first, keeping the
first result that holds data.

The extra cannot be declared as a pip extra (ptychodus's declared
dependencies pull in a machine-learning stack its file I/O never imports):
``pip install --no-deps ptychodus==1.7.0`` plus the packages of
``requirements/ptychodus.txt`` (see ``docs/formats.md``).
"""

from __future__ import annotations

import contextlib
import fnmatch
import functools
import importlib.util
import logging
import os
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..exceptions import InputError, MissingExtraError
from .common import check_readable_file, native_byte_order
from .product import FlatSource, attribute_key

__all__ = [
    "EXTRA_HINT",
    "PTYCHODUS_FORMAT",
    "PtychodusSource",
    "available",
    "load_registry",
    "plugin_names",
]

PTYCHODUS_FORMAT = "ptychodus"
#: What to do when the extra is missing (quoted in every message that needs it).
EXTRA_HINT = (
    "install the `ptychodus` extra to read this format (pip install --no-deps -r "
    "requirements/ptychodus.txt; see docs/formats.md)"
)
#: Reader kinds asked, in order: (label, registry attribute).
KINDS = (
    ("diffraction", "diffraction_file_readers"),
    ("product", "product_file_readers"),
    ("positions", "probe_position_file_readers"),
)
#: ptychodus's own formats are tried before the beamline formats that share their suffixes.
_PREFERRED = ("HDF5", "CXI", "NPZ", "Ptychodus_Training_Data", "SLAC_NPZ", "NPY")
_FILTER = re.compile(r"\(([^)]*)\)\s*$")
#: Failed plugin attempts quoted in the error when none reads a file.
_SHOWN_FAILURES = 3


def available() -> bool:
    """Return True when ptychodus can be imported."""
    return importlib.util.find_spec("ptychodus") is not None


def load_registry() -> Any:
    """Return ptychodus's plugin registry, loaded once per process.

    Plugin modules whose optional packages are missing are skipped by
    ptychodus itself; their import warnings (deprecated modules) are silenced.

    Raises
    ------
    MissingExtraError
        If ptychodus is not installed.
    """
    if not available():
        msg = f"ptychodus is not installed: {EXTRA_HINT}"
        raise MissingExtraError(msg, extra="ptychodus")
    return _registry()


@functools.lru_cache(maxsize=1)
def _registry() -> Any:
    with _quiet():
        from ptychodus.api.plugins import PluginRegistry

        return PluginRegistry.load_plugins()


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence ptychodus while it works: a plugin that fails logs its traceback before raising."""
    logger = logging.getLogger("ptychodus")
    level = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def plugin_names(kind: str | None = None) -> list[str]:
    """Return the simple names of ptychodus's reader plugins (of one kind, or all)."""
    registry = load_registry()
    names = {p.simple_name for label, attr in KINDS if kind in (None, label) for p in getattr(registry, attr)}
    return sorted(names, key=str.casefold)


def _patterns(display_name: str) -> list[str]:
    match = _FILTER.search(display_name)
    return match.group(1).split() if match else []


def _candidates(chooser: Any, path: str, plugin: str | None) -> list[Any]:
    if plugin is not None:
        wanted = plugin.casefold()
        return [p for p in chooser if wanted in (p.simple_name.casefold(), p.display_name.casefold())]
    name = os.path.basename(path).lower()
    matching = [p for p in chooser if any(fnmatch.fnmatch(name, pat.lower()) for pat in _patterns(p.display_name))]
    rank = {n.casefold(): i for i, n in enumerate(_PREFERRED)}
    return sorted(matching, key=lambda p: rank.get(p.simple_name.casefold(), len(rank)))


def _usable(kind: str, result: Any) -> str | None:
    """Return why a plugin's result holds no data, or None when it does."""
    if kind == "diffraction":
        counts = list(result.get_metadata().num_patterns_per_array)
        return None if len(result) and sum(counts) > 0 else "no diffraction patterns"
    positions = result.probe_positions if kind == "product" else result
    return None if len(positions) else "no probe positions"


class _PatternStack:
    """ptychodus's diffraction arrays as one ``(N, H, W)`` stack, read on demand like an h5py dataset."""

    compression = None
    ndim = 3

    def __init__(self, dataset: Any, path: str) -> None:
        self._parts: list[tuple[int, Any]] = []  # (first row, array)
        self._eager: dict[int, np.ndarray] = {}
        self.lazy = True
        first, shape, dtype = 0, None, None
        for array in dataset:
            rows, frame, kind = self._header(array, path)
            if shape is not None and frame != shape:
                msg = f"'{path}': ptychodus returned arrays of frames {shape} and {frame}; one stack is expected"
                raise InputError(msg, path)
            shape, dtype = frame, kind if dtype is None else np.result_type(dtype, kind)
            self._parts.append((first, array))
            first += rows
        self.shape = (first, *shape)
        self.dtype = np.dtype(dtype).newbyteorder("=")
        self.size = int(np.prod(self.shape, dtype=np.int64))

    def _header(self, array: Any, path: str) -> tuple[int, tuple[int, int], np.dtype]:
        source = self._h5_location(array)
        if source is not None:
            import h5py

            with h5py.File(source[0], "r") as fh:
                dset = fh[source[1]]
                if dset.ndim != 3:
                    msg = f"'{path}': '{source[1]}' has shape {dset.shape}; expected (N, H, W) frames"
                    raise InputError(msg, path)
                return int(dset.shape[0]), tuple(dset.shape[1:]), dset.dtype
        self.lazy = False
        patterns = np.asarray(array.get_patterns())
        if patterns.ndim != 3:
            msg = f"'{path}': ptychodus returned patterns of shape {patterns.shape}; expected (N, H, W)"
            raise InputError(msg, path)
        self._eager[id(array)] = patterns
        return int(patterns.shape[0]), tuple(patterns.shape[1:]), patterns.dtype

    @staticmethod
    def _h5_location(array: Any) -> tuple[str, str] | None:
        # ptychodus 1.7's H5DiffractionPatternArray keeps only where its frames are,
        # and re-reads them all on each get_patterns(); reading its rows here streams.
        location = (getattr(array, "_file_path", None), getattr(array, "_data_path", None))
        return (os.fspath(location[0]), location[1]) if all(location) else None

    def _rows(self, array: Any, local: Any) -> np.ndarray:
        source = self._h5_location(array)
        if source is None:
            return self._eager[id(array)][local]
        import h5py

        with h5py.File(source[0], "r") as fh:
            return np.asarray(fh[source[1]][local])

    def __getitem__(self, selection: Any) -> np.ndarray:
        whole = isinstance(selection, tuple) and not selection
        rows = np.arange(self.shape[0])[slice(None) if whole else selection]
        out = np.empty((rows.size, *self.shape[1:]), self.dtype)
        for i, (first, array) in enumerate(self._parts):
            stop = self._parts[i + 1][0] if i + 1 < len(self._parts) else self.shape[0]
            inside = np.flatnonzero((rows >= first) & (rows < stop))
            if inside.size:
                local = rows[inside] - first
                lo, hi = int(local.min()), int(local.max()) + 1
                block = self._rows(array, slice(lo, hi))
                out[inside] = block[local - lo]
        return native_byte_order(out)


class PtychodusSource(FlatSource):
    """A file read by ptychodus's reader plugins; a :class:`~ptyevidence.readers.base.Source`.

    Parameters
    ----------
    path : str or os.PathLike
        Any file a ptychodus reader plugin reads.
    plugin : str or None
        The plugin's simple or display name (``CXI``, ``SLAC_NPZ``...): it
        reads every kind it is registered for. None tries the plugins whose
        file filter matches the name.

    Attributes
    ----------
    plugins : dict
        Kind (``diffraction``, ``product``, ``positions``) -> the simple name of
        the plugin that read it.
    notes : list of str
        Which plugin read what, eager or lazy, and what was derived.

    Raises
    ------
    MissingExtraError
        If ptychodus is not installed.
    InputError
        If no plugin reads the file (every attempt named), or ``plugin``
        names no reader.
    """

    counts = True

    def __init__(self, path: str | os.PathLike, plugin: str | None = None) -> None:
        path = os.fspath(path)
        check_readable_file(path)
        registry = load_registry()
        super().__init__(path, PTYCHODUS_FORMAT)
        self.plugins: dict[str, str] = {}
        failures: list[str] = []
        tried = False
        for kind, attr in KINDS:
            if kind == "positions" and "product" in self.plugins:
                continue  # every product reader is also registered as a positions reader
            for candidate in _candidates(getattr(registry, attr), path, plugin):
                tried = True
                result, why = self._try(candidate, path, kind)
                if result is None:
                    failures.append(f"{kind} plugin {candidate.simple_name}: {why}")
                    continue
                self.plugins[kind] = candidate.simple_name
                getattr(self, f"_add_{kind}")(result, candidate.simple_name)
                break
        if not self.plugins:
            self._refuse(path, plugin, tried, failures)
        if "product" in self.plugins:
            self._derive_product()
            if "xcoords" not in self:
                self._positions_in_metres()
        self.format = f"{PTYCHODUS_FORMAT}:{'+'.join(dict.fromkeys(self.plugins.values()))}"

    @staticmethod
    def _try(candidate: Any, path: str, kind: str) -> tuple[Any, str]:
        try:
            with _quiet():
                result = candidate.strategy.read(Path(path))
                why = _usable(kind, result)
        except Exception as exc:  # noqa: BLE001 - a plugin's failure is a finding, not a crash
            return None, f"{type(exc).__name__}: {exc}".strip()[:200]
        return (None, why) if why else (result, "")

    def _refuse(self, path: str, plugin: str | None, tried: bool, failures: list[str]) -> None:
        if plugin is not None and not tried:
            msg = f"ptychodus has no reader plugin named '{plugin}'; its readers: {', '.join(plugin_names())}"
            raise InputError(msg, path)
        if not tried:
            msg = (
                f"'{path}': no ptychodus reader plugin's file filter matches "
                f"'{os.path.basename(path)}'; name one with reader='ptychodus:NAME'"
            )
            raise InputError(msg, path)
        shown = "; ".join(failures[:_SHOWN_FAILURES])
        more = f"; and {len(failures) - _SHOWN_FAILURES} more" if len(failures) > _SHOWN_FAILURES else ""
        msg = f"'{path}': none of {len(failures)} ptychodus reader plugin(s) read it ({shown}{more})"
        raise InputError(msg, path)

    def _add_diffraction(self, dataset: Any, name: str) -> None:
        stack = _PatternStack(dataset, self.path)
        self._lazy["diffraction"] = stack
        self._frames_key = "diffraction"
        self.arrays["indexes"] = np.concatenate([np.asarray(a.get_indexes()) for a in dataset]).astype(np.int64)
        bad = np.asarray(dataset.get_bad_pixels(), dtype=bool)
        if bad.shape == stack.shape[1:] and bad.any():
            self.arrays["mask"] = bad
        meta = dataset.get_metadata()
        scalars = {
            "photon_energy_eV": meta.photon_energy_eV,
            "detector_distance_m": meta.detector_distance_m,
            "exposure_time_s": meta.exposure_time_s,
            "probe_photon_count": meta.probe_photon_count,
        }
        if meta.detector_pixel_geometry is not None:
            scalars["detector_pixel_width_m"] = meta.detector_pixel_geometry.width_m
            scalars["detector_pixel_height_m"] = meta.detector_pixel_geometry.height_m
        for attr, value in scalars.items():
            if value is not None:
                self.arrays[attribute_key("diffraction", attr)] = np.array(float(value))
        streamed = "streamed frame block by frame block from its HDF5 dataset"
        how = streamed if stack.lazy else "loaded whole by the plugin (eager)"
        self.notes.append(
            f"diffraction: ptychodus plugin {name}, {stack.shape[0]} frames {stack.shape[1:]} "
            f"{stack.dtype}, {how}; ptychodus treats them as photon counts"
        )
        if name.casefold() == "slac_npz":
            self.notes.append(
                "SLAC_NPZ always transposes 'diffraction' by [2, 0, 1]: frame k is "
                "diffraction[:, :, k] of the file, whatever its shape"
            )

    def _add_product(self, product: Any, name: str) -> None:
        from ptychodus.api.io import ProductFileKeys as K

        meta = product.metadata
        root = {
            K.NAME: meta.name,
            K.COMMENTS: meta.comments,
            K.DETECTOR_OBJECT_DISTANCE: meta.detector_distance_m,
            K.PHOTON_ENERGY: meta.photon_energy_eV,
            K.PROBE_PHOTON_COUNT: meta.probe_photon_count,
            K.EXPOSURE_TIME: meta.exposure_time_s,
            K.MASS_ATTENUATION: meta.mass_attenuation_m2_per_kg,
            K.TOMOGRAPHY_ANGLE: meta.tomography_angle_deg,
        }
        for attr, value in root.items():
            self.arrays[attribute_key("", attr)] = np.array(value)
        self._add_positions(product.probe_positions, name)
        probes, obj = product.probes, product.object_
        self.arrays[K.PROBE_ARRAY] = np.asarray(probes.get_array())
        weights = probes.get_opr_weights_or_none()
        if weights is not None:
            self.arrays[K.OPR_WEIGHTS] = np.asarray(weights, dtype=np.float64)
        self._geometry(K.PROBE_ARRAY, probes, {K.PROBE_PIXEL_WIDTH: "width_m", K.PROBE_PIXEL_HEIGHT: "height_m"})
        self.arrays[K.OBJECT_ARRAY] = np.asarray(obj.get_array())
        self._geometry(K.OBJECT_ARRAY, obj, {K.OBJECT_PIXEL_WIDTH: "width_m", K.OBJECT_PIXEL_HEIGHT: "height_m"})
        try:
            center = obj.get_center()
        except ValueError:
            self.notes.append(f"object: ptychodus plugin {name} gives no object centre")
        else:
            self.arrays[attribute_key(K.OBJECT_ARRAY, K.OBJECT_CENTER_X)] = np.array(float(center.x_m))
            self.arrays[attribute_key(K.OBJECT_ARRAY, K.OBJECT_CENTER_Y)] = np.array(float(center.y_m))
        self.arrays[K.OBJECT_LAYER_SPACING] = np.asarray(obj.layer_spacing_m, dtype=np.float64)
        self.arrays[K.LOSS_EPOCHS] = np.array([loss.epoch for loss in product.losses], dtype=np.int64)
        self.arrays[K.LOSS_VALUES] = np.array([loss.value for loss in product.losses], dtype=np.float64)
        self.notes.append(f"product: ptychodus plugin {name}, in the names of its HDF5 product file")

    def _geometry(self, dataset: str, part: Any, attrs: dict[str, str]) -> None:
        try:
            pixel = part.get_pixel_geometry()
        except ValueError:
            self.notes.append(f"{dataset}: the plugin gives no pixel size")
            return
        for attr, field in attrs.items():
            self.arrays[attribute_key(dataset, attr)] = np.array(float(getattr(pixel, field)))

    def _add_positions(self, positions: Any, name: str) -> None:
        from ptychodus.api.io import ProductFileKeys as K

        self.arrays[K.PROBE_POSITION_INDEXES] = np.asarray(positions.get_indexes(), dtype=np.int64)
        self.arrays[K.PROBE_POSITION_X] = np.asarray(positions.get_coordinates_x_m(), dtype=np.float64)
        self.arrays[K.PROBE_POSITION_Y] = np.asarray(positions.get_coordinates_y_m(), dtype=np.float64)
        if "product" not in self.plugins:
            self._positions_in_metres()

    def _positions_in_metres(self) -> None:
        # Without an object grid (a positions file, or a product whose object has no
        # pixel size) the positions can only stay in metres.
        self.position_units = "m"
        self.arrays["xcoords"] = self.arrays["probe_position_x_m"]
        self.arrays["ycoords"] = self.arrays["probe_position_y_m"]
        self.notes.append("xcoords, ycoords: in metres (no object pixel size to put them in object pixels)")

    def close(self) -> None:
        """Nothing stays open: ptychodus's lazy arrays re-open their file on each read."""
