"""A training run for the fault tests to kill: ``python _training_child.py kline|agent ARGS.json OUT``.

``ARGS.json`` holds a KlineTrainConfig (kline) or train_agent's keyword arguments (agent). Fault points, from the
environment: ``QFIN_FAULT_PAUSE_SAVE=N`` (before the N-th ``torch.save`` of this process) or
``QFIN_FAULT_PAUSE_RMTREE=N`` (before the N-th folder deletion of the checkpoint swap, i.e. right after the atomic
exchange) writes ``QFIN_FAULT_MARKER`` and sleeps, so the test's SIGKILL lands exactly there.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path


def _pause_before(module, name: str, nth: int) -> None:
    real, calls = getattr(module, name), []

    def paused(*args, **kwargs):
        calls.append(1)
        if len(calls) == nth:
            Path(os.environ["QFIN_FAULT_MARKER"]).write_text(str(nth))
            time.sleep(120)
        return real(*args, **kwargs)

    setattr(module, name, paused)


def main() -> None:
    import torch

    torch.set_num_threads(1)
    kind, args, out = sys.argv[1], json.loads(Path(sys.argv[2]).read_text()), sys.argv[3]
    if os.environ.get("QFIN_FAULT_PAUSE_SAVE"):
        _pause_before(torch, "save", int(os.environ["QFIN_FAULT_PAUSE_SAVE"]))
    if os.environ.get("QFIN_FAULT_PAUSE_RMTREE"):
        from qfin.data import _output

        _pause_before(_output.shutil, "rmtree", int(os.environ["QFIN_FAULT_PAUSE_RMTREE"]))
    if kind == "kline":
        from qfin.kline import KlineTrainConfig, train_kline

        train_kline(KlineTrainConfig.from_dict(args), out, progress=False)
    else:
        from qfin.agents import train_agent

        train_agent(out_dir=out, **args)


if __name__ == "__main__":
    main()
