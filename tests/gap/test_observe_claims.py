"""The claim language, contract claims and profiles, and --config routing of observe."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ptyevidence import InputError, UsageError, load_contract
from ptyevidence.gap.observe.claims import (
    Claim,
    active_profile,
    check_claim,
    claims_of,
    profile_view,
    profiles_of,
    upstream_of,
)
from ptyevidence.gap.observe.config import parse_config, runner_config
from ptyevidence.gap.observe.expressions import (
    ExpressionError,
    MissingName,
    Namespace,
    evaluate,
    in_bounds,
)

PIPELINES = ("ptychopinn-tf-grouped", "ptychopinn-tf-container", "ptychopinn-torch-mmap", "ptychopinn-torch-bridge")


def test_expressions_compute_with_arrays_namespaces_and_conditionals():
    names = {"a": np.arange(6.0).reshape(2, 3), "cfg": Namespace("cfg", {"N": 8, "xb": [0.1, 0.9]}), "C": 4}
    assert evaluate("sum(a ** 2, axis=1)", names).tolist() == [5.0, 50.0]
    assert evaluate("sqrt((cfg.N / 2) ** 2)", names) == 4.0
    assert evaluate("cfg.xb[1] - cfg.xb[0]", names) == pytest.approx(0.8)
    assert evaluate("'big' if C > 1 and not False else 'one'", names) == "big"
    assert evaluate("a[:, None].shape if False else len(a[0, :2])", names) == 2
    assert evaluate("1 < C <= 4", names) is True


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os').system('true')",
        "a.__class__",
        "(lambda: 1)()",
        "[x for x in a]",
        "open('f')",
        "a.sum()",
        "f'{a}'",
        "sum(*a)",
    ],
    ids=["import", "dunder", "lambda", "comprehension", "open", "method", "f-string", "starred"],
)
def test_expressions_refuse_everything_outside_the_language(text):
    with pytest.raises(ExpressionError):
        evaluate(text, {"a": np.zeros(3)})


def test_missing_names_say_where_they_were_looked_up():
    with pytest.raises(MissingName) as exc:
        evaluate("file.label", {"file": Namespace("file", {"diff3d": np.zeros(2)})})
    assert (exc.value.name, exc.value.namespace) == ("file.label", "file")
    with pytest.raises(MissingName, match="'nsamples' is not defined"):
        evaluate("nsamples + 1", {})


def test_in_bounds_is_inclusive_and_per_axis():
    x = np.array([0.0, 1.0, 5.0, 9.0, 10.0, 5.0, 5.0])
    y = np.array([5.0, 5.0, 5.0, 5.0, 5.0, 0.0, 10.0])
    assert in_bounds(x, y, (0.1, 0.9), (0.1, 0.9)).tolist() == [1, 2, 3]
    # As in the Torch loader, a zero range (a line scan) counts as 1, and the window
    # [min + 0.1, min + 0.1] then holds no position.
    assert in_bounds(x, np.zeros(7), (0.0, 1.0), (0.1, 0.9)).tolist() == []
    assert in_bounds(x, np.zeros(7), (0.0, 1.0), (0.0, 0.9)).tolist() == list(range(7))


def _claim(**kw):
    return Claim(id="c", **kw)


@pytest.mark.parametrize(
    ("claim", "status", "observed"),
    [
        (_claim(check="equal", of="len(v)", expect="3"), "holds", "3 (expected 3)"),
        (_claim(check="equal", field="v", expect="v * 2"), "drift", "max |difference| 2"),
        (_claim(check="close", field="v", expect="v * (1 + 1e-9)"), "holds", "(3,)"),
        (_claim(check="subset", field="v", expect="arange(2)"), "drift", "outside the expected set: 2"),
        (_claim(check="all_zero", field="z"), "holds", "all 4 values are zero"),
        (_claim(check="equal", field="v", expect="v", when="C == 1"), "skipped", "not applicable"),
        (_claim(check="equal", field="gone", expect="1"), "untestable", "'gone' is not in the dump"),
        (_claim(check="equal", field="v", expect="file.label"), "untestable", "cannot be tested"),
        (_claim(check="equal", field="v", expect="cfg.nothing"), "drift", "cannot be evaluated"),
        (_claim(check="equal", field="v", expect="v[:2]"), "drift", "does not match the expected"),
    ],
    ids=[
        "count",
        "values",
        "close",
        "subset",
        "zeros",
        "when",
        "field-absent",
        "file-key-absent",
        "unknown-config",
        "shape",
    ],
)
def test_claim_checks(claim, status, observed):
    names = {"v": np.arange(3), "z": np.zeros(4), "C": 4, "file": Namespace("file", {}), "cfg": Namespace("cfg", {})}
    result = check_claim(claim, names, ["v", "z", "gone"])
    assert result.status == status, result.observed
    assert observed in result.observed


@pytest.mark.parametrize("name", PIPELINES)
def test_builtin_contracts_name_their_upstream_commit_and_parse_their_claims(name):
    contract = load_contract(name)
    assert upstream_of(contract)["commit"] == "712c23f3bb6581ee4300c5572e3817a3d931165e"
    claims = claims_of(contract)
    assert all(c.source for c in claims)
    profiles_of(contract)


def _contract(tmp_path, **extra):
    data = load_contract("ptychopinn-torch-mmap").to_dict()
    data.update(extra)
    path = tmp_path / "c.json"
    path.write_text(json.dumps(data))
    return load_contract(str(path))


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        ({"observations": [{"check": "equal"}]}, "has no 'id'"),
        ({"observations": [{"id": "x", "check": "bigger", "field": "images", "expect": "1"}]}, "check 'bigger'"),
        ({"observations": [{"id": "x", "check": "equal", "field": "nope", "expect": "1"}]}, "names field 'nope'"),
        ({"observations": [{"id": "x", "check": "equal", "field": "images"}]}, "needs an 'expect'"),
        ({"observations": {"id": "x"}}, "must be a list of objects"),
        ({"profiles": [{"name": "p", "when": "True", "absent": ["nope"]}]}, "not fields of the contract"),
        ({"profiles": [{"name": "p"}]}, "needs a 'name' and a 'when'"),
    ],
    ids=["id", "check", "field", "expect", "not-a-list", "profile-field", "profile-when"],
)
def test_malformed_claims_and_profiles_name_the_entry(tmp_path, extra, match):
    contract = _contract(tmp_path, **extra)
    with pytest.raises(InputError, match=match):
        claims_of(contract) if "observations" in extra else profiles_of(contract)


def test_upstream_without_a_commit_is_refused(tmp_path):
    with pytest.raises(InputError, match="'upstream' must be an object with a 'commit'"):
        upstream_of(_contract(tmp_path, upstream={"repository": "x"}))


def test_profile_view_drops_absent_fields_and_what_derives_from_them():
    contract = load_contract("ptychopinn-torch-mmap")
    names = {
        "ModelConfig": Namespace("m", {"physics_forward_mode": "rectangular_scaled"}),
        "DataConfig": Namespace("d", {"scale_contract_version": "ci_intensity_v2"}),
    }
    profile = active_profile(contract, names)
    assert profile.name == "ci"
    view = profile_view(contract, profile)
    names_left = {f.name for f in view.fields}
    assert "rms_scaling_constant" not in names_left
    assert "model_input" not in names_left  # derived from rms_scaling_constant
    assert "rms_input_scale" in names_left
    legacy = {**names, "DataConfig": Namespace("d", {"scale_contract_version": "legacy_v1"})}
    assert active_profile(contract, legacy).name == "amplitude"


def test_config_items_are_routed_to_the_pipeline_they_configure():
    sections = parse_config(
        [
            "nsamples=512",
            "N=128",
            "x_bounds=[0.2, 0.8]",
            "tf.K=6",
            "ModelConfig.mode=Supervised",
            "DataConfig.K=8",
            "flag=True",
        ]
    )
    assert sections["tf"] == {"nsamples": 512, "K": 6}
    assert sections["shared"] == {"N": 128}
    assert sections["torch"] == {"x_bounds": [0.2, 0.8], "flag": True}
    assert sections["ModelConfig"] == {"mode": "Supervised"}
    config = runner_config(sections)
    assert config["tf"] == {"N": 128, "K": 6, "nsamples": 512, "seed": 0}
    assert config["DataConfig"] == {"K": 8, "N": 128}
    assert config["seed"] == 0


@pytest.mark.parametrize(
    ("items", "match"),
    [
        (["nsamples"], "is not KEY=VALUE"),
        (["K=4"], "ambiguous; write tf.K"),
        (["gridsize=2"], "use --gridsize"),
        (["nsamples=1", "nsamples=2"], "given twice"),
        (["jax.mode=x"], "unknown prefix 'jax'"),
    ],
    ids=["no-equals", "ambiguous", "gridsize", "twice", "prefix"],
)
def test_bad_config_items_are_usage_errors(items, match):
    with pytest.raises(UsageError, match=match):
        parse_config(items)


def test_n_given_twice_is_refused():
    with pytest.raises(UsageError, match="N and DataConfig.N"):
        runner_config(parse_config(["N=32", "DataConfig.N=64"]))
