"""The command line starts light: no heavy library loads for `ecgcorpus … --help`."""

import subprocess
import sys

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
