"""Without the ptychodus extra: the errors name it, and only where it would help."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from cxi_files import write_cxi
from ptyevidence import cli
from ptyevidence.exceptions import InputError, MissingExtraError
from ptyevidence.readers import open_source, ptychodus_plugins

HINT = "install the `ptychodus` extra to read this format"


@pytest.fixture
def no_ptychodus(monkeypatch):
    monkeypatch.setattr(ptychodus_plugins, "available", lambda: False)


def test_asking_for_ptychodus_names_the_extra(no_ptychodus, tmp_path, capsys):
    path = tmp_path / "scan.h5"
    with h5py.File(path, "w") as f:
        f["dp"] = np.zeros((2, 4, 4))
    with pytest.raises(MissingExtraError, match=HINT):
        open_source(path, reader="ptychodus:fold_slice")
    assert cli.main(["validate", str(path), "--reader", "ptychodus"]) == 2
    err = capsys.readouterr().err
    assert HINT in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("content", [b"II*\x00" + bytes(60), b"MATLAB 5.0 MAT-file" + bytes(120)])
def test_a_file_no_builtin_reader_knows_names_the_extra(no_ptychodus, tmp_path, content):
    path = tmp_path / "scan.bin"
    path.write_bytes(content)
    with pytest.raises(InputError, match=HINT):
        open_source(path)


def test_an_hdf5_file_of_another_layout_names_the_extra(no_ptychodus, tmp_path):
    path = tmp_path / "beamline.h5"
    with h5py.File(path, "w") as f:
        f["entry/data/data"] = np.zeros((2, 4, 4))
    with pytest.raises(InputError, match=f"holds no diffraction frames.*; or {HINT}"):
        open_source(path)


def test_frames_without_positions_ask_for_positions_not_the_extra(no_ptychodus, tmp_path):
    path = str(tmp_path / "diffraction.cxi")
    write_cxi(path)
    with h5py.File(path, "a") as f:
        del f["entry_1/sample_1/geometry_1/translation"]
    with pytest.raises(InputError) as info:
        open_source(path)
    assert "positions_from=PRODUCT" in str(info.value)
    assert HINT not in str(info.value)
