"""The value checks a contract rule may name: the check table of validation.

Each entry of :data:`CHECK_TABLE` takes the running validation (a
:class:`CheckContext`) and one :class:`~ptyevidence.contract.model.Rule`,
records a finding for every violation it sees, and returns what it measured
(shown beside the verdict, e.g. in fixture notes), or None when the rule did
not apply (its fields are absent). Every threshold and parameter comes from
the rule: ``value`` and ``params`` in the contract JSON. Adding a kind of
check means a function here, its name in
:data:`~ptyevidence.contract.model.VALUE_CHECKS`, and its parameters in
``_REQUIRED_PARAMS`` there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

import numpy as np

from .._format import number_text
from .._json import parse_json
from ..exceptions import InputError
from ..readers.base import Source
from ..readers.layout import read_frames, resolve_layout
from ..readers.metadata import METADATA_KEY, read_metadata_member, read_metadata_value
from .binding import Binding
from .model import Rule

__all__ = ["CHECK_TABLE", "CheckContext", "lattice_fractions", "peak_corner_ratio"]

#: Frames sampled (evenly along the scan) by the checks that look at frame content.
_DEFAULT_SAMPLE_FRAMES = 64


class CheckContext(Protocol):
    """What a check sees of the validation run."""

    source: Source
    binding: Binding
    stats: Mapping[str, Any]
    record: Mapping[str, Any] | None
    record_problem: str | None

    def add(self, rule: str, fld: str, severity: str, message: str) -> None:
        """Record a finding."""

    def readable(self, name: str) -> bool:
        """Return True for a numeric field found in the file."""


def _key(ctx: CheckContext, name: str) -> str:
    return ctx.binding.fields[name].key


def _report(ctx: CheckContext, rule: Rule, name: str, message: str) -> None:
    ctx.add(rule.id, name, rule.severity, f"key '{_key(ctx, name)}': {message}")


# -- statistics of one field --------------------------------------------------------


_Check = Callable[[CheckContext, Rule], "str | None"]
_StatsTest = Callable[[Rule, Any, np.dtype], tuple[str, "str | None"]]


def _each_field(check: Callable[[CheckContext, Rule, str], str | None]) -> _Check:
    """Return a check that runs ``check`` on each of the rule's fields and joins what they observed."""

    def run(ctx: CheckContext, rule: Rule) -> str | None:
        seen = [check(ctx, rule, name) for name in rule.fields]
        return "; ".join(s for s in seen if s is not None) or None

    return run


def _stats_check(test: _StatsTest, finite_only: bool = False) -> _Check:
    """Return a check over the streamed statistics (and the dtype) of each of the rule's fields.

    With ``finite_only``, a field without a finite value is observed as such, not tested.
    """

    @_each_field
    def check(ctx: CheckContext, rule: Rule, name: str) -> str | None:
        st = ctx.stats.get(name)
        if st is None:
            return None
        if finite_only and st.min is None:
            observed, problem = "no finite value", None
        else:
            observed, problem = test(rule, st, ctx.binding.fields[name].dtype)
        if problem:
            _report(ctx, rule, name, problem)
        return observed if len(rule.fields) == 1 else f"{name}: {observed}"

    return check


def _finite(rule: Rule, st: Any, dtype: np.dtype) -> tuple[str, str | None]:
    bad = st.count - st.finite
    return (f"{bad} non-finite of {st.count}", f"{st.nan} NaN and {st.inf} Inf of {st.count} values" if bad else None)


def _min_at_least(rule: Rule, st: Any, dtype: np.dtype) -> tuple[str, str | None]:
    low = st.min < rule.value
    return f"min {st.min:.6g}", f"minimum {st.min:.6g} is below {rule.value:g}" if low else None


def _max_below(rule: Rule, st: Any, dtype: np.dtype) -> tuple[str, str | None]:
    high = st.max >= rule.value
    return f"max {st.max:.6g}", (
        f"maximum {st.max:.6g} is not below {rule.value:g}; normalize amplitudes (is it intensity?)" if high else None
    )


def _max_mean_ratio_below(rule: Rule, st: Any, dtype: np.dtype) -> tuple[str, str | None]:
    if not st.mean:
        return "mean 0", None
    ratio = st.max / st.mean
    return f"max/mean {ratio:.4g}", (
        f"max/mean = {ratio:.4g} (>= {rule.value:g}); values look like intensity, not amplitude"
        if ratio >= rule.value
        else None
    )


def _positive(rule: Rule, st: Any, dtype: np.dtype) -> tuple[str, str | None]:
    return f"min {st.min:.6g}", f"minimum {st.min:.6g} is not positive" if st.min <= 0 else None


def _max_abs_below(rule: Rule, st: Any, dtype: np.dtype) -> tuple[str, str | None]:
    largest = max(abs(st.min), abs(st.max))
    return f"max |value| {largest:.6g}", (
        f"largest magnitude {largest:.6g} is not below {rule.value:g}" if largest >= rule.value else None
    )


def _not_all_zero(rule: Rule, st: Any, dtype: np.dtype) -> tuple[str, str | None]:
    return f"{st.nonzero} nonzero", "every value is zero" if st.finite and st.nonzero == 0 else None


def _integer_squares_fit(rule: Rule, st: Any, dtype: np.dtype) -> tuple[str, str | None]:
    if dtype.kind not in "iu" or st.max is None:
        return f"{dtype.name}: not integer", None
    square, limit = float(st.max) ** 2, float(np.iinfo(dtype).max)
    observed = f"max {st.max:g}, max^2 {square:.4g} vs {dtype.name} max {limit:g}"
    return observed, (
        f"{dtype.name} values up to {st.max:g}: their squares ({square:.4g}) overflow {dtype.name} "
        f"(max {limit:g}), so a reader that squares them in their own dtype gets wrapped values; "
        "store float32"
        if square > limit
        else None
    )


@_each_field
def _index_range(ctx: CheckContext, rule: Rule, name: str) -> str | None:
    bound = ctx.binding.dims.get(rule.dim) if rule.dim else None
    st = ctx.stats.get(name)
    if (bound is None and rule.value is None) or st is None or st.min is None:
        return None
    size = bound if bound is not None else int(rule.value)
    if st.min < 0 or st.max > size - 1:
        label = (
            f"{rule.dim} = {size}"
            if bound is not None
            else (f"{rule.dim} not in the file, taken as {size}" if rule.dim else f"{size} entries")
        )
        # Which range applies is the rule's point: say it.
        message = f"values {st.min:.6g} to {st.max:.6g} leave [0, {size - 1}] ({label}): {rule.description}"
        _report(ctx, rule, name, message)
    return f"{st.min:.6g} to {st.max:.6g} in [0, {size - 1}]"


@_each_field
def _unique(ctx: CheckContext, rule: Rule, name: str) -> str | None:
    if not ctx.readable(name):
        return None
    flat = ctx.source.read(_key(ctx, name)).reshape(-1)
    repeated = flat.size - np.unique(flat).size
    if repeated:
        _report(ctx, rule, name, f"{repeated} of {flat.size} values repeat an earlier one")
    return f"{flat.size - repeated} distinct of {flat.size}"


# -- frame content ------------------------------------------------------------------


#: Frames read at a time from the sample, so a check holds a few frames, not the sample.
_CHUNK_FRAMES = 8


def _sample(ctx: CheckContext, rule: Rule, name: str) -> list[np.ndarray] | None:
    """Index chunks of up to ``params.sample_frames`` frames of stack ``name``, evenly spaced along the scan."""
    bound = ctx.binding.fields.get(name)
    if bound is None or not ctx.readable(name) or len(bound.stored_shape) != 3 or not bound.shape[0]:
        return None
    n = bound.shape[0]
    limit = int(rule.params.get("sample_frames", _DEFAULT_SAMPLE_FRAMES))
    indices = np.unique(np.linspace(0, n - 1, min(n, limit)).round().astype(np.int64))
    return [indices[i : i + _CHUNK_FRAMES] for i in range(0, indices.size, _CHUNK_FRAMES)]


def _frames(ctx: CheckContext, name: str, indices: np.ndarray) -> np.ndarray:
    """Frames ``indices`` of stack ``name`` as float64 (moduli of complex values)."""
    frames = read_frames(ctx.source, ctx.binding.fields[name].key, indices, ctx.binding.layout or "canonical")
    return np.asarray(np.abs(frames) if np.iscomplexobj(frames) else frames, dtype=np.float64)


def _lattice_counts(
    values: np.ndarray, quantum: float, tolerance: float, max_quanta: float
) -> tuple[int, int, int, int]:
    """(values on the lattice of ``quantum``, squares on it, values counted, values above 1.5 quanta)."""
    ratio = values[values > 0] / quantum
    above = ratio[ratio > 1.5]
    used = above[above <= max_quanta]
    square = used * used
    on = np.abs(used - np.round(used)) <= tolerance
    on_square = np.abs(square - np.round(square)) <= tolerance * np.maximum(1.0, square / max_quanta)
    return int(on.sum()), int(on_square.sum()), int(used.size), int(above.size)


def lattice_fractions(values: np.ndarray, tolerance: float, max_quanta: float) -> tuple[float, float, int, float]:
    """How much of ``values`` lies on a lattice of whole quanta, and how much of their squares.

    The quantum ``q`` is the smallest positive value (the check also tries
    the smallest step between distinct values). Photon counts, and
    counts times one scale factor, are whole multiples of ``q``; amplitudes
    made from them (``scale * sqrt(counts)``) are not, but their squares
    are. Only values of more than 1.5 quanta and at most ``max_quanta``
    count: one photon looks the same either way, and float32 rounding hides
    the lattice of very large values.

    Returns
    -------
    tuple
        (fraction of values within ``tolerance`` of a whole number of quanta,
        the same for the squares, number of values counted, the quantum).

    Examples
    --------
    >>> counts = np.array([0, 1, 2, 3, 5, 8, 13, 21], float)
    >>> lattice_fractions(counts * 0.5, 0.05, 1e4)[:3]
    (1.0, 1.0, 6)
    >>> lattice_fractions(np.sqrt(counts), 0.05, 1e4)[:3]
    (0.0, 1.0, 5)
    """
    positive = values[values > 0]
    if positive.size == 0:
        return 0.0, 0.0, 0, 0.0
    quantum = float(positive.min())
    on, on_square, used, _ = _lattice_counts(positive, quantum, tolerance, max_quanta)
    if used == 0:
        return 0.0, 0.0, 0, quantum
    return on / used, on_square / used, used, quantum


def _quanta(frames: np.ndarray) -> tuple[float, float]:
    """(smallest positive value, smallest gap between distinct positive values) of ``frames``."""
    positive = np.unique(frames[frames > 0])
    if positive.size == 0:
        return np.inf, np.inf
    gaps = np.diff(positive)
    return float(positive[0]), float(gaps.min()) if gaps.size else np.inf


@_each_field
def _counting_lattice(ctx: CheckContext, rule: Rule, name: str) -> str | None:
    p = rule.params
    chunks = _sample(ctx, rule, name)
    if chunks is None:
        return None
    # Two passes over the sample, a few frames at a time. The quantum of counts is one
    # count: the smallest value when single photons occur, else the smallest step
    # between distinct values (a background lifts the smallest value, not the step).
    lows = np.array([_quanta(_frames(ctx, name, c)) for c in chunks]).min(axis=0)
    candidates = sorted({float(q) for q in lows if np.isfinite(q) and q > 0})
    counts = {q: np.zeros(4, np.int64) for q in candidates}
    for chunk in chunks:
        frames = _frames(ctx, name, chunk)
        for q in candidates:
            counts[q] += _lattice_counts(frames, q, p["tolerance"], p["max_quanta"])
    # A quantum counts when enough values, and most of those above 1.5 quanta, lie within
    # max_quanta of it: the float32 grid near zero is a lattice too, of the tiniest values only.
    minimum, share = int(p.get("min_values", 100)), float(p.get("min_share", 0.5))
    judged = {q: c for q, c in counts.items() if c[2] >= minimum and c[2] >= share * c[3]}
    if not judged:
        return "too few values on any candidate lattice to tell"
    quantum, (on, on_square, used, _) = max(judged.items(), key=lambda item: item[1][0] / item[1][2])
    if on / used >= p["fraction"]:
        message = (
            f"{100 * on / used:.1f}% of {used} sampled values are whole multiples of {quantum:.6g}: "
            "photon counts (intensity), not amplitude; store numpy.sqrt(counts), scaled so the "
            "maximum is below 10"
        )
        _report(ctx, rule, name, message)
    return (
        f"{on / used:.3f} of {used} values and {on_square / used:.3f} of their squares on the "
        f"lattice of q = {quantum:.6g}"
    )


def peak_corner_ratio(mean_frame: np.ndarray, box_fraction: float) -> float:
    """Signal in the four corner boxes of a frame over the signal in a centre box of the same area.

    Each corner box is ``box_fraction`` of the frame's height by
    ``box_fraction`` of its width; the centre box is twice that on each
    side. Centred diffraction (zero frequency in the middle) gives a ratio
    far below 1; frames left as ``numpy.fft.fft2`` returns them, with the
    zero frequency at pixel (0, 0), far above.

    Examples
    --------
    >>> frame = np.zeros((16, 16)); frame[8, 8] = 1.0
    >>> peak_corner_ratio(frame, 0.125), peak_corner_ratio(np.fft.ifftshift(frame), 0.125) > 1
    (0.0, True)
    """
    h, w = mean_frame.shape
    bh, bw = max(1, round(h * box_fraction)), max(1, round(w * box_fraction))
    corners = (
        mean_frame[:bh, :bw].sum()
        + mean_frame[:bh, -bw:].sum()
        + mean_frame[-bh:, :bw].sum()
        + mean_frame[-bh:, -bw:].sum()
    )
    cy, cx = h // 2, w // 2
    centre = mean_frame[cy - bh : cy + bh, cx - bw : cx + bw].sum()
    if centre <= 0:
        return float("inf") if corners > 0 else 0.0
    return float(corners / centre)


@_each_field
def _peak_centred(ctx: CheckContext, rule: Rule, name: str) -> str | None:
    chunks = _sample(ctx, rule, name)
    if chunks is None:
        return None
    total, count = 0.0, 0
    for chunk in chunks:
        frames = np.nan_to_num(_frames(ctx, name, chunk))
        total, count = total + frames.sum(axis=0), count + frames.shape[0]
    ratio = peak_corner_ratio(total / count, rule.params["box_fraction"])
    if ratio > rule.params["ratio"]:
        message = (
            f"the mean frame holds {ratio:.3g} times more signal in its corners than in its centre: "
            "the zero frequency sits in the corners (frames not fftshifted); store "
            "numpy.fft.fftshift(frames, axes=(-2, -1))"
        )
        _report(ctx, rule, name, message)
    return f"corner/centre {ratio:.3g}"


# -- several fields -------------------------------------------------------------------


def _alias_copy_equal(ctx: CheckContext, rule: Rule) -> str | None:
    seen = []
    for name in rule.fields:
        bound = ctx.binding.fields.get(name)
        for alias in ctx.binding.alias_copies.get(name, ()) if bound is not None else ():
            other = ctx.source.info(alias)
            problem = None
            mine, theirs = other.dtype.newbyteorder("="), bound.dtype.newbyteorder("=")
            if tuple(other.shape) != bound.stored_shape or mine != theirs:
                problem = (
                    f"holds {mine.name} {tuple(other.shape)} but '{bound.key}' holds {theirs.name} {bound.stored_shape}"
                )
            elif not bound.readable or other.has_objects or not _same_values(ctx.source, bound.key, alias):
                problem = f"holds other values than '{bound.key}'"
            seen.append(f"'{alias}' {'differs from' if problem else 'equals'} '{bound.key}'")
            if problem:
                message = (
                    f"key '{alias}', the declared alias of '{name}', {problem}; readers of '{alias}' "
                    f"and of '{bound.key}' would see different data: write the same frames under both "
                    f"keys or drop '{alias}'"
                )
                ctx.add(rule.id, alias, rule.severity, message)
    return "; ".join(seen) or None


def _same_values(source: Source, a: str, b: str) -> bool:
    """Stream two arrays of one dtype and shape side by side; True when every value is equal."""
    left, right = source.iter_blocks(a), source.iter_blocks(b)
    x = y = np.empty(0)
    while True:
        if x.size == 0:
            x = next(left, None)
        if y.size == 0:
            y = next(right, None)
        if x is None or y is None:
            return x is None and y is None
        n = min(x.size, y.size)
        if not np.array_equal(x[:n], y[:n], equal_nan=x.dtype.kind in "fc"):
            return False
        x, y = x[n:], y[n:]


def _positions(ctx: CheckContext, fields: tuple[str, ...]) -> tuple[str, np.ndarray, np.ndarray] | None:
    """Read the (x, y) position fields, when both are present, 1-D and of equal length."""
    names = [n for n in fields if ctx.readable(n) and ctx.binding.fields[n].dtype.kind in "iuf"]
    if len(names) < 2:
        return None
    x, y = (ctx.source.read(_key(ctx, n)) for n in names[:2])
    if x.ndim != 1 or x.shape != y.shape or x.size == 0:
        return None
    return names[0], np.asarray(x, np.float64), np.asarray(y, np.float64)


def _finite_points(ctx: CheckContext, fields: tuple[str, ...]) -> tuple[str, int, np.ndarray] | None:
    """Return the x field's name, the number of positions and the finite ones as (n, 2) rows; None if none."""
    got = _positions(ctx, fields)
    if got is None:
        return None
    name, x, y = got
    pts = np.stack([x, y], axis=1)
    pts = pts[np.isfinite(pts).all(axis=1)]
    return None if pts.size == 0 else (name, x.size, pts)


def _positions_not_all_identical(ctx: CheckContext, rule: Rule) -> str | None:
    got = _finite_points(ctx, rule.fields)
    if got is None:
        return None
    name, n, pts = got
    if n > 1 and np.all(pts == pts[0]):
        ctx.add(rule.id, name, rule.severity, f"all {n} positions are the same point ({pts[0, 0]:g}, {pts[0, 1]:g})")
    return f"x spans {np.ptp(pts[:, 0]):.4g}, y {np.ptp(pts[:, 1]):.4g}"


def _positions_unique(ctx: CheckContext, rule: Rule) -> str | None:
    got = _finite_points(ctx, rule.fields)
    if got is None:
        return None
    name, _, pts = got
    n = pts.shape[0]
    # Sorting rows with lexsort counts the same distinct points as
    # numpy.unique(axis=0), several times faster on 10^5+ positions.
    ordered = pts[np.lexsort((pts[:, 1], pts[:, 0]))]
    n_unique = 1 + int(np.count_nonzero((ordered[1:] != ordered[:-1]).any(axis=1)))
    if n_unique < n:
        ctx.add(rule.id, name, rule.severity, f"{n - n_unique} of {n} positions repeat an earlier one")
    return f"{n_unique} distinct of {n}"


def _positions_in_window(ctx: CheckContext, rule: Rule) -> str | None:
    got = _positions(ctx, rule.fields)
    if got is None:
        return None
    name, x, y = got
    lo, hi = rule.params["window"]
    inside = np.ones(x.size, bool)
    for values in (x, y):
        span = float(np.nanmax(values) - np.nanmin(values))
        # A zero range counts as 1, as the loader does: the window then holds nothing.
        span = span if span > 0 else 1.0
        start = float(np.nanmin(values))
        inside &= (values >= start + lo * span) & (values <= start + hi * span)
    count = int(inside.sum())
    if count < rule.value:
        message = (
            f"{count} of {x.size} positions lie inside the window [{lo:g}, {hi:g}] of the x and y ranges "
            f"(at least {rule.value:g} needed)"
        )
        ctx.add(rule.id, name, rule.severity, message)
    return f"{count} of {x.size} inside [{lo:g}, {hi:g}]"


def _canvas_fits(ctx: CheckContext, rule: Rule) -> str | None:
    obj, xs, ys = (rule.fields + (None, None, None))[:3]
    if obj not in ctx.binding.fields or len(ctx.binding.fields[obj].shape) != 2:
        return None
    frame = [ctx.binding.dims.get(d) for d in rule.params.get("frame_dims", ("H", "W"))]
    got = None if None in frame else _finite_points(ctx, (xs, ys))
    if got is None:
        return None
    pts = got[2]
    # Per axis: the rows must hold the y extent plus a frame, the columns the x
    # extent plus a frame (the spec's square canvas, axis by axis; offsets from
    # the middle of the scanned range, the centring that needs the least room).
    need = (frame[0] + float(np.ptp(pts[:, 1])), frame[1] + float(np.ptp(pts[:, 0])))
    have = ctx.binding.fields[obj].shape
    if have[0] < need[0] or have[1] < need[1]:
        message = (
            f"object {have[0]}x{have[1]} cannot hold every patch: it needs H + y range = {need[0]:.4g} rows "
            f"and W + x range = {need[1]:.4g} columns, or patches placed at the scan positions are clipped"
        )
        _report(ctx, rule, obj, message)
    return f"{have[0]}x{have[1]} vs needed {need[0]:.4g}x{need[1]:.4g}"


# -- metadata and records ------------------------------------------------------------------


@_each_field
def _json_object(ctx: CheckContext, rule: Rule, name: str) -> str | None:
    if name not in ctx.binding.fields:
        return None
    kind, detail = _metadata_problem(ctx.source, _key(ctx, name))
    if kind in rule.params.get("problems", ("unreadable", "bytes", "not-json", "not-object")):
        _report(ctx, rule, name, detail)
    return detail


def _metadata_problem(source: Source, key: str) -> tuple[str | None, str]:
    """(problem kind or None, what the member holds) for a JSON-record member."""
    try:
        value = read_metadata_value(source, key)
    except InputError as exc:
        return "unreadable", f"cannot be read ({exc})"
    if isinstance(value, bytes):
        return "bytes", f"holds bytes ({len(value)}), not text: JSON readers that expect text drop it"
    if not isinstance(value, str):
        return "not-json", f"holds a pickled {type(value).__name__}, not JSON text"
    try:
        record = parse_json(value, key)
    except InputError as exc:
        return "not-json", f"holds text that is not JSON ({exc})"
    if not isinstance(record, dict):
        return "not-object", f"holds a JSON {type(record).__name__}, not a JSON object"
    return None, f"a JSON object with {len(record)} entries"


def _scale_pair(ctx: CheckContext, rule: Rule) -> str | None:
    names = list(rule.params["keys"])
    found: dict[str, Any] = {}
    record = read_metadata_member(ctx.source) or {}
    for level in [record, *(v for v in record.values() if isinstance(v, dict))]:
        found.update({n: level[n] for n in names if n in level and n not in found})
    for n in names:
        if n not in found and n in ctx.source.keys():  # noqa: SIM118 - readers are not iterable
            try:
                found[n] = read_metadata_value(ctx.source, n)
            except InputError:
                found[n] = "<unreadable>"
    if not found:
        return "absent"
    where = "*" if METADATA_KEY not in ctx.binding.fields else METADATA_KEY
    pairs = [list(p) for p in rule.params["pairs"]]
    shown = ", ".join(f"{n}={found.get(n, '<missing>')!r}" for n in names)
    if len(found) < len(names):
        ctx.add(rule.id, where, rule.severity, f"{shown}: the pair is one-sided; give both or neither")
    elif [found[n] for n in names] not in pairs:
        supported = "; ".join("/".join(p) for p in pairs)
        ctx.add(rule.id, where, rule.severity, f"{shown} is not a supported pair ({supported})")
    return shown


@_each_field
def _layout_declared(ctx: CheckContext, rule: Rule, name: str) -> str | None:
    bound = ctx.binding.fields.get(name)
    if bound is None or len(bound.stored_shape) != 3:
        return None
    n_positions = next(
        (f.stored_shape[0] for f in ctx.binding.fields.values() if f.name != name and len(f.stored_shape) == 1),
        None,
    )
    declared = (read_metadata_member(ctx.source) or {}).get("layout")
    try:
        inferred = resolve_layout(bound.stored_shape, n_positions)
    except InputError:
        inferred = None
    if inferred is not None or declared == "canonical":
        return f"{inferred or declared} ({'from the shape' if inferred else 'declared'})"
    why = (
        "its _metadata declares it legacy (H, W, N)"
        if declared == "legacy"
        else "its shape cannot tell (N, H, W) from (H, W, N)"
    )
    message = (
        f"stack {bound.stored_shape} with {n_positions} positions: {why}, and the reader takes "
        "axis 0 as the frame axis without checking; store it (N, H, W) and say so in _metadata "
        '({"layout": "canonical"})'
    )
    _report(ctx, rule, name, message)
    return why


def _record_value(ctx: CheckContext, rule: Rule, name: str) -> Any:
    """Return the record entry ``name`` (dotted path), or record a finding saying why there is none."""
    where = f"record entry '{name}'"
    if ctx.record is None:
        ctx.add(rule.id, "*", rule.severity, f"{where} cannot be checked: {ctx.record_problem}")
        return None
    value: Any = ctx.record
    for part in name.split("."):
        if not isinstance(value, Mapping) or part not in value:
            ctx.add(rule.id, "*", rule.severity, f"the record has no {where}")
            return None
        value = value[part]
    return value


def _record_above(ctx: CheckContext, rule: Rule) -> str | None:
    key = rule.params["key"]
    value = _record_value(ctx, rule, key)
    if value is None:
        return None
    if not isinstance(value, (int, float)) or not value > rule.value:
        ctx.add(rule.id, "*", rule.severity, f"record {key} = {number_text(value)} is not above {rule.value:g}")
    return f"{key} {number_text(value)}"


def _record_matches_dims(ctx: CheckContext, rule: Rule) -> str | None:
    key, dims = rule.params["key"], list(rule.params["dims"])
    value = _record_value(ctx, rule, key)
    if value is None:
        return None
    have = [ctx.binding.dims.get(d) for d in dims]
    want = value if isinstance(value, list) else [value]
    shown = ", ".join(f"{d} = {h}" for d, h in zip(dims, have))
    if have != want:
        ctx.add(
            rule.id,
            ctx.binding.dim_fields.get(dims[0], "*"),
            rule.severity,
            f"{shown}, but the record's {key} is {value}",
        )
    return shown


#: Check name -> function(context, rule) -> observed value text or None.
CHECK_TABLE: dict[str, _Check] = {
    "finite": _stats_check(_finite),
    "min_at_least": _stats_check(_min_at_least, finite_only=True),
    "max_below": _stats_check(_max_below, finite_only=True),
    "max_mean_ratio_below": _stats_check(_max_mean_ratio_below),
    "not_all_zero": _stats_check(_not_all_zero),
    "positive": _stats_check(_positive, finite_only=True),
    "max_abs_below": _stats_check(_max_abs_below, finite_only=True),
    "index_range": _index_range,
    "unique": _unique,
    "integer_squares_fit": _stats_check(_integer_squares_fit),
    "positions_not_all_identical": _positions_not_all_identical,
    "positions_unique": _positions_unique,
    "positions_in_window": _positions_in_window,
    "alias_copy_equal": _alias_copy_equal,
    "counting_lattice": _counting_lattice,
    "peak_centred": _peak_centred,
    "json_object": _json_object,
    "scale_pair": _scale_pair,
    "canvas_fits": _canvas_fits,
    "layout_declared": _layout_declared,
    "record_above": _record_above,
    "record_matches_dims": _record_matches_dims,
}
