"""Run every bench/bench_*.py, gather their JSON into bench/results.json and a table in bench/results.md."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _cell(value, digits: int) -> str:
    """A number for the table; '-' where a measurement has no peer (e.g. a throughput reported alone)."""
    return "-" if value is None else f"{value:.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--python", default=sys.executable, help="interpreter with qfin and the peers installed")
    args = parser.parse_args()

    results, failed = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for script in sorted(HERE.glob("bench_*.py")):
            out = Path(tmp) / f"{script.stem}.json"
            print(f"== {script.name}", flush=True)
            run = subprocess.run([args.python, str(script), "--json", str(out)])
            if run.returncode != 0 or not out.exists():
                failed.append(script.name)
                continue
            data = json.loads(out.read_text())  # one dict, or a list of them for a script with several measurements
            results.extend(data if isinstance(data, list) else [data])

    (HERE / "results.json").write_text(json.dumps(results, indent=2))
    lines = ["| benchmark | qfin (s) | peer | peer (s) | peer / qfin |", "|---|---|---|---|---|"]
    lines += [f"| {r['name']} | {_cell(r.get('qfin_s'), 4)} | {r.get('peer') or '-'} | {_cell(r.get('peer_s'), 4)} | "
              f"{_cell(r.get('ratio'), 2)} |" for r in results]
    (HERE / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
