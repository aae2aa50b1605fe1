#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) mhnet.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: connectivity_check
short_description: Check that the ports the cluster needs are open between every pair of hosts, before any change
version_added: 0.2.0
description:
  - Run on every host of the cluster in the same task. Each host opens short-lived listeners on its cluster address for
    the ports its peers must reach, and probes the ports it must reach on its peers (TCP connect; UDP datagrams that
    the peer's listener sends back), all within O(timeout) seconds. Listeners close as soon as every expected peer was
    heard.
  - Fails naming each blocked pair of hosts and port (a dropped or rejected packet, either way), with what to open.
  - A port that a running service already holds on the target (a store, an engine that already joined, C(in_use) in the
    plan) is not listened on; a TCP one is tried against that service, a UDP one cannot be tried and is reported as
    C(untested).
  - Encrypted overlay networks also need IP protocol 50 (ESP) between the engines, which sockets cannot try.
  - The connections come from M(mhnet.cluster.cluster_plan) as groups of hosts and the ports between them
    (C(mhnet_cluster.connectivity)), which each host expands into its own connections, so what a host is given grows
    with the number of members, not with its square.
extends_documentation_fragment:
  - mhnet.cluster.attributes
  - mhnet.cluster.attributes.read_only
options:
  host:
    description: Inventory name of this host, as the connections name it.
    type: str
    required: true
  members:
    description:
      - The cluster's members (C(mhnet_cluster.members)), by inventory name; only their C(address) is read. This host
        listens on its own address and probes its peers' from it.
    type: dict
    required: true
  connectivity:
    description:
      - What the cluster needs open (C(mhnet_cluster.connectivity)).
      - C(rules) is a list of groups, each with C(sources), C(targets) (inventory names) and C(ports) (each a list
        of protocol, port and purpose; the protocol C(tcp) or C(udp)); every source must reach every other target
        on each port.
        This host listens for the ports of the groups whose target it is and probes those whose source it is.
      - C(in_use), by target, the ports of those a running service already holds (C(tcp/8500)).
    type: dict
    required: true
  timeout:
    description: Seconds to wait for every answer; a port still silent then is blocked.
    type: float
    default: 10
author:
  - mhnet.cluster maintainers (@mhnet-cluster)
"""

EXAMPLES = r"""
- name: Check the ports the cluster needs between every pair of hosts
  mhnet.cluster.connectivity_check:
    host: "{{ inventory_hostname }}"
    members: "{{ mhnet_cluster.members }}"
    connectivity: "{{ mhnet_cluster.connectivity }}"
    timeout: 10
"""

RETURN = r"""
connections:
  description: The connections this host probed, each with its C(state) (C(open), C(blocked), C(untested)) and C(error).
  returned: always
  type: list
  elements: dict
  sample:
    - {source: mhs-demo0, source_address: 192.168.151.3, target: mhs-demo1, address: 192.168.151.4, protocol: udp,
       port: 4789, purpose: VXLAN data, in_use: false, state: blocked, error: no answer}
    - {source: mhs-demo0, source_address: 192.168.151.3, target: mh-keystore, address: 192.168.151.2, protocol: tcp,
       port: 8500, purpose: consul clients, in_use: true, state: open, error: ""}
listen_errors:
  description: Ports this host could not listen on, with the error.
  returned: always
  type: dict
  sample: {udp/4789: Address already in use}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mhnet.cluster.plugins.module_utils._connectivity import (
    blocked_message,
    check_connections,
    host_connections,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            host=dict(type="str", required=True),
            members=dict(type="dict", required=True),
            connectivity=dict(type="dict", required=True),
            timeout=dict(type="float", default=10.0),
        ),
        supports_check_mode=True,
    )
    p = module.params
    addresses = dict((name, member["address"]) for name, member in p["members"].items())
    if p["host"] not in addresses:
        module.fail_json(msg="%s is not a member of the cluster plan (members: %s): run the check on the plan's hosts"
                         % (p["host"], ", ".join(sorted(addresses))))
    connections = host_connections(p["host"], p["connectivity"], addresses)
    checked, listen_errors = check_connections(p["host"], addresses[p["host"]], connections, p["timeout"])
    result = dict(changed=False, connections=checked, listen_errors=listen_errors)
    if listen_errors or any(entry["state"] == "blocked" for entry in checked):
        module.fail_json(msg=blocked_message(p["host"], checked, listen_errors, p["timeout"]), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
