"""The solver-dependent tests pass whichever kernels OpenBLAS picks: run them under OPENBLAS_CORETYPE unset,
``Haswell`` (AVX2) and ``SkylakeX`` (AVX-512), the settings machines of this project's kind differ in, and
``Sandybridge`` (AVX) as a further set of kernels any of them can run.

A kernel the CPU lacks cannot be forced (OpenBLAS would die on an illegal instruction), so that setting is
skipped with the reason; on an AVX-512 machine all three run. The tests themselves carry the ``solver`` marker.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# the CPU flag each kernel set executes; Sandybridge (AVX) runs on every x86-64 machine of this kind, so even
# where SkylakeX cannot be forced the solver tests meet a second set of kernels
NEEDS = {"Haswell": "avx2", "SkylakeX": "avx512f", "Sandybridge": "avx"}


def cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    line = next((ln for ln in text.splitlines() if ln.startswith("flags")), "")
    return set(line.split(":", 1)[-1].split())


@pytest.mark.parametrize("coretype", [None, "Haswell", "SkylakeX", "Sandybridge"], ids=lambda c: c or "unset")
def test_the_solver_tests_pass_under_each_openblas_kernel(coretype):
    if coretype is not None and NEEDS[coretype] not in cpu_flags():
        pytest.skip(f"this CPU has no {NEEDS[coretype]}, so OpenBLAS cannot run its {coretype} kernels here")
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    if coretype is not None:
        env["OPENBLAS_CORETYPE"] = coretype
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m",
                             "solver and not slow", "tests"], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=900)
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else result.stderr[-2000:]
    assert result.returncode == 0, f"OPENBLAS_CORETYPE={coretype}: {summary}\n{result.stdout[-6000:]}"
    assert " passed" in summary and "deselected" in summary, summary
