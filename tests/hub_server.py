"""A stand-in for the Hugging Face Hub API on 127.0.0.1, for push tests.

It speaks the HTTP the real `huggingface_hub` client speaks (with Xet disabled, the legacy LFS
path): repo creation, repo info, settings (visibility), preupload, the LFS batch API and its
upload URLs, NDJSON commits (to a branch or as a pull request), and `resolve` downloads. State is
in memory: repos with their files and commits, and one LFS object store. ``fail_lfs_after``
makes every LFS upload after the first N answer 403, to test a push that breaks mid-upload.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlparse

LFS_SUFFIXES = (".parquet", ".png", ".jpg", ".npy")


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class Repo:
    repo_id: str
    private: bool
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)   # path → ("lfs"|"regular", content)
    commits: list[dict] = field(default_factory=list)                  # {"sha", "summary", "paths", "pr"}
    pulls: int = 0

    @property
    def head(self) -> str:
        main = [c for c in self.commits if c["pr"] is None]
        return main[-1]["sha"] if main else "0" * 40


class HubState:
    def __init__(self, token: str):
        self.token = token
        self.repos: dict[str, Repo] = {}
        self.lfs: dict[str, bytes] = {}
        self.lfs_puts = 0
        self.fail_lfs_after: int | None = None
        self.user_agents: list[str] = []
        self.validated = 0
        self.lock = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    state: HubState
    base: str

    def log_message(self, *args):  # quiet
        pass

    # -- plumbing ------------------------------------------------------------------------------------------
    def _send(self, status: int, body=b"", headers: dict | None = None, error_code: str | None = None):
        data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
        self.send_response(status)
        self.send_header("Content-Type", "application/json" if isinstance(body, (dict, list)) else
                         "application/octet-stream")
        if error_code:
            self.send_header("X-Error-Code", error_code)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _error(self, status: int, message: str, code: str | None = None):
        self._send(status, {"error": message}, error_code=code)

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _authorized(self) -> bool:
        self.state.user_agents.append(self.headers.get("User-Agent", ""))
        if self.headers.get("Authorization") != f"Bearer {self.state.token}":
            self._error(401, "Invalid credentials in Authorization header")
            return False
        return True

    def _repo(self, repo_id: str) -> Repo | None:
        repo = self.state.repos.get(repo_id)
        if repo is None:
            self._error(404, f"Repository Not Found for url: {self.path}", "RepoNotFound")
        return repo

    # -- routes ---------------------------------------------------------------------------------------------
    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        url = urlparse(self.path)
        path = unquote(url.path)
        if not self._authorized():
            return
        if path == "/api/whoami-v2":
            return self._send(200, {"type": "user", "name": "tester", "auth": {"accessToken": {"role": "write"}}})
        m = re.fullmatch(r"/api/datasets/([^/]+/[^/]+)(?:/revision/(.+))?", path)
        if m:
            repo = self._repo(m.group(1))
            if repo:
                self._send(200, {"id": repo.repo_id, "sha": repo.head, "private": repo.private, "tags": [],
                                 "siblings": [{"rfilename": p} for p in sorted(repo.files)]})
            return
        m = re.fullmatch(r"/datasets/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path)
        if m:
            repo = self._repo(m.group(1))
            if repo is None:
                return
            entry = repo.files.get(m.group(3))
            if entry is None:
                return self._error(404, f"Entry not found: {m.group(3)}", "EntryNotFound")
            kind, content = entry
            etag = hashlib.sha256(content).hexdigest() if kind == "lfs" else git_blob_sha1(content)
            return self._send(200, content, {"X-Repo-Commit": repo.head, "ETag": f'"{etag}"'})
        self._error(404, f"no route {path}")

    def do_PUT(self):
        url = urlparse(self.path)
        path = unquote(url.path)
        m = re.fullmatch(r"/lfs-upload/([0-9a-f]{64})", path)
        if m:  # a pre-signed storage URL: no token
            data = self._body()
            with self.state.lock:
                if self.state.fail_lfs_after is not None and self.state.lfs_puts >= self.state.fail_lfs_after:
                    return self._error(403, "storage quota exceeded (stand-in failure)")
                if hashlib.sha256(data).hexdigest() != m.group(1):
                    return self._error(400, "content does not match its oid")
                self.state.lfs[m.group(1)] = data
                self.state.lfs_puts += 1
            return self._send(200, b"")
        if not self._authorized():
            return
        m = re.fullmatch(r"/api/datasets/([^/]+/[^/]+)/settings", path)
        if m:
            repo = self._repo(m.group(1))
            if repo:
                settings = json.loads(self._body() or b"{}")
                if "visibility" in settings:
                    repo.private = settings["visibility"] == "private"
                self._send(200, {})
            return
        self._error(404, f"no route {path}")

    def do_POST(self):
        url = urlparse(self.path)
        path, query = unquote(url.path), parse_qs(url.query)
        if not self._authorized():
            return
        if path == "/api/validate-yaml":
            errors = card_errors(json.loads(self._body())["content"])
            self.state.validated += 1
            return self._send(400 if errors else 200, {"errors": [{"message": e} for e in errors], "warnings": []})
        if path == "/api/repos/create":
            spec = json.loads(self._body())
            repo_id = f"{spec['organization']}/{spec['name']}" if spec.get("organization") else spec["name"]
            if spec.get("type") != "dataset":
                return self._error(400, "this stand-in only hosts datasets")
            if repo_id in self.state.repos:
                return self._send(409, {"error": "You already created this dataset repo",
                                        "url": f"{self.base}/datasets/{repo_id}"})
            self.state.repos[repo_id] = Repo(repo_id, spec.get("visibility", "public") == "private")
            return self._send(200, {"url": f"{self.base}/datasets/{repo_id}", "name": repo_id})
        m = re.fullmatch(r"/api/datasets/([^/]+/[^/]+)/preupload/(.+)", path)
        if m:
            repo = self._repo(m.group(1))
            if repo is None:
                return
            files = []
            for f in json.loads(self._body())["files"]:
                lfs = f["path"].endswith(LFS_SUFFIXES) or f["size"] > 10 * 2**20
                entry = repo.files.get(f["path"])
                oid = None
                if entry is not None:
                    oid = hashlib.sha256(entry[1]).hexdigest() if entry[0] == "lfs" else git_blob_sha1(entry[1])
                files.append({"path": f["path"], "uploadMode": "lfs" if lfs else "regular", "shouldIgnore": False,
                              "oid": oid})
            return self._send(200, {"files": files, "commitOid": repo.head})
        m = re.fullmatch(r"/datasets/([^/]+/[^/]+)\.git/info/lfs/objects/batch", path)
        if m:
            if self._repo(m.group(1)) is None:
                return
            objects = []
            for obj in json.loads(self._body())["objects"]:
                entry = {"oid": obj["oid"], "size": obj["size"], "authenticated": True}
                if obj["oid"] not in self.state.lfs:     # already stored: nothing to upload
                    entry["actions"] = {"upload": {"href": f"{self.base}/lfs-upload/{obj['oid']}", "header": {}}}
                objects.append(entry)
            return self._send(200, {"transfer": "basic", "objects": objects})
        m = re.fullmatch(r"/api/datasets/([^/]+/[^/]+)/commit/(.+)", path)
        if m:
            repo = self._repo(m.group(1))
            if repo is None:
                return
            return self._commit(repo, self._body(), bool(query.get("create_pr")))
        self._error(404, f"no route {path}")

    def _commit(self, repo: Repo, body: bytes, create_pr: bool):
        lines = [json.loads(line) for line in body.splitlines() if line.strip()]
        header = next(line["value"] for line in lines if line["key"] == "header")
        staged = dict(repo.files)
        for line in lines:
            value = line["value"]
            if line["key"] == "file":
                staged[value["path"]] = ("regular", base64.b64decode(value["content"]))
            elif line["key"] == "lfsFile":
                if value["oid"] not in self.state.lfs:
                    return self._error(422, f"LFS object {value['oid']} was never uploaded")
                staged[value["path"]] = ("lfs", self.state.lfs[value["oid"]])
            elif line["key"] == "deletedFile":
                staged.pop(value["path"], None)
            elif line["key"] == "deletedFolder":
                prefix = value["path"].rstrip("/") + "/"
                staged = {p: e for p, e in staged.items() if not p.startswith(prefix)}
        paths = [line["value"]["path"] for line in lines if line["key"] != "header"]
        sha = hashlib.sha1(json.dumps([repo.head, header, paths, len(repo.commits)]).encode()).hexdigest()
        pr = None
        if create_pr:
            repo.pulls += 1
            pr = repo.pulls
        else:
            repo.files = staged
        repo.commits.append({"sha": sha, "summary": header["summary"], "paths": paths, "pr": pr})
        pr_url = f"{self.base}/datasets/{repo.repo_id}/discussions/{pr}" if pr else None
        self._send(200, {"commitUrl": f"{self.base}/datasets/{repo.repo_id}/commit/{sha}", "commitOid": sha,
                         "pullRequestUrl": pr_url})


def card_errors(readme: str) -> list[str]:
    """What the Hub's card check refuses, as far as this stand-in checks it: unparsable YAML, no
    licence, or ``license: other`` without ``license_name`` and ``license_link``."""
    import yaml

    if not readme.startswith("---"):
        return []
    try:
        meta = yaml.safe_load(readme.split("---", 2)[1]) or {}
    except yaml.YAMLError as exc:
        return [f"invalid YAML: {exc}"]
    errors = [] if meta.get("license") else ["\"license\" is required"]
    if meta.get("license") == "other":
        errors += [f"\"{key}\" is required when license is other" for key in ("license_name", "license_link")
                   if not meta.get(key)]
    return errors


class HubServer:
    """``with HubServer(token) as hub: … hub.url …`` (HF_ENDPOINT for the client)."""

    def __init__(self, token: str):
        self.state = HubState(token)
        handler = type("Handler", (_Handler,), {"state": self.state})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        handler.base = self.url
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> "HubServer":
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()
