"""`qfin --help` wall time against a peer Python CLI (`ray --help`) and the bare interpreter.

Target (issue 2): `qfin --help` under 0.5 s. Startup time is what a user feels on every command, so the
package must not import torch, polars or other heavy libraries before a command needs them.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def wall_time(command: list[str], repeats: int) -> float:
    """Median wall time of `repeats` runs of `command`, after one warm-up run (file cache)."""
    subprocess.run(command, capture_output=True, check=True)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json", type=Path, help="write the result as JSON here")
    args = parser.parse_args()

    bin_dir = Path(sys.executable).parent
    qfin_s = wall_time([sys.executable, "-m", "qfin", "--help"], args.repeats)
    floor_s = wall_time([sys.executable, "-c", "pass"], args.repeats)
    ray = shutil.which("ray", path=str(bin_dir))
    peer, peer_s = ("ray --help", wall_time([ray, "--help"], args.repeats)) if ray else ("python -c pass", floor_s)

    print(f"qfin --help     : {qfin_s * 1000:7.1f} ms (target < 500 ms)")
    print(f"{peer:15s}: {peer_s * 1000:7.1f} ms")
    print(f"python -c pass : {floor_s * 1000:7.1f} ms (interpreter floor)")
    print(f"ratio {peer} / qfin --help = {peer_s / qfin_s:.2f}")
    if args.json:
        args.json.write_text(json.dumps({"name": "cli_startup", "qfin_s": qfin_s, "peer": peer, "peer_s": peer_s,
                                         "ratio": peer_s / qfin_s, "floor_s": floor_s, "target_s": 0.5}))


if __name__ == "__main__":
    main()
