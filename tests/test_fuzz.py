"""Every command on any input: exit 0, 1 or 2, one error line at most, no traceback, no warning, strict JSON.

The inputs are the valid ones of :class:`fuzzing.Base`, mutated in their
structure by :mod:`fuzzing` (zip, ``.npy`` header, HDF5, JSON) and in their
bytes; commands run in this process through ``cli.main``. ``benchmarks/fuzz.py``
runs the same generator for many more examples.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fuzzing

#: Examples per input kind: six kinds, a few hundred examples in all.
EXAMPLES = 80
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> fuzzing.Base:
    return fuzzing.Base(str(tmp_path_factory.mktemp("fuzz-base")))


@pytest.mark.parametrize("kind", fuzzing.KINDS)
@SETTINGS
@given(data=st.data())
def test_every_command_meets_mutated_input(base, kind, data):
    example, code, _, stderr, problems = fuzzing.run_example(fuzzing.HypothesisDraw(data), base, kind)
    assert problems == [], fuzzing.describe(example, code, stderr, problems)


def test_the_property_catches_what_it_forbids():
    """check_property is not vacuous: each forbidden outcome is reported."""
    example = fuzzing.Example("source", ["validate", "x.npz", "--json"], wants_json=True)
    assert fuzzing.check_property(example, 0, '{"a": 1}', "") == []
    assert fuzzing.check_property(example, 3, "", "ptyevidence: internal error: x") == ["exit 3"]
    assert "traceback" in fuzzing.check_property(example, 2, "", "Traceback (most recent call last):")
    assert "2 lines on stderr" in fuzzing.check_property(example, 2, "", "ptyevidence: a\nptyevidence: b")
    assert "warning on stderr" in fuzzing.check_property(example, 0, "{}", "x.py:3: RuntimeWarning: overflow")
    assert fuzzing.check_property(example, 0, '{"a": NaN}', "")[0].startswith("stdout is not strict JSON")


def test_a_full_disk_names_the_output_and_leaves_nothing(base, tmp_path):
    """ENOSPC on every fsync: one line naming the file and the reason; no output, no temporary."""
    out = tmp_path / "fixture.npz"
    code, _, stderr = fuzzing.run_cli(
        ["fixture", "make", "--source", base.source, "--output", str(out), "--subset-size", "16"], fault="enospc"
    )
    assert code == 2
    assert (
        stderr == f"ptyevidence: error: cannot write '{out}': No space left on device (ENOSPC); "
        "free some space or choose another folder\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == []
