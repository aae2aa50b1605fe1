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
  - The connections come from M(mhnet.cluster.cluster_plan) (C(mhnet_cluster.connections)).
extends_documentation_fragment:
  - mhnet.cluster.attributes
  - mhnet.cluster.attributes.read_only
options:
  host:
    description: Inventory name of this host, as the connections name it.
    type: str
    required: true
  address:
    description: This host's cluster address; listeners bind to it and probes leave from it.
    type: str
    required: true
  connections:
    description:
      - Every connection of the cluster (C(mhnet_cluster.connections)); this host listens for those whose C(target) it
        is and probes those whose C(source) it is.
      - Each holds C(source), C(source_address), C(target), C(address) (the target's), C(protocol) (C(tcp) or C(udp)),
        C(port), C(purpose) and C(in_use).
    type: list
    elements: dict
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
    address: "{{ mhnet_cluster.members[inventory_hostname].address }}"
    connections: "{{ mhnet_cluster.connections }}"
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

from ansible_collections.mhnet.cluster.plugins.module_utils._connectivity import blocked_message, check_connections


def main():
    module = AnsibleModule(
        argument_spec=dict(
            host=dict(type="str", required=True),
            address=dict(type="str", required=True),
            connections=dict(type="list", elements="dict", required=True),
            timeout=dict(type="float", default=10.0),
        ),
        supports_check_mode=True,
    )
    p = module.params
    checked, listen_errors = check_connections(p["host"], p["address"], p["connections"], p["timeout"])
    result = dict(changed=False, connections=checked, listen_errors=listen_errors)
    if listen_errors or any(entry["state"] == "blocked" for entry in checked):
        module.fail_json(msg=blocked_message(p["host"], checked, listen_errors, p["timeout"]), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
