"""Library errors name library parameters; the command line prints the flags instead."""

from __future__ import annotations

import pytest

from ptyevidence._atomic import check_output_path
from ptyevidence.cli import flag_hints
from ptyevidence.exceptions import InputError, UsageError
from ptyevidence.readers.layout import resolve_layout


@pytest.mark.parametrize(
    ("library", "cli"),
    [
        ("exists; pass force=True to overwrite it", "exists; pass --force to overwrite it"),
        ("subset_size=8 is too small", "--subset-size 8 is too small"),
        ("pass layout='canonical' or layout='legacy'", "pass --layout canonical or --layout legacy"),
        ("choose another folder with out_dir=...", "choose another folder with --out"),
        ("jobs=0 is not positive", "--jobs 0 is not positive"),
        ("needs sample_pixel_size=METRES (the", "needs --sample-pixel-size METRES (the"),
        ("(object_shape='64x80')", "(--object-shape 64x80)"),
    ],
)
def test_parameter_hints_become_flags(library, cli):
    assert flag_hints(library) == cli


@pytest.mark.parametrize(
    "message",
    [
        "heading_level=2 has no flag",  # not a command-line option
        "failed in cell In [3] (`f(source, force=force)`): NameError",  # quoted code
        "'/data/seed=3/scan.npz' does not exist",  # part of a path
        "scale = 1/sqrt(max count)",  # prose, not a hint
    ],
)
def test_other_text_is_left_alone(message):
    assert flag_hints(message) == message


def test_only_existing_flags_are_used():
    assert flag_hints("pass force=True", flags={"--other"}) == "pass force=True"
    assert flag_hints("pass force=True", flags={"--force"}) == "pass --force"


def test_existing_output_library_says_force_true_cli_says_force_flag(tmp_path, cli):
    out = tmp_path / "demo.npz"
    out.write_bytes(b"kept")
    with pytest.raises(UsageError, match="pass force=True to overwrite it") as err:
        check_output_path(out)
    assert "--force" not in str(err.value)
    done = cli("demo-data", str(out), "--positions", "16")
    assert done.returncode == 2
    assert done.stderr.strip() == f"ptyevidence: error: output '{out}' exists; pass --force to overwrite it"
    assert out.read_bytes() == b"kept"


def test_ambiguous_layout_library_says_parameter_cli_says_flag(tmp_path, cli):
    import numpy as np

    with pytest.raises(InputError, match="pass layout='canonical' or layout='legacy'"):
        resolve_layout((16, 16, 16), 16)
    path = tmp_path / "cube.npz"
    n = 16
    np.savez(
        path,
        diffraction=np.ones((n, n, n), np.float32),
        xcoords=np.arange(n, dtype=float),
        ycoords=np.arange(n, dtype=float),
    )
    done = cli("validate", str(path))
    assert done.returncode == 2
    assert done.stderr.strip().endswith("pass --layout canonical or --layout legacy")
