"""Shared text formatting: the one implementation every report uses."""

from __future__ import annotations

import numpy as np
import pytest

from ptyevidence._format import (
    aligned_rows,
    dims_text,
    extent_text,
    markdown_table,
    number_text,
    shape_text,
)


@pytest.mark.parametrize(
    ("value", "digits", "text"),
    [
        (None, 4, "-"),
        (False, 4, "False"),
        (7, 4, "7"),
        (np.int64(123456), 4, "123456"),
        (0.000123456, 4, "0.0001235"),
        (1234567.0, 6, "1.23457e+06"),
        (np.float32(0.5), 4, "0.5"),
        (float("nan"), 4, "nan"),
        (float("inf"), 6, "inf"),
        ("PASS", 4, "PASS"),
    ],
)
def test_number_text(value, digits, text):
    assert number_text(value, digits) == text


def test_shapes_and_dims():
    assert shape_text((1087, 64, 64)) == "(1087, 64, 64)"
    assert shape_text(["N"], sep=",") == "(N,)"
    assert extent_text([]) == "-"
    assert dims_text({}) == ""
    assert dims_text({"N": 3}) == "N = 3"


def test_aligned_rows_pads_columns_and_drops_trailing_spaces():
    rows = [["SEVERITY", "RULE", "MESSAGE"], ["error", "dtype", "bad"], ["info", "unknown-key", ""]]
    assert aligned_rows(rows) == [
        "SEVERITY  RULE         MESSAGE",
        "error     dtype        bad",
        "info      unknown-key",
    ]
    assert aligned_rows([["a", "1"], ["bb", "22"]], "lr") == ["a    1", "bb  22"]
    assert aligned_rows([]) == []


def test_markdown_table_escapes_pipes_and_newlines():
    assert markdown_table(["a"], [["x|y\nz"]]).splitlines()[-1] == "| x\\|y z |"
