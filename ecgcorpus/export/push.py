"""Publish a built corpus to the Hugging Face Hub.

The token comes from ``HF_TOKEN`` or the login ``hf auth login`` stored (``huggingface_hub.get_token``),
and is never printed or written. The repo id is checked before anything runs. Every Hub or
network failure becomes one line: what was being done, the HTTP status and the server's message,
and a hint. Uploads go through ``HfApi.upload_folder``, which (with ``hf_xet``, the default)
streams, commits a large folder in several parts and resumes an interrupted upload when rerun;
unchanged files are not uploaded again.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from .. import __version__
from ..console import progress_enabled
from ..corpus import CARD_NAME, LICENSE_NAME, LOCK_NAME, QUARANTINE_NAME, Corpus
from ..errors import EcgCorpusError

_HINTS = {
    401: "the token is invalid or expired: set HF_TOKEN or run `hf auth login`",
    403: "the token cannot write there (a read-only token, another user's namespace, or a quota)",
    404: "no such repository or revision (check the id; --revision must name an existing branch)",
    409: "the repository changed meanwhile; rerun to resume",
    412: "the repository changed meanwhile; rerun to resume",
    413: "a file is too large for a single upload",
    429: "rate-limited: wait, then rerun (the upload resumes)",
}


class PushError(EcgCorpusError):
    pass


@dataclass(frozen=True)
class Upload:
    path: str      # relative to the corpus root (= path in the repo)
    size: int


@dataclass
class PushResult:
    repo_id: str
    commit_url: str
    pr_url: str | None
    files: int
    bytes: int
    private: bool | None

    def to_dict(self) -> dict:
        return {"repo_id": self.repo_id, "commit_url": self.commit_url, "pr_url": self.pr_url,
                "files": self.files, "bytes": self.bytes, "private": self.private}


def check_repo_id(repo_id: str) -> str:
    """``namespace/name`` as the Hub accepts it, else a PushError naming the problem."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    if repo_id.count("/") != 1:
        raise PushError(f"repo id {repo_id!r}: write it as namespace/name (e.g. me/my-ecg-corpus)")
    try:
        validate_repo_id(repo_id)
    except HFValidationError as exc:
        raise PushError(f"repo id {repo_id!r}: {str(exc).splitlines()[0]}") from None
    return repo_id


def upload_plan(root: str) -> list[Upload]:
    """Exactly what a push uploads: the card, the licence notes, the lock file, the quarantine list
    and every shard."""
    corpus = Corpus(root)
    if corpus.lock is None:
        raise PushError(f"{root}: no {LOCK_NAME}; build (or finish building) before pushing")
    names = [CARD_NAME, LICENSE_NAME, LOCK_NAME, QUARANTINE_NAME] + [s.relpath for s in corpus.shards()]
    missing = [n for n in names if not os.path.exists(os.path.join(root, n))]
    if missing:
        raise PushError(f"{root}: missing {', '.join(missing)} (rebuild with this version of ecgcorpus)")
    return [Upload(n, os.path.getsize(os.path.join(root, n))) for n in names]


def resolve_token() -> str:
    from huggingface_hub import get_token

    token = get_token()
    if not token:
        raise PushError("no Hugging Face token: set HF_TOKEN, or run `hf auth login`")
    return token


def push(root: str, repo_id: str, private: bool | None = None, force: bool = False, revision: str | None = None,
         create_pr: bool = False, message: str | None = None, progress: bool | None = None) -> PushResult:
    """Upload ``root`` to the dataset repo ``repo_id``. ``private``: None keeps a repo's visibility
    (new repos are public), True/False sets it, on an existing repo too."""
    check_repo_id(repo_id)
    plan = upload_plan(root)
    progress = progress_enabled(progress)
    token = resolve_token()
    from huggingface_hub import HfApi
    from huggingface_hub.utils import disable_progress_bars

    if not progress:
        disable_progress_bars()       # the client's bars are for a terminal, not for logs

    api = HfApi(token=token, library_name="ecgcorpus", library_version=__version__)
    with open(os.path.join(root, LOCK_NAME), encoding="utf-8") as f:
        local_lock = json.load(f)
    with hub_errors(f"creating datasets/{repo_id}"):
        api.create_repo(repo_id, repo_type="dataset", private=bool(private), exist_ok=True)
    if private is not None:
        with hub_errors(f"setting the visibility of datasets/{repo_id}"):
            api.update_repo_settings(repo_id, repo_type="dataset", private=private)
    with hub_errors(f"reading {LOCK_NAME} of datasets/{repo_id}"):
        remote_plan = _remote_plan(api, repo_id, revision)
    if remote_plan not in (None, local_lock.get("plan_sha256")) and not force:
        raise PushError(f"datasets/{repo_id} holds a different build (plan {str(remote_plan)[:12]}); "
                        "pass --force to replace it")
    summary = message or f"ecgcorpus build {str(local_lock.get('plan_sha256', ''))[:12]}"
    with hub_errors(f"uploading to datasets/{repo_id}"):
        info = api.upload_folder(folder_path=root, repo_id=repo_id, repo_type="dataset", revision=revision,
                                 create_pr=create_pr or None, allow_patterns=[u.path for u in plan],
                                 delete_patterns=["data/**"] if force else None, commit_message=summary)
    return PushResult(repo_id, str(getattr(info, "commit_url", info)), getattr(info, "pr_url", None),
                      len(plan), sum(u.size for u in plan), private)


def _remote_plan(api, repo_id: str, revision: str | None) -> str | None:
    """The plan hash of the build already in the repo, None for an empty repo."""
    from huggingface_hub.errors import EntryNotFoundError, RevisionNotFoundError

    try:
        path = api.hf_hub_download(repo_id, LOCK_NAME, repo_type="dataset", revision=revision)
    except (EntryNotFoundError, RevisionNotFoundError):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f).get("plan_sha256")


def _cause(exc: BaseException, kind: type) -> BaseException | None:
    """``exc`` or the first exception of type ``kind`` it was raised from."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, kind):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


class hub_errors:
    """``with hub_errors("doing X"):`` turns Hub and network failures into one PushError line."""

    def __init__(self, doing: str):
        self.doing = doing

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if exc is None or isinstance(exc, EcgCorpusError):
            return False
        from huggingface_hub.errors import HfHubHTTPError

        http = _cause(exc, HfHubHTTPError)      # the client wraps a failed upload in a RuntimeError
        if http is not None:
            status = getattr(getattr(http, "response", None), "status_code", None)
            server = (getattr(http, "server_message", None) or str(http)).strip().splitlines()[0]
            outer = "" if http is exc else f"{str(exc).strip().splitlines()[0]} "
            hint = _HINTS.get(status, "rerun to resume; finished uploads are not repeated")
            raise PushError(f"{self.doing}: {outer}HTTP {status}: {server[:200]} ({hint})") from None
        if not isinstance(exc, Exception):
            return False                                  # KeyboardInterrupt, SystemExit
        line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if isinstance(exc, OSError) or type(exc).__module__.startswith(("httpx", "httpcore")):
            raise PushError(f"{self.doing}: {line[:200]} (is the Hub reachable? HF_ENDPOINT="
                            f"{os.environ.get('HF_ENDPOINT', 'https://huggingface.co')}; rerun to resume)") from None
        # The client could not use what the Hub answered (invalid card metadata, a malformed reply).
        raise PushError(f"{self.doing}: {type(exc).__name__}: {line[:200]} (rerun to resume)") from None
