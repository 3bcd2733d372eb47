"""A real multi-node Ray cluster on loopback for the distribution tests: a head with no CPUs (it only schedules)
and two worker nodes of one CPU each, 100 MB of object store apiece, shut down after the module.

Ray picks this machine's outward address for its nodes unless clusters are "disabled" (its switch for laptops):
then every node, and the GCS, listen on 127.0.0.1, so nothing here talks outside loopback."""

from __future__ import annotations

import os

import pytest

SMALL_NODE = {"num_cpus": 1, "object_store_memory": 100 * 2**20, "node_ip_address": "127.0.0.1"}
# failed raylets are noticed in about 2 s (0.5 s health checks, 4 misses) instead of Ray's default ~30 s
FAST_HEALTH_CHECKS = {"health_check_period_ms": 500, "health_check_failure_threshold": 4,
                      "health_check_initial_delay_ms": 0}


def _loopback_only(ray_constants) -> None:
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # inherited by every raylet and worker started below
    ray_constants.ENABLE_RAY_CLUSTER = False  # read at call time by ray's get_node_ip_address


@pytest.fixture(scope="module")
def ray_cluster():
    """(cluster, ray) with the driver connected; Ray shut down afterwards."""
    ray = pytest.importorskip("ray")
    from ray._private import ray_constants
    from ray.cluster_utils import Cluster

    if ray.is_initialized():  # another module's local Ray
        ray.shutdown()
    before = os.environ.get("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"), ray_constants.ENABLE_RAY_CLUSTER
    _loopback_only(ray_constants)
    cluster = Cluster(initialize_head=True, head_node_args={
        **SMALL_NODE, "num_cpus": 0, "include_dashboard": False, "_system_config": FAST_HEALTH_CHECKS})
    try:
        for _ in range(2):
            cluster.add_node(**SMALL_NODE)
        cluster.wait_for_nodes()
        assert cluster.address.startswith("127.0.0.1:")
        ray.init(address=cluster.address, log_to_driver=False)
        yield cluster, ray
    finally:
        ray.shutdown()
        cluster.shutdown()
        ray_constants.ENABLE_RAY_CLUSTER = before[1]
        if before[0] is None:
            os.environ.pop("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", None)
        else:
            os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = before[0]
