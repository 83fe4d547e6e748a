"""Manifest validation: clear one-line errors that name the key and the line."""

import pytest
from click.testing import CliRunner

from ecgcorpus.cli import main
from ecgcorpus.manifest import ManifestError, load_manifest

GOOD = """\
name: t
seed: 3
sources:
  - {name: ptbxl, root: "${ECGC_TEST_ROOT:-data}/ptbxl"}
builders:
  - type: report
output: {dir: out}
"""


def write(tmp_path, text):
    path = tmp_path / "m.yaml"
    path.write_text(text)
    return path


def test_good_manifest_resolves_paths_and_env(tmp_path, monkeypatch):
    m = load_manifest(write(tmp_path, GOOD))
    assert m.sources[0].root == str(tmp_path / "data" / "ptbxl")
    assert m.output.dir == str(tmp_path / "out")
    monkeypatch.setenv("ECGC_TEST_ROOT", "/abs/where")
    assert load_manifest(write(tmp_path, GOOD)).sources[0].root == "/abs/where/ptbxl"


def test_unknown_key_names_key_line_and_allowed(tmp_path):
    text = GOOD.replace("seed: 3", "seed: 3\nsplits:\n  polcy: patient")
    with pytest.raises(ManifestError) as err:
        load_manifest(write(tmp_path, text))
    msg = str(err.value)
    assert "m.yaml:4: splits.polcy: unknown key (allowed: policy, ratios)" in msg


def test_wrong_type_names_key_and_line(tmp_path):
    with pytest.raises(ManifestError, match=r"m.yaml:2: seed: Input should be a valid integer"):
        load_manifest(write(tmp_path, GOOD.replace("seed: 3", "seed: three")))


def test_ratios_must_sum_to_one(tmp_path):
    text = GOOD + "splits: {ratios: {train: 0.5, test: 0.1}}\n"
    with pytest.raises(ManifestError, match="m.yaml:8: splits.ratios: ratios must sum to 1, got 0.6"):
        load_manifest(write(tmp_path, text))


def test_unset_env_var_without_default(tmp_path):
    with pytest.raises(ManifestError, match=r"\$NOPE_NOT_SET is not set"):
        load_manifest(write(tmp_path, GOOD.replace("${ECGC_TEST_ROOT:-data}", "$NOPE_NOT_SET")))


def test_cli_bad_manifest_is_one_line_exit_1(tmp_path):
    path = write(tmp_path, GOOD.replace("type: report", "type: report\n    parms: {}"))
    result = CliRunner().invoke(main, ["build", str(path)])
    assert result.exit_code == 1
    assert result.output.strip().count("\n") == 0
    assert "m.yaml:7: builders.0.parms: unknown key (allowed: type, config, sources, params, fraction)" in result.output


def test_invalid_yaml(tmp_path):
    with pytest.raises(ManifestError, match=r"m.yaml:\d+: not valid YAML"):
        load_manifest(write(tmp_path, "name: [unclosed\n"))


@pytest.mark.parametrize("change, same", [
    ("concurrency: 64", True), ("base_url: http://127.0.0.1:9/v1", True), ("max_retries: 2", True),
    ("model: other-model", False), ("temperature: 0.7", False),
])
def test_digest_holds_only_the_llm_fields_that_change_the_text(tmp_path, change, same):
    base = GOOD + "llm: {model: m1, concurrency: 16}\n"
    edited = base.replace("concurrency: 16", change if change.startswith("concurrency") else f"concurrency: 16, {change}")
    if change.startswith("model"):
        edited = base.replace("model: m1", change)
    a = load_manifest(write(tmp_path, base)).digest()
    b = load_manifest(write(tmp_path, edited)).digest()
    assert (a == b) is same
