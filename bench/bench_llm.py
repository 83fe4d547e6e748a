"""Online LLM throughput vs the ideal C/L, against the local OpenAI-compatible server.

    python bench/bench_llm.py [--latency 2] [--concurrency 16 64] [--rounds 8]

The server (tests/llm_server.py, in its own process so that it does not share our GIL) answers every
chat completion after a fixed latency L with JSON for the requested schema. With C requests in flight
the best possible rate is C/L; we send rounds×C requests through the client (SDK over HTTP, retries,
validation, SQLite cache writes) with a cold cache and print measured rate / (C/L) for each C. Then a
rerun of the same requests with the warm cache, which must send nothing.

What limits it: the client spends p ≈ 2 ms of CPU per request (most of it inside the openai SDK), and
with a perfectly constant L the C responses of a round arrive together and are handled in turn, so a
round takes about L + C·p. The ratio is then about L / (L + C·p): ≥ 0.9 while C·p ≤ L/9 (C ≤ ~100 at
L = 2 s; real endpoints' latency varies, which spreads the bursts out). Printed as "predicted".
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))

from llm_server import TEST_KEY  # noqa: E402

from ecgcorpus.llm import LlmConfig, LlmSession, resolve_endpoint  # noqa: E402
from ecgcorpus.llm.jobs import Job  # noqa: E402
from ecgcorpus.llm.request import chat_body  # noqa: E402
from ecgcorpus.llm.schema import json_schema, qa_set_model, schema_name  # noqa: E402

SCHEMA = qa_set_model("mcq", 2)


def start_server(latency: float) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, "..", "tests", "llm_server.py"),
                             "--latency", str(latency)], stdout=subprocess.PIPE, text=True)
    return proc, proc.stdout.readline().strip()


def measure(url: str, cache: str, concurrency: int, n: int, tag: str) -> tuple[float, float, LlmSession]:
    """(wall seconds, client CPU seconds, session)."""
    config = LlmConfig(base_url=url, model="bench-model", cache=cache, concurrency=concurrency)
    endpoint, _ = resolve_endpoint(config)
    session = LlmSession(endpoint, progress=False)
    jobs = [Job(chat_body(config, "bench-model", [{"role": "user", "content": f"{tag} ECG {i}: sinus rhythm"}],
                          schema_name(SCHEMA), json_schema(SCHEMA)), SCHEMA) for i in range(n)]
    start, cpu = time.perf_counter(), time.process_time()
    outcomes = session.resolve(jobs)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    assert all(o.ok for o in outcomes), "every request must succeed"
    return elapsed, cpu, session


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=2.0, help="seconds per completion (L)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[16, 64], help="requests in flight (C)")
    parser.add_argument("--rounds", type=int, default=8, help="requests per run = rounds × C")
    args = parser.parse_args()
    os.environ["OPENAI_API_KEY"] = TEST_KEY
    proc, url = start_server(args.latency)
    ratios = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            measure(url, os.path.join(tmp, "warmup.sqlite"), 8, 16, "warmup")
            for c in args.concurrency:
                n = args.rounds * c
                cache = os.path.join(tmp, f"c{c}.sqlite")
                elapsed, cpu, _ = measure(url, cache, c, n, f"c{c}")
                ideal = c / args.latency
                ratios[c] = (n / elapsed) / ideal
                p = cpu / n
                print(f"C={c} L={args.latency:g}s: {n} requests in {elapsed:.2f} s = {n / elapsed:.1f} req/s, "
                      f"ideal C/L = {ideal:.1f} req/s, ratio {ratios[c]:.3f} (client CPU {p * 1000:.2f} ms/request, "
                      f"predicted L/(L+C·p) = {args.latency / (args.latency + c * p):.3f})")
                warm, _, session = measure(url, cache, c, n, f"c{c}")
                print(f"  rerun with the warm cache: {warm:.3f} s, {session.cache.hits} hits, "
                      f"{session.cache.misses} misses, {session.report.fetched} requests sent")
    finally:
        proc.terminate()
        proc.wait()
    print("RESULT llm_online " + " ".join(f"ratio_c{c}={r:.3f}" for c, r in ratios.items())
          + f" latency_s={args.latency:g} rounds={args.rounds}")


if __name__ == "__main__":
    main()
