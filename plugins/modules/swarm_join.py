#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) mhnet.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: swarm_join
short_description: Join an engine to one intended swarm, and refuse a host that belongs to another
version_added: 0.1.0
description:
  - Joins the engine to the swarm whose managers are O(remote_addrs), as worker or manager by the token given.
  - Unlike a plain join, it checks which swarm a host already in a swarm belongs to. A host whose node ID is
    among O(members) (the nodes a manager of the intended swarm lists) is left as it is; a host in any other
    swarm is refused with a message naming that swarm, unless O(force_rejoin) makes it leave and join.
  - A host half-joined to the intended swarm (pending, or with a node ID that O(members) does not hold, while its
    swarm is O(cluster_id) or its managers are among O(remote_addrs)) leaves and joins again; the swarm role then
    removes its old node, listed down.
  - Role changes (promote, demote) and node labels are a manager's job (M(community.docker.docker_node)).
extends_documentation_fragment:
  - mhnet.cluster.attributes
  - mhnet.cluster.attributes.full_support
  - mhnet.cluster.docker
options:
  remote_addrs:
    description: Addresses (C(HOST:2377)) of managers of the intended swarm.
    type: list
    elements: str
    required: true
  join_token:
    description: Worker or manager join token of the intended swarm. Never logged.
    type: str
    required: true
  members:
    description: Node IDs of the intended swarm, as one of its managers lists them.
    type: list
    elements: str
    default: []
  cluster_id:
    description: ID of the intended swarm, used in messages and to recognise a host half-joined to it.
    type: str
    default: ""
  advertise_addr:
    description: Address the node advertises to the swarm (the host's cluster address).
    type: str
    required: true
  listen_addr:
    description: Address the node listens on for swarm traffic.
    type: str
    default: 0.0.0.0:2377
  force_rejoin:
    description: Make a host that belongs to another swarm leave it (losing that swarm's state on it) and join.
    type: bool
    default: false
author:
  - mhnet.cluster maintainers (@mhnet-cluster)
"""

EXAMPLES = r"""
- name: Join the workers
  mhnet.cluster.swarm_join:
    remote_addrs: ["192.168.151.3:2377"]
    join_token: "{{ worker_token }}"
    members: "{{ node_ids }}"
    advertise_addr: "{{ mhnet_host.cluster_address }}"
  no_log: true
"""

RETURN = r"""
node_id:
  description: The node's ID in the swarm (empty in check mode before a join).
  returned: always
  type: str
  sample: 7y2kq4sq0c3v9m3x0r0m0d3m0
state:
  description: The engine's swarm state after the task (C(active), C(inactive), C(pending); in check mode, before it).
  returned: always
  type: str
  sample: active
"""

import copy
import traceback

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mhnet.cluster.plugins.module_utils._docker_client import DOCKER_COMMON_ARGS, DOCKER_REQUIRED_TOGETHER, connect
from ansible_collections.mhnet.cluster.plugins.module_utils._errors import MhnetError
from ansible_collections.mhnet.cluster.plugins.module_utils._swarm import ACTIVE_SWARM_STATES, describe_swarm, swarm_facts


class ForeignSwarmError(MhnetError):
    """The host belongs to a swarm other than the intended one."""


def converge(module, client):
    """Join the intended swarm unless already a member; every write is skipped in check mode."""
    p = module.params
    swarm = swarm_facts(client.info())
    state, node_id = swarm["swarm_state"] or "inactive", swarm["swarm_node_id"]
    result = dict(changed=False, node_id=node_id, state=state)
    if state in ACTIVE_SWARM_STATES and node_id and node_id in p["members"]:
        return result
    current = describe_swarm(swarm["swarm_cluster_id"], swarm["swarm_managers"])
    intended = "swarm %s" % p["cluster_id"] if p["cluster_id"] else "the swarm of %s" % ", ".join(p["remote_addrs"])
    # Half-joined to this swarm (pending, or a node ID the managers no longer list): left and joined again.
    ours = state in ACTIVE_SWARM_STATES and ((p["cluster_id"] and swarm["swarm_cluster_id"] == p["cluster_id"])
                                             or set(swarm["swarm_managers"]) & set(p["remote_addrs"]))
    if state in ACTIVE_SWARM_STATES:
        if not p["force_rejoin"] and not ours:
            raise ForeignSwarmError(
                "this host is in %s, not in %s: nothing was changed. Take it out of the inventory, or set "
                "mhnet_swarm_force_rejoin: true to make it leave that swarm and join this one" % (current, intended))
        if not module.check_mode:
            client.leave_swarm(force=True)
    result.update(changed=True)
    if module._diff:
        result["diff"] = dict(before=dict(swarm=current if state in ACTIVE_SWARM_STATES else None), after=dict(swarm=intended))
    if not module.check_mode:
        client.join_swarm(p["remote_addrs"], p["join_token"], listen_addr=p["listen_addr"], advertise_addr=p["advertise_addr"])
        swarm = swarm_facts(client.info())
        result.update(node_id=swarm["swarm_node_id"], state=swarm["swarm_state"])
    return result


def main():
    argument_spec = copy.deepcopy(DOCKER_COMMON_ARGS)
    argument_spec.update(
        remote_addrs=dict(type="list", elements="str", required=True),
        join_token=dict(type="str", required=True, no_log=True),
        members=dict(type="list", elements="str", default=[]),
        cluster_id=dict(type="str", default=""),
        advertise_addr=dict(type="str", required=True),
        listen_addr=dict(type="str", default="0.0.0.0:2377"),
        force_rejoin=dict(type="bool", default=False),
    )
    module = AnsibleModule(argument_spec=argument_spec, required_together=DOCKER_REQUIRED_TOGETHER, supports_check_mode=True)
    try:
        module.exit_json(**converge(module, connect(module.params)))
    except MhnetError as exc:
        module.fail_json(msg=str(exc), exception=traceback.format_exc())


if __name__ == "__main__":
    main()
