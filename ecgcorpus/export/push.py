"""Publish a built corpus to the Hugging Face Hub (token from the environment, never printed)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from ..corpus import LOCK_NAME, Corpus
from ..errors import EcgCorpusError

TOKEN_ENV = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")


@dataclass(frozen=True)
class Upload:
    path: str      # relative to the corpus root (= path in the repo)
    size: int


def upload_plan(root: str) -> list[Upload]:
    """Exactly what a push uploads: the card, the lock file, the quarantine list and every shard."""
    corpus = Corpus(root)
    if corpus.lock is None:
        raise EcgCorpusError(f"{root}: no {LOCK_NAME}; build (or finish building) before pushing")
    names = ["README.md", LOCK_NAME, "quarantine.jsonl"] + [s.relpath for s in corpus.shards()]
    missing = [n for n in names if not os.path.exists(os.path.join(root, n))]
    if missing:
        raise EcgCorpusError(f"{root}: missing {', '.join(missing)}")
    return [Upload(n, os.path.getsize(os.path.join(root, n))) for n in names]


def push(root: str, repo_id: str, private: bool = False, force: bool = False, endpoint: str | None = None) -> str:
    from huggingface_hub import HfApi
    from huggingface_hub.errors import EntryNotFoundError, RepositoryNotFoundError

    token = next((os.environ[k] for k in TOKEN_ENV if os.environ.get(k)), None)
    if token is None:
        raise EcgCorpusError(f"no Hugging Face token: set {TOKEN_ENV[0]} in the environment")
    plan = upload_plan(root)
    api = HfApi(endpoint=endpoint, token=token)
    local_lock = json.loads(open(os.path.join(root, LOCK_NAME)).read())
    try:
        remote = api.hf_hub_download(repo_id, LOCK_NAME, repo_type="dataset")
        remote_lock = json.loads(open(remote).read())
        if remote_lock.get("plan_sha256") != local_lock.get("plan_sha256") and not force:
            raise EcgCorpusError(f"{repo_id} holds a different build (plan {remote_lock.get('plan_sha256', '?')[:12]}); "
                                 "pass --force to replace it")
    except (EntryNotFoundError, RepositoryNotFoundError):
        pass
    api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
    info = api.upload_folder(folder_path=root, repo_id=repo_id, repo_type="dataset",
                             allow_patterns=[u.path for u in plan],
                             delete_patterns=["data/**"] if force else None,
                             commit_message=f"ecgcorpus build {local_lock.get('plan_sha256', '')[:12]}")
    return str(getattr(info, "commit_url", info))
