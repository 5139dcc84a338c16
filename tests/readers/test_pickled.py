"""The restricted unpickler: PtychoPINN's pickled _metadata read as data, no global resolved, no code run."""

from __future__ import annotations

import io
import json
import os
import pickle

import numpy as np
import pytest

from ptyevidence.exceptions import InputError
from ptyevidence.readers.pickled import (
    MAX_PICKLE_BYTES,
    RestrictedUnpickler,
    object_scalar,
    read_object_scalar,
)


@pytest.fixture
def resolved(monkeypatch):
    """Record every name the restricted unpickler is asked to resolve; pickle's own loaders fail the test."""
    names: list[tuple[str, str]] = []
    real = RestrictedUnpickler.find_class

    def recording(self, module, name):
        names.append((module, name))
        return real(self, module, name)

    def forbidden(*args, **kwargs):
        msg = "pickle's own loader was used"
        raise AssertionError(msg)

    monkeypatch.setattr(RestrictedUnpickler, "find_class", recording)
    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, forbidden)
    return names


def _npz(tmp_path, value, name="m.npz", compressed=True):
    arr = np.empty((), dtype=object)
    arr[()] = value
    path = os.fspath(tmp_path / name)
    (np.savez_compressed if compressed else np.savez)(path, _metadata=arr, x=np.arange(3))
    return path


@pytest.mark.parametrize(
    "value",
    [
        json.dumps({"schema_version": "1.0.0", "physics_parameters": {"nphotons": 1e9}}, indent=2),
        {"a": [1, 2.5, None, True], "b": (b"raw", "text")},
        "plain text",
    ],
)
def test_plain_data_comes_out_as_it_went_in(tmp_path, resolved, value):
    assert read_object_scalar(_npz(tmp_path, value), "_metadata") == value
    assert resolved == []


def test_a_pickle_that_calls_os_system_is_refused_and_never_runs(tmp_path, resolved):
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    with pytest.raises(InputError, match=r"an object made by posix\.system|an object made by nt\.system"):
        read_object_scalar(_npz(tmp_path, Payload()), "_metadata")
    with pytest.raises(InputError, match="not a 0-d object ndarray"):
        object_scalar(_dumps(Payload()))
    assert not marker.exists()
    assert resolved == []


def _dumps(obj) -> bytes:
    buf = io.BytesIO()
    pickle.Pickler(buf).dump(obj)  # the pickler is not guarded: only loading is
    return buf.getvalue()


def test_numpy_scalars_and_other_objects_are_refused(tmp_path, resolved):
    with pytest.raises(InputError, match="an object made by numpy"):
        read_object_scalar(_npz(tmp_path, {"n": np.float64(1.0)}), "_metadata")
    with pytest.raises(InputError, match="a set"):
        read_object_scalar(_npz(tmp_path, {"s": {1, 2}}, "set.npz"), "_metadata")
    assert resolved == []


class Plain:
    """A class of this module, pickled by reference."""


@pytest.mark.parametrize(
    ("protocol", "words"),
    [
        (0, "not a 0-d object ndarray"),  # copy_reg._reconstructor, recorded, never called
        (2, "refusing an opcode"),  # NEWOBJ
        (4, "refusing an opcode"),  # NEWOBJ after STACK_GLOBAL
    ],
)
def test_opcodes_that_build_arbitrary_objects_are_refused(resolved, protocol, words):
    with pytest.raises(InputError, match=words):
        object_scalar(_dumps_protocol(Plain(), protocol))
    assert resolved == []


def test_an_extension_code_is_refused(resolved):
    stream = pickle.PROTO + bytes([2]) + pickle.EXT1 + bytes([7]) + pickle.STOP
    with pytest.raises(InputError, match="refusing an opcode"):
        object_scalar(stream)
    assert resolved == []


def _dumps_protocol(obj, protocol: int) -> bytes:
    buf = io.BytesIO()
    pickle.Pickler(buf, protocol=protocol).dump(obj)
    return buf.getvalue()


def test_the_size_is_bounded_before_reading(tmp_path, resolved):
    big = "x" * (MAX_PICKLE_BYTES + 10)
    with pytest.raises(InputError, match="too large|larger than"):
        read_object_scalar(_npz(tmp_path, big, compressed=False), "_metadata")
    with pytest.raises(InputError, match="only a 0-d object array"):
        read_object_scalar(_npz(tmp_path, "ok"), "x")
