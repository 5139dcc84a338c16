"""How the command line ends a run that goes wrong: termination, numeric warnings, OS errors, JSON."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest

from conftest import dataset_arrays
from ptyevidence import cli
from ptyevidence.commands._common import emit_json


def _main(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_sigterm_while_writing_removes_the_temporaries(tmp_path):
    """SIGTERM runs the cleanup: exit 143, one line, no temporary or partial output left."""
    source = tmp_path / "scan.npz"
    np.savez(source, **dataset_arrays(n=600, h=128, w=128, object_shape=(256, 256)))
    out = tmp_path / "fx.npz"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ptyevidence",
            "fixture",
            "make",
            "--source",
            str(source),
            "--output",
            str(out),
            "--subset-size",
            "500",
            "--source-hash",
            "full",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if any(name.startswith(".fx.npz.") for name in os.listdir(tmp_path)):  # the NPZ is being written
            break
        time.sleep(0.002)
    assert proc.poll() is None, "the run ended before it wrote anything"
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143
    assert stderr == "ptyevidence: terminated\n"
    assert sorted(os.listdir(tmp_path)) == ["scan.npz"]


def test_a_numeric_warning_is_one_error_line_naming_the_input(tmp_path, capsys, monkeypatch):
    from ptyevidence.contract import validate

    source = tmp_path / "scan.npz"
    np.savez(source, **dataset_arrays())

    def overflowing(*args, **kwargs):
        # As numpy attributes a ufunc's warning: to the library line that called it.
        warnings.warn_explicit(
            "overflow encountered in multiply", RuntimeWarning, validate.__file__, 1, module=validate.__name__
        )

    monkeypatch.setattr(validate, "validate_dataset", overflowing)
    with warnings.catch_warnings():
        warnings.simplefilter("always")  # as a shell shows them (the suite's filter says error)
        code, out, err = _main(capsys, "validate", str(source))
    assert code == 2
    assert out == ""
    assert err == (
        f"ptyevidence: error: values in '{source}' are out of range for 'validate' (overflow "
        "encountered in multiply); check them for huge or non-finite numbers\n"
    )


def test_an_os_error_without_a_file_names_the_commands_files(tmp_path, capsys, monkeypatch):
    from ptyevidence.contract import validate

    source = tmp_path / "scan.npz"
    np.savez(source, **dataset_arrays())

    def failing(*args, **kwargs):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(validate, "validate_dataset", failing)
    code, _, err = _main(capsys, "validate", str(source))
    assert code == 2
    assert err == f"ptyevidence: error: 'validate' failed on '{source}': Input/output error (EIO)\n"


def test_control_characters_in_a_message_are_escaped_so_it_stays_one_line(tmp_path, capsys):
    """A file name may hold any character; the error naming it is still one line."""
    source = tmp_path / "scan\x1c\u2028\nname.npz"
    source.write_bytes(b"not an archive")
    code, _, err = _main(capsys, "validate", str(source))
    assert code == 2
    assert err.splitlines() == [err.rstrip("\n")]
    assert "scan\\x1c\\u2028\\x0aname.npz" in err


def test_json_output_is_strict_with_a_finding_per_non_finite_value(capsys):
    emit_json({"metrics": {"ratio": float("nan"), "gap": np.float64(np.inf), "n": 3}})
    out = capsys.readouterr().out
    data = json.loads(out, parse_constant=lambda name: pytest.fail(f"{name} in strict JSON"))
    assert data["metrics"] == {"ratio": None, "gap": None, "n": 3}
    assert [(f["rule"], f["field"]) for f in data["findings"]] == [
        ("non-finite-output", "metrics.ratio"),
        ("non-finite-output", "metrics.gap"),
    ]


@pytest.mark.parametrize("before", [True, False], ids=["before-the-command", "after-it"])
def test_allow_external_links_is_accepted_on_either_side_of_the_command(tmp_path, capsys, before):
    import h5py

    import cxi_files

    path = str(tmp_path / "scan.cxi")
    cxi_files.write_cxi(path, n=20, h=8, w=8)
    with h5py.File(path, "a") as f:
        frames = f[cxi_files.FRAMES][()]
        del f[cxi_files.FRAMES]
        f[cxi_files.FRAMES] = h5py.ExternalLink("frames.h5", "/d")
    with h5py.File(tmp_path / "frames.h5", "w") as other:
        other["d"] = frames
    code, _, err = _main(capsys, "coverage", path)
    assert code == 2
    assert "pass --allow-external-links to follow it" in err
    argv = ["--allow-external-links", "coverage", path] if before else ["coverage", path, "--allow-external-links"]
    code, out, err = _main(capsys, *argv)
    assert (code, err) == (0, "")
    assert "scan positions" in out
