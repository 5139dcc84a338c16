"""Check that a dataset file feeds a PyTorch ``DataLoader`` as a pipeline expects.

PyTorch is optional: this module imports without it, and the functions that
need it raise :class:`TorchNotInstalledError` (exit code 2 on the command
line) with :data:`TORCH_MISSING_MESSAGE`. :func:`observed_torch_column` turns
a :func:`check_torch_loading` report into the "observed torch" column of a
gap matrix.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .._format import aligned_rows, shape_text
from .._memory import check_budget
from ..contract.binding import bind
from ..contract.model import DatasetContract, FieldSpec, load_contract
from ..exceptions import InputError, TorchNotInstalledError, UsageError
from ..readers.base import Source
from ..readers.metadata import METADATA_KEY
from ..readers.registry import open_source

__all__ = [
    "COORDS_DTYPES",
    "TORCH_MISSING_MESSAGE",
    "FixtureDataset",
    "TensorCheck",
    "TorchCheckReport",
    "TorchNotInstalledError",
    "check_torch_loading",
    "expected_dtype",
    "observed_torch_column",
    "torch_available",
]

#: Message of :class:`TorchNotInstalledError`, printed by ``ptyevidence torch-check``.
TORCH_MISSING_MESSAGE = "PyTorch is not installed; install the `torch` extra"
#: Dtypes a caller may ask for scan coordinates (``coords.*`` roles).
COORDS_DTYPES = ("float64", "float32")
#: Batches that may wait in the queue of each worker (the DataLoader default).
_PREFETCH = 2
#: Seconds a worker may take for one batch before the check gives up.
_WORKER_TIMEOUT = 300


def torch_available() -> bool:
    """Return True when PyTorch can be imported, without importing it.

    A folder called ``torch`` on ``sys.path`` (such as a test folder) is a
    namespace package, not PyTorch, and does not count.

    Returns
    -------
    bool
        Whether :func:`check_torch_loading` can run.
    """
    try:
        spec = importlib.util.find_spec("torch")
    except (ImportError, ValueError):
        return False
    return spec is not None and spec.origin not in (None, "namespace")


def _import_torch() -> Any:
    """Import and return ``torch``, or raise :class:`TorchNotInstalledError`."""
    if "torch" not in sys.modules and not torch_available():
        # Never import a bare folder named "torch": in sys.modules it would pass for PyTorch to
        # other libraries (ptychodus's plugins) later in the process.
        raise TorchNotInstalledError(TORCH_MISSING_MESSAGE)
    try:
        torch = importlib.import_module("torch")
    except ModuleNotFoundError as exc:
        if exc.name not in (None, "torch"):
            msg = f"PyTorch cannot be imported: {exc}; reinstall the `torch` extra"
            raise TorchNotInstalledError(msg) from None
        raise TorchNotInstalledError(TORCH_MISSING_MESSAGE) from None
    except ImportError as exc:
        msg = f"PyTorch is installed but cannot be imported ({exc}); reinstall the `torch` extra"
        raise TorchNotInstalledError(msg) from None
    if getattr(torch, "__file__", None) is None:
        # A bare folder named "torch" imported as a namespace package.
        raise TorchNotInstalledError(TORCH_MISSING_MESSAGE)
    return torch


def expected_dtype(
    role: str, coords_dtype: str = "float64", contract: str | os.PathLike | DatasetContract = "data001"
) -> str | None:
    """Return the numpy name of the tensor dtype a role is loaded as.

    A role is loaded as the canonical (first) dtype of the contract's field
    of that role; coordinates as ``coords_dtype``.

    Parameters
    ----------
    role : str
        Contract role of a field (``diffraction``, ``probe``, ``coords.x`` ...).
    coords_dtype : {"float64", "float32"}
        Dtype of every ``coords*`` role.
    contract : str, path or DatasetContract
        Contract whose fields give the dtypes (default ``data001``).

    Returns
    -------
    str or None
        ``"float32"``, ``"complex64"``, ... or None when the role keeps the
        file's dtype (no such field, or one of any dtype or text).

    Examples
    --------
    >>> expected_dtype("diffraction"), expected_dtype("probe")
    ('float32', 'complex64')
    >>> expected_dtype("coords.x", coords_dtype="float32")
    'float32'
    """
    fields = load_contract(contract).fields_with_role(role)
    return _tensor_dtype(fields[0], coords_dtype) if fields else None


def _tensor_dtype(spec: FieldSpec, coords_dtype: str) -> str | None:
    if spec.role.startswith("coords"):
        return coords_dtype
    canonical = spec.dtypes[0] if spec.dtypes else None
    return canonical if canonical not in (None, "any", "unicode", "structured") else None


@dataclass(frozen=True)
class _Member:
    """How :class:`FixtureDataset` reads one file key."""

    key: str
    role: str
    per_item: bool
    legacy: bool
    dtype: str


class FixtureDataset:
    """Map-style dataset over a dataset file, one item per scan position.

    Item ``i`` is a dict of tensors: row ``i`` of every per-position field
    of the contract binding, plus the dataset-wide fields (``probeGuess``,
    ``objectGuess``) repeated with every item, as PtychoPINN's loaders hand
    the probe to every sample. Each tensor has its field's canonical contract
    dtype; coordinates have ``coords_dtype``. Uncompressed NPZ members are
    memory-mapped, others read whole once (budget checked); files are opened
    lazily in each process, so the dataset pickles cheaply into workers.

    Parameters
    ----------
    path : str or path
        Dataset file.
    contract : str, path or DatasetContract
        Contract that names fields and roles (default ``data001``).
    layout : {"auto", "canonical", "legacy"}
        Stored order of the diffraction stack.
    coords_dtype : {"float64", "float32"}
        Tensor dtype of the coordinates.

    Attributes
    ----------
    members : tuple of _Member
        Loaded keys in file order with their role and tensor dtype.
    missing : tuple of str
        Required contract fields the file lacks.
    notes : tuple of str
        Keys not loaded and why.
    layout : str
        Resolved layout of the diffraction stack.

    Raises
    ------
    InputError
        If the file has no stack (the contract's layout field) or a
        per-position field disagrees with it in length.
    UsageError
        If ``coords_dtype`` is not one of :data:`COORDS_DTYPES`, or the
        contract has no layout field.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        contract: str | os.PathLike | DatasetContract = "data001",
        layout: str = "auto",
        coords_dtype: str = "float64",
    ) -> None:
        if coords_dtype not in COORDS_DTYPES:
            msg = f"coords dtype '{coords_dtype}' is not one of {', '.join(COORDS_DTYPES)}"
            raise UsageError(msg)
        self.path = os.fspath(path)
        self.contract = contract if isinstance(contract, DatasetContract) else load_contract(contract)
        self.coords_dtype = coords_dtype
        with open_source(self.path) as source:
            self._plan(source, layout)
        self._arrays: dict[str, np.ndarray] | None = None

    def _plan(self, source: Any, layout: str) -> None:
        """Decide which keys load, per item or whole, from the binding to the contract."""
        contract = self.contract
        if not contract.layout:
            msg = (
                f"contract '{contract.name}' has no layout field (a stack with one frame per "
                "position) to index items by; pass a dataset contract such as data001"
            )
            raise UsageError(msg)
        binding = bind(contract, source, layout)
        present = list(source.keys())
        stack = contract.layout["field"]
        if stack not in binding.fields:
            msg = (
                f"'{self.path}' has no '{stack}' array (keys: {', '.join(present)}); "
                "nothing to load; run `ptyevidence validate` on it for the full list of gaps"
            )
            raise InputError(msg, self.path)
        notes = [
            f"'{key}' repeats field '{spec.name}'; not loaded"
            if (spec := contract.field_named(key)) is not None
            else f"'{key}' is not a field of contract {contract.name}; not loaded"
            for key in binding.unknown
            if key != METADATA_KEY
        ]
        self.missing = tuple(s.name for s in contract.fields if s.required and s.name not in binding.fields)
        # A stack that is not a readable 3-D array is read as stored.
        self.layout = binding.layout or "canonical"
        stack_key = binding.fields[stack].key
        if self.layout == "legacy":
            notes.append(f"'{stack_key}' is stored (H, W, N); item i is the frame [:, :, i]")
        # The file's embedded JSON record is not an array to load.
        loaded = sorted(
            (f for f in binding.fields.values() if f.key != METADATA_KEY), key=lambda f: present.index(f.key)
        )
        notes += [f"'{f.key}' is loaded as field '{f.name}' (an alias)" for f in loaded if f.alias_severity]
        self.n_items = binding.fields[stack].shape[0]
        members = []
        for bound in loaded:
            length = bound.shape[0] if bound.shape else None
            if bound.per_scan and length != self.n_items:
                msg = (
                    f"'{self.path}': '{bound.key}' has {length} entries but '{stack_key}' holds "
                    f"{self.n_items} frames; run `ptyevidence validate` on it for the details"
                )
                raise InputError(msg, self.path)
            spec = contract.field_named(bound.name)
            dtype = _tensor_dtype(spec, self.coords_dtype) or _native_name(bound.dtype)
            legacy = bound.name == stack and self.layout == "legacy"
            members.append(_Member(bound.key, spec.role, bound.per_scan, legacy, dtype))
        self.members = tuple(members)
        self.notes = tuple(notes)

    def __len__(self) -> int:
        return self.n_items

    def __getstate__(self) -> dict[str, Any]:
        # Workers reopen the file instead of receiving copies of the arrays.
        state = dict(self.__dict__)
        state["_arrays"] = None
        return state

    def arrays(self) -> dict[str, np.ndarray]:
        """Return the loaded keys as arrays (memory maps where possible).

        Per-position stacks are in (N, ...) order whatever the stored layout.
        """
        if self._arrays is None:
            self._arrays = {}
            with open_source(self.path) as source:
                for m in self.members:
                    self._arrays[m.key] = self._open_member(source, m)
        return self._arrays

    def _open_member(self, source: Source, m: _Member) -> np.ndarray:
        info = source.info(m.key)
        offset = info.data_offset
        if offset is not None and not info.compressed:
            stored = info.shape[::-1] if info.fortran_order else info.shape
            if info.nbytes:
                arr = np.memmap(self.path, info.dtype, "r", offset=offset, shape=stored)
            else:
                arr = np.empty(stored, info.dtype)
            arr = arr.T if info.fortran_order else arr
        else:
            arr = source.read(m.key)
        if m.legacy:
            arr = np.moveaxis(arr, -1, 0)
        if not m.per_item:
            # Read once and converted once: the same values go with every item.
            arr = np.array(arr, dtype=m.dtype, order="C")
        return arr

    def release(self) -> None:
        """Drop the memory maps and arrays; the next item reopens the file."""
        self._arrays = None

    def __getitem__(self, index: int) -> dict[str, Any]:
        torch = _import_torch()
        if not -self.n_items <= index < self.n_items:
            msg = f"index {index} is out of range for {self.n_items} scan positions"
            raise IndexError(msg)
        item = {}
        for m in self.members:
            arr = self.arrays()[m.key]
            # A fresh, writable, C-ordered copy: memory-map slices are read-only.
            value = np.array(arr[index], dtype=m.dtype, order="C") if m.per_item else arr
            item[m.key] = torch.from_numpy(value)
        return item


@dataclass(frozen=True)
class TensorCheck:
    """What the DataLoader delivered for one file key.

    Attributes
    ----------
    name : str
        File key (``diffraction``, ``probeGuess`` ...).
    role : str
        Contract role (``diffraction``, ``probe``, ``coords.x`` ...).
    per_item : bool
        True for per-position fields (row ``i`` of the file per item),
        False for dataset-wide fields repeated with every item.
    source_dtype : str
        Dtype stored in the file (numpy name).
    dtype : str
        Tensor dtype observed in every batch (``torch.float32``).
    expected_dtype : str
        Tensor dtype the role should have.
    item_shape : tuple of int
        Shape of one item's tensor.
    batch_shape : tuple of int
        Shape of the first batch, ``(batch_size,) + item_shape``.
    contiguous : bool
        Every item and batch tensor was contiguous.
    exact : bool
        Every value equals the file's value (NaN equal to NaN); False when the
        dtype conversion rounds, e.g. float64 coordinates as float32.
    max_abs_error : float
        Largest absolute difference from the file's value (0.0 when exact).
    problems : tuple of str
        Why this tensor fails the check; empty when it passes.
    """

    name: str
    role: str
    per_item: bool
    source_dtype: str
    dtype: str
    expected_dtype: str
    item_shape: tuple[int, ...]
    batch_shape: tuple[int, ...]
    contiguous: bool
    exact: bool
    max_abs_error: float
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when dtype, shapes and contiguity are as expected and values survive.

        Values may differ from the file only by the expected dtype conversion.
        """
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """Return the check as plain JSON-serializable data."""
        out = asdict(self)
        problems = out.pop("problems")
        shapes = {"item_shape": list(self.item_shape), "batch_shape": list(self.batch_shape)}
        return {**out, **shapes, "ok": self.ok, "problems": list(problems)}


@dataclass(frozen=True)
class TorchCheckReport:
    """Result of :func:`check_torch_loading`.

    Attributes
    ----------
    path : str
        Dataset file.
    contract : str
        Contract name.
    layout : str
        Resolved diffraction layout.
    n_items : int
        Scan positions (items of the dataset).
    batch_size : int
        Items per batch.
    num_workers : tuple of int
        Worker counts the DataLoader was iterated with.
    coords_dtype : str
        Requested coordinate dtype.
    torch_version : str
        ``torch.__version__``.
    tensors : tuple of TensorCheck
        One per loaded key, in file order.
    missing : tuple of str
        Required contract fields absent from the file.
    notes : tuple of str
        Keys not loaded, and warnings raised while loading.
    """

    path: str
    contract: str
    layout: str
    n_items: int
    batch_size: int
    num_workers: tuple[int, ...]
    coords_dtype: str
    torch_version: str
    tensors: tuple[TensorCheck, ...]
    missing: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        """True when no required field is missing and every tensor passes."""
        return not self.missing and all(t.ok for t in self.tensors)

    @property
    def verdict(self) -> str:
        """One line: PASS or FAIL with the counts."""
        bad = sum(not t.ok for t in self.tensors)
        workers = "/".join(str(w) for w in self.num_workers)
        head = (
            f"{len(self.tensors)} tensors, {self.n_items} items, batch size "
            f"{self.batch_size}, workers {workers}, torch {self.torch_version}"
        )
        if self.ok:
            return f"PASS: {head}"
        parts = [f"{bad} tensor(s) failed"] if bad else []
        if self.missing:
            parts.append(f"missing required field(s): {', '.join(self.missing)}")
        return f"FAIL: {'; '.join(parts)} ({head})"

    def to_dict(self) -> dict[str, Any]:
        """Return the report as plain JSON-serializable data."""
        return {
            "path": self.path,
            "contract": self.contract,
            "ok": self.ok,
            "verdict": self.verdict,
            "torch_version": self.torch_version,
            "layout": self.layout,
            "n_items": self.n_items,
            "batch_size": self.batch_size,
            "num_workers": list(self.num_workers),
            "coords_dtype": self.coords_dtype,
            "tensors": [t.to_dict() for t in self.tensors],
            "missing": list(self.missing),
            "notes": list(self.notes),
        }

    def to_text(self) -> str:
        """Return one aligned row per tensor, the problems and notes, then the verdict."""
        rows = [("TENSOR", "DTYPE", "ITEM SHAPE", "BATCH SHAPE", "CONTIGUOUS", "EXACT", "OK")]
        for t in self.tensors:
            exact = "yes" if t.exact else f"no (max error {t.max_abs_error:.3g})"
            rows.append(
                (
                    t.name,
                    t.dtype,
                    shape_text(t.item_shape),
                    shape_text(t.batch_shape),
                    _yes(t.contiguous),
                    exact,
                    _yes(t.ok),
                )
            )
        lines = aligned_rows(rows)
        lines += [f"problem: {t.name}: {p}" for t in self.tensors for p in t.problems]
        lines += [f"missing: {name} (required by {self.contract})" for name in self.missing]
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines + [self.verdict])


def check_torch_loading(
    fixture_path: str | os.PathLike,
    contract: str | os.PathLike | DatasetContract = "data001",
    batch_size: int = 8,
    num_workers: Sequence[int] = (0, 2),
    coords_dtype: str = "float64",
    layout: str = "auto",
) -> TorchCheckReport:
    """Load a dataset file through ``torch.utils.data.DataLoader`` and check every tensor.

    The file is wrapped in a :class:`FixtureDataset` and iterated in order
    (no shuffling, last batch kept) once per entry of ``num_workers``. Every
    batch is compared with the file's values read independently through
    :func:`ptyevidence.open_source`: dtype against the role's expected dtype
    (diffraction float32, probe/object complex64, coordinates
    ``coords_dtype``), shapes, contiguity, and values.

    Parameters
    ----------
    fixture_path : str or path
        Dataset file, typically a fixture from ``ptyevidence fixture make``.
    contract : str, path or DatasetContract
        Contract naming the fields and their roles.
    batch_size : int
        Items per batch, at least 1.
    num_workers : sequence of int
        Worker process counts to iterate with; 0 loads in this process.
    coords_dtype : {"float64", "float32"}
        Tensor dtype of the coordinates. float32 rounds float64 positions;
        the report then shows ``exact`` False without failing.
    layout : {"auto", "canonical", "legacy"}
        Stored order of the diffraction stack.

    Returns
    -------
    TorchCheckReport
        ``.ok``, ``.to_dict()``, ``.to_text()``.

    Raises
    ------
    TorchNotInstalledError
        If PyTorch cannot be imported.
    InputError
        If the file is unusable (see :class:`FixtureDataset`).
    UsageError
        If ``batch_size``, ``num_workers`` or ``coords_dtype`` is out of range.

    Examples
    --------
    >>> report = check_torch_loading("fixture.npz")  # doctest: +SKIP
    >>> report.ok, report.tensors[0].dtype  # doctest: +SKIP
    (True, 'torch.float32')
    """
    torch = _import_torch()
    data_module = importlib.import_module("torch.utils.data")
    workers = tuple(int(w) for w in num_workers)
    if batch_size < 1 or not workers or min(workers) < 0:
        msg = (
            f"batch size {batch_size} and worker counts {list(workers)} are out of range; "
            "use a batch size >= 1 and worker counts >= 0"
        )
        raise UsageError(msg)
    dataset = FixtureDataset(fixture_path, contract, layout=layout, coords_dtype=coords_dtype)
    first = dataset[0] if len(dataset) else {}
    item_bytes = sum(t.numel() * t.element_size() for t in first.values())
    check_budget(
        item_bytes * batch_size * (1 + max(workers) * _PREFETCH),
        f"loading batches of {batch_size} items from '{dataset.path}'",
    )
    reference = _read_reference(dataset)
    observed: dict[str, _Observed] = {m.key: _Observed() for m in dataset.members}
    notes = list(dataset.notes)
    for n_workers in workers:
        loader = data_module.DataLoader(
            dataset,
            batch_size=batch_size,
            shuffle=False,
            num_workers=n_workers,
            drop_last=False,
            timeout=_WORKER_TIMEOUT if n_workers else 0,
        )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            start = 0
            for batch in loader:
                stop = min(start + batch_size, len(dataset))
                for m in dataset.members:
                    observed[m.key].add(batch[m.key], reference[m.key], m, start, stop)
                start = stop
        if start != len(dataset):
            observed_count = f"{start} of {len(dataset)} items"
            for m in dataset.members:
                observed[m.key].problems.add(f"{n_workers} workers delivered {observed_count}")
        for w in caught:
            note = f"warning with {n_workers} workers: {w.message}"
            if note not in notes:
                notes.append(note)
    dataset.release()
    tensors = tuple(
        observed[m.key].result(m, first.get(m.key), reference[m.key].dtype, batch_size, len(dataset))
        for m in dataset.members
    )
    return TorchCheckReport(
        path=dataset.path,
        contract=dataset.contract.name,
        layout=dataset.layout,
        n_items=len(dataset),
        batch_size=batch_size,
        num_workers=workers,
        coords_dtype=coords_dtype,
        torch_version=str(torch.__version__),
        tensors=tensors,
        missing=dataset.missing,
        notes=tuple(notes),
    )


def observed_torch_column(report: TorchCheckReport, key: str = "role") -> dict[str, str]:
    """Summarize a report as one cell per field: the "observed torch" column of a gap matrix.

    Parameters
    ----------
    report : TorchCheckReport
        From :func:`check_torch_loading`.
    key : {"role", "field"}
        Index the cells by contract role (``coords.x``) or by file key (``xcoords``).

    Returns
    -------
    dict of str to str
        E.g. ``{"diffraction": "torch.float32 (8, 8) per item; exact"}``;
        missing required fields read ``"missing from the file"``.

    Examples
    --------
    >>> check = TensorCheck("probeGuess", "probe", False, "complex64", "torch.complex64",
    ...                     "torch.complex64", (8, 8), (4, 8, 8), True, True, 0.0)
    >>> report = TorchCheckReport("f.npz", "data001", "canonical", 4, 4, (0, 2), "float64",
    ...                           "2.x", (check,))
    >>> observed_torch_column(report)
    {'probe': 'torch.complex64 (8, 8) with every item; exact'}
    """
    if key not in ("role", "field"):
        msg = f"key '{key}' is not one of role, field"
        raise UsageError(msg)
    column = {}
    for t in report.tensors:
        where = "per item" if t.per_item else "with every item"
        values = "exact" if t.exact else f"rounded (max error {t.max_abs_error:.3g})"
        cell = f"{t.dtype} {shape_text(t.item_shape)} {where}; {values}"
        if t.problems:
            cell += "; " + "; ".join(t.problems)
        column[t.role if key == "role" else t.name] = cell
    if report.missing:
        contract = load_contract(report.contract)
        for name in report.missing:
            spec = contract.field_named(name)
            column[spec.role if key == "role" and spec else name] = "missing from the file"
    return column


class _Observed:
    """Accumulates what the batches of one key looked like across loaders."""

    def __init__(self) -> None:
        self.dtypes: set[str] = set()
        self.batch_shapes: list[tuple[int, ...]] = []
        self.contiguous = True
        self.exact = True
        self.max_abs_error = 0.0
        self.problems: set[str] = set()

    def add(self, tensor: Any, reference: np.ndarray, m: _Member, start: int, stop: int) -> None:
        self.dtypes.add(str(tensor.dtype))
        self.batch_shapes.append(tuple(tensor.shape))
        self.contiguous &= bool(tensor.is_contiguous())
        values = tensor.numpy()
        expected = (
            reference[start:stop] if m.per_item else np.broadcast_to(reference, (stop - start,) + reference.shape)
        )
        if values.shape != expected.shape:
            self.problems.add(f"batch of items {start}..{stop - 1} has shape {values.shape}; expected {expected.shape}")
            return
        if values.dtype == np.dtype(m.dtype) and not _same_values(values, expected.astype(m.dtype)):
            self.problems.add(
                f"items {start}..{stop - 1} differ from the file beyond the {reference.dtype} -> {m.dtype} conversion"
            )
        back = values.astype(reference.dtype)
        if not _same_values(back, expected):
            self.exact = False
            self.max_abs_error = max(self.max_abs_error, _max_abs_difference(back, expected))

    def result(self, m: _Member, item: Any, source_dtype: np.dtype, batch_size: int, n_items: int) -> TensorCheck:
        problems = set(self.problems)
        dtype = ", ".join(sorted(self.dtypes)) or "none"
        want = f"torch.{m.dtype}"
        if dtype != want:
            problems.add(f"dtype {dtype}; expected {want}")
        item_shape = tuple(item.shape) if item is not None else ()
        if item is not None and not item.is_contiguous():
            self.contiguous = False
        if not self.contiguous:
            problems.add("a tensor was not contiguous")
        if n_items and not self.batch_shapes:
            problems.add("no batch was delivered")
        expected_first = (min(batch_size, n_items),) + item_shape
        batch_shape = self.batch_shapes[0] if self.batch_shapes else ()
        if self.batch_shapes and batch_shape != expected_first:
            problems.add(f"first batch shape {batch_shape}; expected {expected_first}")
        return TensorCheck(
            name=m.key,
            role=m.role,
            per_item=m.per_item,
            source_dtype=_native_name(source_dtype),
            dtype=dtype,
            expected_dtype=want,
            item_shape=item_shape,
            batch_shape=batch_shape,
            contiguous=self.contiguous,
            exact=self.exact,
            max_abs_error=float(self.max_abs_error),
            problems=tuple(sorted(problems)),
        )


def _read_reference(dataset: FixtureDataset) -> dict[str, np.ndarray]:
    """Read every loaded key whole through the reader, in (N, ...) order."""
    out = {}
    with open_source(dataset.path) as source:
        for m in dataset.members:
            arr = source.read(m.key)
            out[m.key] = np.moveaxis(arr, -1, 0) if m.legacy else arr
    return out


def _same_values(a: np.ndarray, b: np.ndarray) -> bool:
    """Return True when ``a`` and ``b`` hold equal values (NaN equal to NaN)."""
    return bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))


def _max_abs_difference(a: np.ndarray, b: np.ndarray) -> float:
    """Largest finite ``|a - b|``; NaN/Inf positions count as mismatches elsewhere."""
    wide = np.complex128 if a.dtype.kind == "c" or b.dtype.kind == "c" else np.float64
    diff = np.abs(a.astype(wide) - b.astype(wide))
    diff = diff[np.isfinite(diff)]
    return float(diff.max()) if diff.size else 0.0


def _native_name(dtype: np.dtype) -> str:
    """Numpy name of ``dtype`` without byte order (``>f8`` -> ``float64``)."""
    return np.dtype(dtype).newbyteorder("=").name


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"
