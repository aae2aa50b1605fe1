"""How the cluster plan scales (issue 16): make_plan on synthetic swarm clusters of 12, 100, 300 and 1000 engines.

Run from the repository root with the project's Python (`.venv/bin/python bench/plan_scale.py`, no arguments). Each
engine is given the facts preflight would report for a trixie swarm host (a /16 cluster network, its own bridge
networks and routes, the engine ports held); three managers, the rest workers; the default overlay networks. Prints
one JSON object: {"rows": [{"engines": N, "seconds": S, "bytes_per_host": B}, ...]}, where S is the best of three
make_plan calls and B the JSON size of what one host is given: the plan (published to every host as mhnet_cluster)
and that host's own mhnet_host fact. Controller-side only: no lab, no Docker.
"""

import copy
import json
import os
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, ".cache", "collections"))

# pylint: disable=wrong-import-position
from ansible_collections.mhnet.cluster.plugins.module_utils._plan import DEFAULT_OVERLAY_NETWORKS, make_plan

SIZES = (12, 100, 300, 1000)
MANAGERS = 3
CLOCK = 1795860000.25


def engine_facts(index):
    name = "node%04d" % index
    address = "10.%d.%d.%d" % (200, index // 250, index % 250 + 1)
    return dict(
        hostname=name, kernel="6.12.48-amd64", engine_reachable=True, engine_unit={}, engine_version="26.1.5+dfsg1",
        kv_backends=None, cluster_interface="eth1", cluster_address=address, cluster_prefix=16, cluster_mtu=1500,
        engine_networks=[dict(name="bridge", subnets=["172.17.0.0/16"]), dict(name="host", subnets=[]),
                         dict(name="none", subnets=[]), dict(name="docker_gwbridge", subnets=["172.18.0.0/16"])],
        routes=[["10.200.0.0/16", "eth1"], ["172.17.0.0/16", "docker0"], ["172.18.0.0/16", "docker_gwbridge"]],
        listening=["tcp/22", "tcp/2377", "tcp/7946", "udp/7946", "udp/4789"], clock=CLOCK + index * 0.001,
        ipsec_supported=None, ipsec_error="", swarm_state="inactive", swarm_node_id="", swarm_manager=False,
        swarm_cluster_id="", swarm_managers=[], problems=[])


def row(count):
    names = ["node%04d" % index for index in range(count)]
    facts = dict((name, engine_facts(index)) for index, name in enumerate(names))
    hosts = dict((name, dict(facts=facts[name], swarm_role="manager" if index < MANAGERS else "worker",
                             force_rejoin=False, state="present")) for index, name in enumerate(names))
    settings = dict(mode="swarm", keystore_backend="consul", keystore_port=0,
                    overlay_networks=copy.deepcopy(DEFAULT_OVERLAY_NETWORKS), swarm_port=0)
    best, plan = None, None
    for dummy in range(3):
        started = time.perf_counter()
        problems, plan = make_plan(settings, hosts, [], names)
        elapsed = time.perf_counter() - started
        best = elapsed if best is None else min(best, elapsed)
        if problems:
            raise SystemExit("plan_scale: the synthetic cluster of %d engines has problems: %s" % (count, problems[:3]))
    published = len(json.dumps(plan)) + max(len(json.dumps(facts[name])) for name in names)
    return dict(engines=count, seconds=round(best, 3), bytes_per_host=published)


def main():
    print(json.dumps(dict(rows=[row(count) for count in SIZES])))


if __name__ == "__main__":
    main()
