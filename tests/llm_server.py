"""A small OpenAI-compatible HTTP server on 127.0.0.1 for the LLM tests and the bench.

It speaks the real wire format, so the real openai SDK talks to it over HTTP: chat completions
(with ``response_format`` json_schema: it answers JSON that matches the requested schema, derived
deterministically from the request), files (upload, metadata, content) and batches (create,
retrieve; the output and error files are written like OpenAI's). It injects faults, chosen by a
hash of the request so that every run sees the same ones:

* transport faults, on the first attempt of a request only: 429 with Retry-After, 500, and
  responses slower than the client's timeout;
* content faults, on every attempt of the same request: malformed JSON (never on a request whose
  messages already hold an assistant turn, i.e. a repair) and refusals (half in ``message.refusal``,
  half as refusal-like text).

``python tests/llm_server.py --latency 0.25`` serves until killed and prints its URL first.
"""

from __future__ import annotations

import argparse
import asyncio
import email.parser
import email.policy
import hashlib
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from aiohttp import web

TEST_KEY = "sk-test-7c1f0e9a-not-a-real-key-5d2b"


@dataclass
class Faults:
    rate_limit: float = 0.0      # fractions of requests (first attempts for the transport faults)
    server_error: float = 0.0
    timeout: float = 0.0
    malformed: float = 0.0
    refusal: float = 0.0
    retry_after: str = "0.2"     # Retry-After header of the 429s (seconds)
    slow_s: float = 2.0          # how long a "timeout" response takes


def _unit(digest: str, start: int) -> float:
    return int(digest[start:start + 8], 16) / 2**32


def _canonical(obj) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


@dataclass
class FakeOpenAI:
    api_key: str | None = TEST_KEY
    latency: float = 0.0
    faults: Faults = field(default_factory=Faults)
    batch_delay: float = 0.05

    def __post_init__(self):
        self.attempts: Counter[str] = Counter()       # request digest → times seen
        self.served: Counter[str] = Counter()         # outcome → count (ok, 429, 500, timeout, malformed, refusal)
        self.answered: dict[str, str] = {}            # request digest → content outcome (ok, malformed, refusal)
        self.chat_log: list[tuple[str, float]] = []   # (digest, arrival time) of every chat request
        self.auth_seen: set[str] = set()
        self.files: dict[str, dict] = {}
        self.batches: dict[str, dict] = {}
        self.url = ""
        self._thread = None
        self._loop = None

    # --- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> "FakeOpenAI":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> "FakeOpenAI":
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        def serve():
            asyncio.set_event_loop(self._loop)
            self._runner = web.AppRunner(self.app(), access_log=None)
            self._loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, "127.0.0.1", self._port_wanted)
            self._loop.run_until_complete(site.start())
            port = site._server.sockets[0].getsockname()[1]
            self.url = f"http://127.0.0.1:{port}/v1"
            ready.set()
            self._loop.run_forever()
            self._loop.run_until_complete(self._runner.cleanup())
            self._loop.close()

        self._port_wanted = getattr(self, "_port_wanted", 0)
        self._thread = threading.Thread(target=serve, daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop = None

    @property
    def chat_requests(self) -> int:
        return len(self.chat_log)

    def distinct(self, outcome: str) -> int:
        """Distinct requests answered with ``outcome`` (a slow answer the client gave up on counts once)."""
        return sum(v == outcome for v in self.answered.values())

    def app(self) -> web.Application:
        app = web.Application(client_max_size=256 * 2**20, middlewares=[self._auth])
        app.router.add_post("/v1/chat/completions", self.chat)
        app.router.add_post("/v1/files", self.upload)
        app.router.add_get("/v1/files/{id}", self.file_meta)
        app.router.add_get("/v1/files/{id}/content", self.file_content)
        app.router.add_post("/v1/batches", self.create_batch)
        app.router.add_get("/v1/batches/{id}", self.get_batch)
        return app

    @web.middleware
    async def _auth(self, request, handler):
        header = request.headers.get("Authorization", "")
        self.auth_seen.add(header)
        if self.api_key is not None and header != f"Bearer {self.api_key}":
            return _error(401, "invalid_api_key", "Incorrect API key provided.")
        return await handler(request)

    # --- chat completions --------------------------------------------------------------------

    async def chat(self, request: web.Request) -> web.Response:
        body = await request.json()
        digest = hashlib.sha256(_canonical(body).encode()).hexdigest()
        self.attempts[digest] += 1
        self.chat_log.append((digest, time.monotonic()))
        if self.attempts[digest] == 1:
            u, f = _unit(digest, 0), self.faults
            if u < f.rate_limit:
                self.served["429"] += 1
                return _error(429, "rate_limit_exceeded", "Rate limit reached.", {"Retry-After": f.retry_after})
            if u < f.rate_limit + f.server_error:
                self.served["500"] += 1
                return _error(500, "server_error", "The server had an error.")
            if u < f.rate_limit + f.server_error + f.timeout:
                self.served["timeout"] += 1
                await asyncio.sleep(f.slow_s)
        if self.latency:
            await asyncio.sleep(self.latency)
        return web.json_response(self.completion(body, digest))

    def completion(self, body: dict, digest: str) -> dict:
        """The chat.completion object for ``body`` (content faults included)."""
        u, f = _unit(digest, 8), self.faults
        repair = any(m.get("role") == "assistant" for m in body.get("messages", []))
        content, refusal, outcome = self.content(body, digest), None, "ok"
        if u < f.malformed and not repair:
            content, outcome = content[: max(1, len(content) // 2)], "malformed"
        elif f.malformed <= u < f.malformed + f.refusal:
            outcome = "refusal"
            if int(digest[16], 16) % 2:
                content, refusal = None, "I can't help with that request."
            else:
                content = "I'm sorry, but I can't assist with that."
        self.served[outcome] += 1
        self.answered[digest] = outcome
        prompt = sum(len(str(m.get("content") or "")) for m in body.get("messages", []))
        completion = len(content or refusal or "")
        return {
            "id": f"chatcmpl-{digest[:24]}", "object": "chat.completion", "created": 0,
            "model": body.get("model", "test-model"), "system_fingerprint": "fp_test",
            "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                         "message": {"role": "assistant", "content": content, "refusal": refusal}}],
            "usage": {"prompt_tokens": prompt // 4 + 1, "completion_tokens": completion // 4 + 1,
                      "total_tokens": prompt // 4 + completion // 4 + 2},
        }

    def content(self, body: dict, digest: str) -> str:
        fmt = body.get("response_format") or {}
        if fmt.get("type") == "json_schema":
            schema = fmt["json_schema"]["schema"]
            return json.dumps(instance(schema, schema.get("$defs", {}), digest, "$"))
        if fmt.get("type") == "json_object":
            return json.dumps({"answer": f"answer {digest[:8]}"})
        return f"Answer {digest[:12]}."

    # --- files and batches -------------------------------------------------------------------

    async def upload(self, request: web.Request) -> web.Response:
        # multipart/form-data parsed with the stdlib (aiohttp's reader warns about its own internals)
        head = f"Content-Type: {request.headers['Content-Type']}\r\n\r\n".encode()
        form = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + await request.read())
        parts = {part.get_param("name", header="content-disposition"): part for part in form.iter_parts()}
        upload = parts["file"]
        purpose = parts["purpose"].get_payload(decode=True).decode() if "purpose" in parts else "batch"
        meta = self._new_file(upload.get_payload(decode=True), upload.get_filename(), purpose)
        return web.json_response(meta)

    def _new_file(self, data: bytes, filename: str, purpose: str) -> dict:
        file_id = f"file-{len(self.files) + 1:06d}"
        meta = {"id": file_id, "object": "file", "bytes": len(data), "created_at": 0, "filename": filename,
                "purpose": purpose, "status": "processed"}
        self.files[file_id] = {"meta": meta, "data": data}
        return meta

    async def file_meta(self, request: web.Request) -> web.Response:
        entry = self.files.get(request.match_info["id"])
        return web.json_response(entry["meta"]) if entry else _error(404, "not_found", "No such file.")

    async def file_content(self, request: web.Request) -> web.Response:
        entry = self.files.get(request.match_info["id"])
        if entry is None:
            return _error(404, "not_found", "No such file.")
        return web.Response(body=entry["data"], content_type="application/octet-stream")

    async def create_batch(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("input_file_id") not in self.files:
            return _error(400, "invalid_request_error", "input_file_id not found")
        batch_id = f"batch_{len(self.batches) + 1:06d}"
        batch = {"id": batch_id, "object": "batch", "endpoint": body["endpoint"], "errors": None,
                 "input_file_id": body["input_file_id"], "completion_window": body["completion_window"],
                 "status": "validating", "output_file_id": None, "error_file_id": None, "created_at": 0,
                 "request_counts": {"total": 0, "completed": 0, "failed": 0}, "metadata": body.get("metadata")}
        self.batches[batch_id] = batch
        asyncio.get_running_loop().create_task(self._process(batch))
        return web.json_response(batch)

    async def get_batch(self, request: web.Request) -> web.Response:
        batch = self.batches.get(request.match_info["id"])
        return web.json_response(batch) if batch else _error(404, "not_found", "No such batch.")

    async def _process(self, batch: dict) -> None:
        await asyncio.sleep(self.batch_delay)
        batch["status"] = "in_progress"
        out, err = [], []
        for line in self.files[batch["input_file_id"]]["data"].decode().splitlines():
            row = json.loads(line)
            digest = hashlib.sha256(_canonical(row["body"]).encode()).hexdigest()
            self.attempts[digest] += 1
            entry = {"id": f"batch_req_{digest[:16]}", "custom_id": row["custom_id"], "error": None}
            if self.attempts[digest] == 1 and _unit(digest, 0) < self.faults.server_error:
                self.served["500"] += 1
                entry["response"] = {"status_code": 500, "request_id": digest[:12],
                                     "body": {"error": {"message": "The server had an error.", "type": "server_error"}}}
                err.append(entry)
            else:
                entry["response"] = {"status_code": 200, "request_id": digest[:12],
                                     "body": self.completion(row["body"], digest)}
                out.append(entry)
        await asyncio.sleep(self.batch_delay)
        for key, rows in (("output_file_id", out), ("error_file_id", err)):
            if rows:
                data = "".join(json.dumps(r) + "\n" for r in rows).encode()
                batch[key] = self._new_file(data, f"{batch['id']}_{key[:-8]}.jsonl", "batch_output")["id"]
        batch["request_counts"] = {"total": len(out) + len(err), "completed": len(out), "failed": len(err)}
        batch["status"] = "completed"


def instance(schema: dict, defs: dict, seed: str, path: str):
    """A value that matches ``schema`` (the subset structured output uses), derived from ``seed``."""
    if "$ref" in schema:
        return instance(defs[schema["$ref"].split("/")[-1]], defs, seed, path)
    h = hashlib.sha256(f"{seed}|{path}".encode()).hexdigest()
    if "enum" in schema:
        return schema["enum"][int(h[:8], 16) % len(schema["enum"])]
    kind = schema.get("type")
    if kind == "object":
        return {name: instance(sub, defs, seed, f"{path}.{name}") for name, sub in schema.get("properties", {}).items()}
    if kind == "array":
        n = max(schema.get("minItems", 1), 1)
        n = min(n, schema.get("maxItems", n))
        return [instance(schema.get("items", {}), defs, seed, f"{path}[{i}]") for i in range(n)]
    if kind == "integer":
        lo = int(schema.get("minimum", 0))
        hi = int(schema.get("maximum", lo + 9))
        return lo + int(h[:8], 16) % (hi - lo + 1)
    if kind == "number":
        return round(float(schema.get("minimum", 0)) + int(h[:8], 16) % 1000 / 10, 1)
    if kind == "boolean":
        return int(h[0], 16) % 2 == 0
    leaf = path.rsplit(".", 1)[-1]
    return f"{leaf} {h[:10]}"


def run_batch_file(server: FakeOpenAI, input_path, output_path) -> int:
    """What ``vllm run-batch -i INPUT -o OUTPUT`` writes, answered by ``server``'s model without HTTP."""
    rows = []
    with open(input_path, encoding="utf-8") as f:
        for line in f:
            request = json.loads(line)
            digest = hashlib.sha256(_canonical(request["body"]).encode()).hexdigest()
            rows.append({"id": f"vllm-{digest[:32]}", "custom_id": request["custom_id"], "error": None,
                         "response": {"status_code": 200, "request_id": f"vllm-batch-{digest[:16]}",
                                      "body": server.completion(request["body"], digest)}})
    with open(output_path, "w", encoding="utf-8") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    return len(rows)


def _error(status: int, code: str, message: str, headers: dict | None = None) -> web.Response:
    return web.json_response({"error": {"message": message, "type": code, "code": code, "param": None}},
                             status=status, headers=headers)


try:
    import pytest

    @pytest.fixture
    def llm_server():
        """A fresh server (no faults, no latency) that requires TEST_KEY."""
        with FakeOpenAI() as server:
            yield server
except ImportError:  # the bench runs this file without pytest
    pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per chat completion")
    parser.add_argument("--no-auth", action="store_true", help="accept any key")
    args = parser.parse_args()
    server = FakeOpenAI(api_key=None if args.no_auth else TEST_KEY, latency=args.latency)
    server._port_wanted = args.port
    server.start()
    print(server.url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
