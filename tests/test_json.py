"""The bounded JSON reader names the key path of what breaks it; the strict writer never writes NaN."""

from __future__ import annotations

import json

import pytest

from ptyevidence._json import (
    MAX_DEPTH,
    dumps_strict,
    parse_json,
    read_json,
    strict_json,
)
from ptyevidence.exceptions import InputError


@pytest.mark.parametrize(
    ("text", "where", "problem"),
    [
        ('{"a": {"b": [1, 2, 1e400]}}', "a.b[2]", "a number beyond float range (1e400)"),
        ('{"n": 9223372036854775808}', "n", "an integer beyond int64"),
        ('{"n": -9223372036854775809}', "n", "an integer beyond int64"),
        ('{"n": ' + "7" * 4301 + "}", "n", "an integer of 4301 digits"),
        ('{"x": [NaN]}', "x[0]", "the non-standard literal NaN"),
        ('{"x": -Infinity}', "x", "the non-standard literal -Infinity"),
        ('{"k": 1, "k": 2}', "k", "is a key that repeats"),
        ('{"odd key": [Infinity]}', '["odd key"][0]', "Infinity"),
        ("NaN", "(top level)", "NaN"),
    ],
)
def test_out_of_bounds_values_are_refused_with_their_key_path(text, where, problem):
    with pytest.raises(InputError) as info:
        parse_json(text, "record 'r.json'")
    message = str(info.value)
    assert message.startswith(f"record 'r.json': {where} ")
    assert problem in message


def test_int64_limits_themselves_are_accepted():
    assert parse_json("[9223372036854775807, -9223372036854775808, 1.5e308]", "r") == [2**63 - 1, -(2**63), 1.5e308]


@pytest.mark.parametrize("opener", ["[", '{"k": '])
def test_nesting_beyond_the_limit_is_refused_before_parsing(opener):
    closer = "]" if opener == "[" else "}"
    # Deep enough that json.loads itself would exhaust the interpreter's stack.
    text = '{"top": ' + opener * 100_000 + "1" + closer * 100_000 + "}"
    with pytest.raises(InputError, match=rf"top.*nests arrays/objects deeper than {MAX_DEPTH} levels"):
        parse_json(text, "r")
    shallow = opener * MAX_DEPTH + "1" + closer * MAX_DEPTH
    assert parse_json(shallow, "r") is not None


def test_brackets_inside_strings_do_not_count_as_nesting():
    text = json.dumps({"s": "[" * 10_000})
    assert parse_json(text, "r") == {"s": "[" * 10_000}


def test_syntax_errors_give_line_and_column():
    with pytest.raises(InputError, match="r is not valid JSON: .* at line 2 column 6"):
        parse_json('{"a":\n  1, }', "r")


def test_read_json_bounds_the_size_before_reading(tmp_path):
    path = tmp_path / "big.json"
    path.write_text("[" + "0," * 600_000 + "0]", encoding="utf-8")
    with pytest.raises(InputError, match=r"is 1\.1 MiB, more than the 1 MiB"):
        read_json(path, "sidecar 'big.json'", max_bytes=2**20)
    assert len(read_json(path, "sidecar", max_bytes=2**21)) == 600_001


def test_strict_json_turns_non_finite_numbers_into_null_and_names_them():
    import numpy as np

    data, paths = strict_json({"a": [np.float32(1.5), np.nan], "b": {"c": np.inf}, "d": np.arange(2)})
    assert data == {"a": [1.5, None], "b": {"c": None}, "d": [0, 1]}
    assert paths == ["a[1]", "b.c"]
    assert dumps_strict({"x": float("-inf")}) == '{"x": null}'
