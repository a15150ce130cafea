"""Cold start: a fresh `supervisor check` process against `import presidio_analyzer`.

Each command runs as a new process, in alternating rounds of the same run (a shared
machine's load shifts; the ratios compare like with like), and is timed from spawn to
exit: wall time, CPU time (user + system) and peak RSS of the process. Printed are the
medians and each command's ratio to the Presidio import.

- `presidio import`: `python -c "import presidio_analyzer"`, the floor for any process
  that runs Presidio;
- `check healthcare`: `supervisor check -c healthcare "Hello there"`;
- `check pattern-only`: a constitution whose principles have only pattern checks, its
  texts stored as hashes (`store_text: none`), so no model of any kind is needed;
- `check pattern-only, redacted`: the same with the default `store_text: redacted`,
  whose record redaction runs Presidio (identifiers may be in any text).

Targets (issue 21): check healthcare <= 1.3x the Presidio import's wall time;
check pattern-only <= 1.0 s wall.

    .venv/bin/python bench/cold_start.py [--rounds 3]
    PYTHONPATH=/tmp/other-tree .venv/bin/python bench/cold_start.py  # another checkout
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PATTERN_ONLY = """\
id: pattern-only
version: 1.0.0
title: Pattern-only bench constitution
description: Phrase and expression checks only; no model loads.
defaults:
  store_text: {store_text}
principles:
  - id: no-dosing-escalation
    statement: The answer does not advise doubling a dose.
    severity: high
    action: block
    citations: ["bench fixture"]
    checks:
      - pattern:
          regex: ['\\b(?:double|triple) (?:your|the) dose\\b']
  - id: no-guaranteed-returns
    statement: The answer does not promise guaranteed investment returns.
    severity: medium
    action: flag
    citations: ["bench fixture"]
    checks:
      - pattern:
          phrases: ["guaranteed returns", "risk-free profit"]
"""


def run(command: list[str], env: dict[str, str]) -> dict[str, float]:
    """Wall and CPU seconds and peak RSS (MiB) of one process, from spawn to exit."""
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, cwd=env["SUPERVISOR_LEDGER"] + "-cwd",
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    error = process.stderr.read().decode() if process.stderr else ""
    if process.returncode not in (0, 10, 11, 12):  # the check's own exit codes
        raise SystemExit(f"{' '.join(command)} failed ({process.returncode}):\n{error}")
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime,
            "rss_mib": usage.ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "SUPERVISOR_LEDGER": str(Path(tmp) / "ledger"),
               "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        # run from an empty folder: `-m` puts the working folder first on sys.path, and
        # the code measured is the installed project or a tree named in PYTHONPATH
        Path(env["SUPERVISOR_LEDGER"] + "-cwd").mkdir()
        paths = {}
        for store_text in ("none", "redacted"):
            paths[store_text] = Path(tmp) / f"pattern-only-{store_text}.yaml"
            paths[store_text].write_text(PATTERN_ONLY.format(store_text=store_text))
        check = [sys.executable, "-m", "supervisor", "check"]
        commands = {
            "presidio import": [sys.executable, "-c", "import presidio_analyzer"],
            "check healthcare": [*check, "-c", "healthcare", "Hello there"],
            "check pattern-only": [*check, "-c", str(paths["none"]), "Hello there"],
            "check pattern-only, redacted": [*check, "-c", str(paths["redacted"]),
                                             "Hello there"],
        }
        run(commands["check pattern-only"], env)  # bytecode compiled, files in the page cache
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in commands}
        for round_ in range(args.rounds):
            order = list(commands) if round_ % 2 == 0 else list(reversed(commands))
            for name in order:
                runs[name].append(run(commands[name], env))
    medians = {name: {key: statistics.median(r[key] for r in rs) for key in rs[0]}
               for name, rs in runs.items()}
    floor = medians["presidio import"]
    print(f"{args.rounds} rounds, {os.cpu_count()} cores, medians; load average "
          f"{os.getloadavg()[0]:.1f}")
    print(f"{'':30}{'wall s':>8}{'cpu s':>8}{'RSS MiB':>9}{'wall ratio':>12}{'cpu ratio':>11}")
    for name, m in medians.items():
        print(f"{name:30}{m['wall_s']:>8.2f}{m['cpu_s']:>8.2f}{m['rss_mib']:>9.0f}"
              f"{m['wall_s'] / floor['wall_s']:>11.2f}x{m['cpu_s'] / floor['cpu_s']:>10.2f}x")
    ratio = medians["check healthcare"]["wall_s"] / floor["wall_s"]
    pattern = medians["check pattern-only"]["wall_s"]
    print(f"targets: healthcare <= 1.3x the import ({ratio:.2f}x: "
          f"{'met' if ratio <= 1.3 else 'MISSED'}); pattern-only <= 1.0 s "
          f"({pattern:.2f} s: {'met' if pattern <= 1.0 else 'MISSED'})")
    out = Path(__file__).parent / "results" / "cold_start.json"
    out.write_text(json.dumps({"rounds": args.rounds, "cores": os.cpu_count(),
                               "medians": medians, "runs": runs,
                               "healthcare_over_import": ratio}, indent=2))
    print(f"saved {out}")


if __name__ == "__main__":
    main()
