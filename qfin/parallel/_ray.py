"""Joining Ray: the optional extra named when missing, and a cluster address that does not answer refused in seconds.

``ray.init(address=...)`` on an address where nothing listens retries for about a minute before it fails, and on
some versions waits longer; so the address's TCP port is probed first with a short connect timeout
(:data:`CONNECT_TIMEOUT_S`), and every failure of ``ray.init`` itself becomes one :class:`qfin.errors.QfinError`
line. An already initialised Ray (a test's cluster, a user's own ``ray.init``) is used as it is.
"""

from __future__ import annotations

import socket
from typing import Any

from qfin.errors import QfinError

__all__ = ["CONNECT_TIMEOUT_S", "RAY_EXTRA", "connect", "import_ray", "parse_address"]

CONNECT_TIMEOUT_S = 3.0
RAY_EXTRA = "pip install 'qfin[ray]'"
_DEFAULT_PORTS = {"ray": 10001, "": 6379}  # the Ray client server's and the GCS's default ports


def import_ray() -> Any:
    """``import ray``, or one line naming the extra that installs it."""
    try:
        import ray
    except ImportError:
        raise QfinError(f"the ray backend needs Ray, which is not installed: {RAY_EXTRA}") from None
    return ray


def parse_address(address: str) -> tuple[str, int] | None:
    """``host:port`` of a cluster address (``10.0.0.5:6379``, ``ray://head:10001``); None for ``auto`` / ``local``,
    which Ray resolves itself (the cluster started on this machine, or a new local one)."""
    text = address.strip()
    if text in ("auto", "local"):
        return None
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "", text
    if scheme not in _DEFAULT_PORTS:
        raise QfinError(f"--address {address!r}: unknown scheme {scheme!r}; accepted: host:port, ray://host:port, "
                        "auto or local")
    host, colon, port = rest.rpartition(":")
    if not colon:
        host, port = rest, str(_DEFAULT_PORTS[scheme])
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise QfinError(f"--address {address!r}: expected host:port (e.g. 127.0.0.1:6379), ray://host:port, auto "
                        "or local")
    return host, int(port)


def _probe(address: str, timeout: float) -> None:
    where = parse_address(address)
    if where is None:
        return
    try:
        with socket.create_connection(where, timeout=timeout):
            pass
    except OSError as err:
        reason = "timed out" if isinstance(err, TimeoutError) else (err.strerror or type(err).__name__).lower()
        raise QfinError(f"--address {address}: no Ray cluster answers at {where[0]}:{where[1]} ({reason} within "
                        f"{timeout:g} s); start one with `ray start --head` and give its address, or leave "
                        "--address out to run Ray on this machine") from None


def connect(address: str | None = None, *, num_cpus: int | None = None, timeout: float = CONNECT_TIMEOUT_S) -> Any:
    """The ``ray`` module, initialised: an already running Ray as it is, else the cluster at ``address``, else a
    new local Ray (``num_cpus`` of this machine's cores, default all). Errors are one :class:`QfinError` line."""
    ray = import_ray()
    if ray.is_initialized():
        return ray
    if address is not None:
        _probe(address, timeout)
    options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "ignore_reinit_error": True}
    if address is None and num_cpus is not None:
        options["num_cpus"] = num_cpus
    try:
        ray.init(address=address, **options)
    except Exception as err:  # Ray's own errors (ConnectionError, RuntimeError, ...) span many lines
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        where = f"the Ray cluster at {address}" if address else "a local Ray"
        raise QfinError(f"could not start or join {where}: {first}") from None
    return ray
