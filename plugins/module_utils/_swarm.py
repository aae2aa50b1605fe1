# -*- coding: utf-8 -*-
# Copyright (c) mhnet.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""An engine's view of its swarm, read once from `docker info` and described the same way everywhere."""

from __future__ import annotations

# States in which an engine belongs (or is trying to belong) to a swarm.
ACTIVE_SWARM_STATES = ("active", "pending", "locked", "error")


def swarm_facts(info):
    """The swarm part of an engine's `docker info` (API /info) as the flat facts preflight and the joins use."""
    swarm = (info or {}).get("Swarm") or {}
    return dict(
        swarm_state=swarm.get("LocalNodeState", ""),
        swarm_node_id=swarm.get("NodeID", ""),
        swarm_manager=bool(swarm.get("ControlAvailable")),
        swarm_cluster_id=(swarm.get("Cluster") or {}).get("ID", ""),
        swarm_managers=sorted(manager.get("Addr", "") for manager in swarm.get("RemoteManagers") or []),
    )


def describe_swarm(cluster_id, managers):
    """Words that identify a swarm from a node's view of it."""
    if cluster_id:
        return "swarm %s (managers %s)" % (cluster_id, ", ".join(managers) or "unknown")
    return "a swarm managed by %s" % (", ".join(managers) or "unknown managers")
