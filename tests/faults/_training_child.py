"""A training run for the fault tests to kill: ``python _training_child.py kline|agent ARGS.json OUT``.

``ARGS.json`` holds a KlineTrainConfig (kline) or train_agent's keyword arguments (agent). Fault points, from the
environment: ``QFIN_FAULT_PAUSE_SAVE=N`` (before the N-th ``torch.save`` of this process) or
``QFIN_FAULT_PAUSE_RMTREE=N`` (before the N-th folder deletion of the checkpoint swap, i.e. right after the atomic
exchange) or ``QFIN_FAULT_PAUSE_REPLACE=N`` (before the N-th ``os.replace``) writes ``QFIN_FAULT_MARKER`` and sleeps,
so the test's SIGKILL lands exactly there. ``QFIN_FAULT_NO_EXCHANGE=1`` swaps as where renameat2 is missing.
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
    from qfin.data import _output

    if os.environ.get("QFIN_FAULT_PAUSE_RMTREE"):
        _pause_before(_output.shutil, "rmtree", int(os.environ["QFIN_FAULT_PAUSE_RMTREE"]))
    if os.environ.get("QFIN_FAULT_NO_EXCHANGE"):  # as on an OS without renameat2: the rename-aside swap
        _output._exchange = lambda a, b: False
    if os.environ.get("QFIN_FAULT_PAUSE_REPLACE"):
        _pause_before(_output.os, "replace", int(os.environ["QFIN_FAULT_PAUSE_REPLACE"]))
    if kind == "kline":
        from qfin.kline import KlineTrainConfig, train_kline

        train_kline(KlineTrainConfig.from_dict(args), out, progress=False)
    else:
        from qfin.agents import train_agent

        train_agent(out_dir=out, **args)


if __name__ == "__main__":
    main()
