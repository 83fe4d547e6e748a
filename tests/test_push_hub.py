"""`ecgcorpus push` against a stand-in for the Hub API on 127.0.0.1: the real huggingface_hub client
(legacy LFS path, Xet disabled) talks to it over HTTP through HF_ENDPOINT, in a child process, as a
user's push would."""

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hub_server import HubServer

TOKEN = "hf_standin_secret_token_123"
REPO = Path(__file__).resolve().parents[1]


def push(corpus, repo_id, *args, home, token=TOKEN, hub=None, json_out=True):
    env = {**os.environ, "HF_HOME": str(home), "HF_HUB_DISABLE_XET": "1", "HF_HUB_DISABLE_TELEMETRY": "1",
           "HF_HUB_ETAG_TIMEOUT": "5", "HF_HUB_DOWNLOAD_TIMEOUT": "5"}
    env.pop("HF_TOKEN", None)
    env.pop("HUGGING_FACE_HUB_TOKEN", None)
    if token:
        env["HF_TOKEN"] = token
    if hub is not None:
        env["HF_ENDPOINT"] = hub.url
    command = [sys.executable, "-m", "ecgcorpus.cli", "push", str(corpus), repo_id, *args]
    result = subprocess.run(command + (["--json"] if json_out else []), capture_output=True, text=True, env=env,
                            cwd=REPO, timeout=120)
    return result


def published(hub, repo_id) -> dict[str, bytes]:
    return {path: content for path, (_, content) in hub.state.repos[repo_id].files.items()}


def local(corpus, names) -> dict[str, bytes]:
    return {name: (Path(corpus) / name).read_bytes() for name in names}


@pytest.fixture()
def hub():
    with HubServer(TOKEN) as server:
        yield server


def test_push_creates_uploads_once_and_repushes_nothing(corpus, hub, tmp_path):
    first = push(corpus, "me/ecg-demo", home=tmp_path, hub=hub)
    assert first.returncode == 0, first.stderr
    result = json.loads(first.stdout)
    repo = hub.state.repos["me/ecg-demo"]
    plan = [line["path"] for line in json.loads(push(corpus, "me/ecg-demo", "--dry-run", home=tmp_path).stdout)["files"]]
    assert published(hub, "me/ecg-demo") == local(corpus, plan)
    shards = [p for p in plan if p.endswith(".parquet")]
    assert {repo.files[p][0] for p in shards} == {"lfs"} and repo.files["README.md"][0] == "regular"
    assert hub.state.lfs_puts == len({hashlib.sha256(local(corpus, [p])[p]).hexdigest() for p in shards})
    assert result["files"] == len(plan) and result["commit_url"].startswith(hub.url) and not repo.private
    assert any(ua.startswith("ecgcorpus/0.1.0") or "ecgcorpus/0.1.0" in ua for ua in hub.state.user_agents)
    assert TOKEN not in first.stdout + first.stderr

    puts, commits = hub.state.lfs_puts, len(repo.commits)
    again = push(corpus, "me/ecg-demo", home=tmp_path, hub=hub)
    assert again.returncode == 0, again.stderr
    assert hub.state.lfs_puts == puts and len(repo.commits) == commits      # nothing uploaded, no empty commit


def test_visibility_applies_to_existing_repos(corpus, hub, tmp_path):
    assert push(corpus, "me/vis", home=tmp_path, hub=hub).returncode == 0
    assert hub.state.repos["me/vis"].private is False
    assert push(corpus, "me/vis", "--private", home=tmp_path, hub=hub).returncode == 0
    assert hub.state.repos["me/vis"].private is True
    assert push(corpus, "me/vis", home=tmp_path, hub=hub).returncode == 0      # no flag: left as it is
    assert hub.state.repos["me/vis"].private is True
    assert push(corpus, "me/vis", "--public", home=tmp_path, hub=hub).returncode == 0
    assert hub.state.repos["me/vis"].private is False


def test_a_failure_mid_upload_is_one_line_and_a_rerun_resumes(corpus, hub, tmp_path):
    hub.state.fail_lfs_after = 1
    broken = push(corpus, "me/flaky", home=tmp_path, hub=hub, json_out=False)
    assert broken.returncode == 1
    lines = [line for line in broken.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "HTTP 403" in lines[0] and "Traceback" not in broken.stderr
    assert "me/flaky" in lines[0] and not hub.state.repos["me/flaky"].commits
    stored = set(hub.state.lfs)
    assert len(stored) == 1
    hub.state.fail_lfs_after = None
    puts = hub.state.lfs_puts
    fixed = push(corpus, "me/flaky", home=tmp_path, hub=hub)
    assert fixed.returncode == 0, fixed.stderr
    shards = sorted(p.relative_to(corpus).as_posix() for p in Path(corpus).rglob("*.parquet"))
    distinct = {hashlib.sha256((Path(corpus) / p).read_bytes()).hexdigest() for p in shards}
    assert hub.state.lfs_puts - puts == len(distinct - stored)            # the first object was not sent again
    assert set(published(hub, "me/flaky")) >= set(shards)


def test_create_pr_leaves_the_branch_alone(corpus, hub, tmp_path):
    assert push(corpus, "me/pr", home=tmp_path, hub=hub).returncode == 0
    before = dict(hub.state.repos["me/pr"].files)
    changed = tmp_path / "changed"
    shutil.copytree(corpus, changed)
    (changed / "README.md").write_text((changed / "README.md").read_text() + "\nA reviewed note.\n")
    result = push(changed, "me/pr", "--create-pr", "-m", "card: a note", home=tmp_path, hub=hub)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["pr_url"].endswith("/discussions/1")
    assert hub.state.repos["me/pr"].files == before
    assert hub.state.repos["me/pr"].commits[-1]["summary"] == "card: a note"


def test_bad_repo_id_and_missing_token_fail_before_any_request(corpus, hub, tmp_path):
    bad = push(corpus, "bad repo id!!", home=tmp_path, hub=hub, json_out=False)
    assert bad.returncode == 1 and "repo id" in bad.stderr and "Traceback" not in bad.stderr
    dry = push(corpus, "bad repo id!!", "--dry-run", home=tmp_path, hub=hub, json_out=False)
    assert dry.returncode == 1 and "repo id" in dry.stderr
    no_token = push(corpus, "me/x", home=tmp_path / "empty-home", hub=hub, token=None, json_out=False)
    assert no_token.returncode == 1 and "HF_TOKEN" in no_token.stderr and "hf auth login" in no_token.stderr
    assert hub.state.user_agents == []


def test_stored_login_token_is_used(corpus, hub, tmp_path):
    (tmp_path / "token").write_text(TOKEN)                 # what `hf auth login` stores under HF_HOME
    result = push(corpus, "me/login", home=tmp_path, hub=hub, token=None)
    assert result.returncode == 0, result.stderr
    assert "me/login" in hub.state.repos


def test_wrong_token_and_unreachable_hub_are_one_line(corpus, hub, tmp_path):
    denied = push(corpus, "me/x", home=tmp_path, hub=hub, token="hf_wrong", json_out=False)
    assert denied.returncode == 1 and "HTTP 401" in denied.stderr and "Traceback" not in denied.stderr
    assert "hf_wrong" not in denied.stderr

    class Nowhere:
        url = "http://127.0.0.1:9"     # discard port: connection refused
    refused = push(corpus, "me/x", home=tmp_path, hub=Nowhere(), json_out=False)
    lines = [line for line in refused.stderr.splitlines() if line.strip()]
    assert refused.returncode == 1 and len(lines) == 1 and "Traceback" not in refused.stderr
    assert "reachable" in lines[0]
