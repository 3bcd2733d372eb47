"""The options every multi-run command shares: --backend local|ray, --workers, --address (qfin.parallel)."""

from __future__ import annotations

from typing import Any

import typer

BACKEND = typer.Option("local", "--backend", help="Where the runs go: local (processes) or ray.")
WORKERS = typer.Option(None, "--workers", min=1,
                       help="Local worker processes (default: 1, one run after another in this process; with "
                            "--backend ray and no --address, the CPUs of the local Ray).")
ADDRESS = typer.Option(None, "--address",
                       help="Ray cluster address (host:port, ray://host:10001 or auto; needs --backend ray; "
                            "default: start a local Ray).")


def parallel_options(backend: str, workers: int | None, address: str | None) -> dict[str, Any]:
    """The keyword arguments of a library entry point that runs many jobs: one after another in this process
    unless --workers or --backend ray asks for more."""
    from qfin.errors import QfinError
    from qfin.parallel import BACKENDS

    if backend not in BACKENDS:
        raise QfinError(f"--backend {backend!r}: accepted: {', '.join(BACKENDS)}")
    if address is not None and backend != "ray":
        raise QfinError(f"--address {address} needs --backend ray (the local backend runs on this machine)")
    if backend == "local" and workers is None:
        workers = 1
    return {"backend": backend, "n_workers": workers, "address": address, "progress": True}
