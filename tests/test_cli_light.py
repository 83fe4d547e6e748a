"""The command line starts light: no heavy library loads for `ecgcorpus … --help`."""

import subprocess
from pathlib import Path
import sys

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("openai", "huggingface_hub", "cv2", "neurokit2", "matplotlib", "torch", "datasets", "scipy.signal")

PROBE = """
import sys
from ecgcorpus.cli import main
after_import = sorted(h for h in {heavy!r} if h in sys.modules)
commands = [[]] + [[name] for name in main.commands]
commands += [[name, sub] for name, group in main.commands.items() if hasattr(group, "commands") for sub in group.commands]
for command in commands:
    try:
        main(command + ["--help"], standalone_mode=False)
    except SystemExit:
        pass
print((after_import, sorted(h for h in {heavy!r} if h in sys.modules), len(commands)))
"""


def test_import_and_every_help_load_no_heavy_library():
    out = subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY)], capture_output=True, text=True,
                         check=True).stdout.strip().splitlines()[-1]
    after_import, after_help, n = eval(out)  # noqa: S307  (our own probe's repr)
    assert after_import == [] and after_help == [] and n >= 10


def complete(args: list[str], incomplete: str) -> list[str]:
    from click.shell_completion import ShellComplete

    from ecgcorpus.cli import main

    return [c.value for c in ShellComplete(main, {}, "ecgcorpus", "_ECGCORPUS_COMPLETE").get_completions(args, incomplete)]


def test_completion_of_commands_sources_and_configs():
    from pathlib import Path

    assert "build" in complete([], "bu") and "push" in complete([], "p")
    assert complete(["sources", "scan"], "cpsc") == ["cpsc2018", "cpsc2018-cinc"]
    assert complete(["synth", "image"], "chap") == ["chapman", "chapman-figshare"]
    demo = str(Path(__file__).resolve().parents[1] / "manifests" / "demo.yaml")
    assert complete(["llm", "requests", demo, "--config"], "llm") == ["llm_qa", "llm_multi"]
    assert complete(["llm", "requests", "no-such.yaml", "--config"], "") == []


def test_verbosity_and_json_conventions(tmp_path):
    """-q silences status lines; build --json prints one JSON document on stdout."""
    import json
    import os

    fixtures = tmp_path / "fx"
    subprocess.run([sys.executable, "-m", "ecgcorpus.cli", "fixtures", "write", str(fixtures), "-n", "4"],
                   check=True, capture_output=True)
    env = {**os.environ, "ECGCORPUS_FIXTURES": str(fixtures), "ECGCORPUS_OUT": str(tmp_path / "out")}
    env.pop("ECGCORPUS_LLM_MODEL", None)
    demo = str(REPO / "manifests" / "demo.yaml")
    loud = subprocess.run([sys.executable, "-m", "ecgcorpus.cli", "build", demo, "-j", "1", "--json"],
                          capture_output=True, text=True, env=env, cwd=REPO)
    doc = json.loads(loud.stdout)
    assert loud.returncode == 0 and doc["ok"] and doc["samples"] > 0 and set(doc["skipped"]) == {"llm_qa", "llm_multi"}
    assert "skipped" in loud.stderr
    quiet = subprocess.run([sys.executable, "-m", "ecgcorpus.cli", "-q", "build", demo, "-j", "1", "--json"],
                           capture_output=True, text=True, env=env, cwd=REPO)
    assert quiet.returncode == 0 and quiet.stderr == "" and json.loads(quiet.stdout)["resumed"] is True
