#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) mhnet.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: overlay_network
short_description: Create, check and remove a Docker overlay network, refusing overlapping subnets and unasked recreates
version_added: 0.1.0
description:
  - Creates a network through the Docker SDK unless one of that name exists, and compares an existing one with the task.
  - Only options the task sets are compared; an option left out is "don't care". Extra labels on the network are fine.
  - A network that differs from the task is left alone and the task fails, naming each difference, unless O(recreate=true).
    Containers attached to it block a recreate or removal unless O(force=true), which disconnects them first.
  - Before creating, refuses a subnet that overlaps another engine network or a route of the host, since traffic to
    the overlapping addresses would go astray.
extends_documentation_fragment:
  - mhnet.cluster.attributes
  - mhnet.cluster.attributes.full_support
  - mhnet.cluster.docker
options:
  name:
    description: Name of the network.
    type: str
    required: true
  state:
    description: Whether the network should exist.
    type: str
    choices: [present, absent]
    default: present
  driver:
    description: Network driver.
    type: str
    default: overlay
  driver_options:
    description:
      - Driver options, as C(docker network create --opt). Only the keys given are compared.
      - O(mtu) and O(encrypted) set options of their own and take precedence over the same keys here.
    type: dict
  ipam_config:
    description:
      - Address pools. When given, the network's pools are compared with them, subnet by subnet, in any order.
      - Every address is checked before anything is changed.
    type: list
    elements: dict
    suboptions:
      subnet:
        description: Subnet in CIDR form with the host bits zero, for example C(10.0.9.0/24).
        type: str
        required: true
      gateway:
        description: Gateway address inside O(ipam_config[].subnet); the engine picks one when left out.
        type: str
      ip_range:
        description: Range inside O(ipam_config[].subnet) that container addresses are taken from, in CIDR form.
        type: str
  attachable:
    description: Whether standalone containers (not only swarm services) may attach.
    type: bool
  internal:
    description: Whether the network is cut off from outside networks.
    type: bool
  labels:
    description: Labels the network must carry; other labels on it are left alone.
    type: dict
  mtu:
    description:
      - MTU of the underlay the network's VXLAN packets cross (the cluster interfaces'), set as driver option
        C(com.docker.network.driver.mtu). The overlay driver gives the VXLAN interface and the containers 50 bytes
        less (more when encrypted), so 1500 gives containers 1450, which is also what Docker does with no MTU set.
    type: int
  encrypted:
    description:
      - Whether traffic between hosts is encrypted (IPsec), set as driver option C(encrypted).
      - V(false) requires the option to be absent.
    type: bool
  scope:
    description:
      - Scope of the network, compared with the engine's C(Scope).
      - Overlay networks report C(global) with a key-value store and C(swarm) in swarm mode.
    type: str
    choices: [local, global, swarm]
  recreate:
    description: Remove and recreate a network that differs from the task, instead of failing.
    type: bool
    default: false
  force:
    description: Disconnect attached containers before a recreate or removal, instead of failing.
    type: bool
    default: false
  check_overlap:
    description: Refuse to create a network whose subnet overlaps an engine network or a route of the host.
    type: bool
    default: true
author:
  - mhnet.cluster maintainers (@mhnet-cluster)
"""

EXAMPLES = r"""
- name: Create the application overlay network with a fixed subnet
  mhnet.cluster.overlay_network:
    name: mhnet-app
    ipam_config:
      - subnet: 10.0.9.0/24
        gateway: 10.0.9.1
    attachable: true
    labels:
      mhnet.cluster/role: app

- name: Change its MTU, recreating it even if containers are attached
  mhnet.cluster.overlay_network:
    name: mhnet-app
    mtu: 1400
    recreate: true
    force: true

- name: Remove it
  mhnet.cluster.overlay_network:
    name: mhnet-app
    state: absent
"""

RETURN = r"""
network:
  description: The engine's inspect result of the network; empty when it is absent or would only be created by check mode.
  returned: always
  type: dict
  sample: {"Name": "mhnet-app", "Id": "4f1c...", "Driver": "overlay", "Scope": "global"}
id:
  description: ID of the network, empty when there is none.
  returned: always
  type: str
  sample: 4f1c0e6a2b...
scope:
  description: Scope the engine reports, C(global) for key-value store overlays, C(swarm) for swarm ones; empty when unknown.
  returned: always
  type: str
  sample: global
differences:
  description: What differed between the existing network and the task.
  returned: always
  type: list
  elements: dict
  sample: [{"parameter": "attachable", "before": false, "after": true}]
"""

import copy
import traceback

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mhnet.cluster.plugins.module_utils._docker_client import (
    DOCKER_COMMON_ARGS,
    DOCKER_REQUIRED_TOGETHER,
    EngineNotFound,
    connect,
)
from ansible_collections.mhnet.cluster.plugins.module_utils._errors import MhnetError
from ansible_collections.mhnet.cluster.plugins.module_utils._networks import (
    IPAM_KEYS,
    NETWORK_OPTIONS,
    NetworkConflictError,
    describe,
    desired_state,
    find_overlaps,
    network_differences,
    network_summary,
    parse_subnet,
    read_routes,
)


class OverlayNetwork:
    """Brings one network to the task's state; every write is skipped in check mode."""

    def __init__(self, module, client):
        self.module = module
        self.client = client
        self.name = module.params["name"]

    def existing(self):
        try:
            network = self.client.inspect_network(self.name)
        except EngineNotFound:
            return None
        # the engine also resolves IDs and ID prefixes: only a network of this very name counts
        return network if network.get("Name") == self.name else None

    def check_overlaps(self, desired):
        if not self.module.params["check_overlap"] or "ipam_config" not in desired:
            return
        try:
            routes = read_routes()
        except OSError as exc:
            raise NetworkConflictError(
                "cannot read the host's routes to check subnets for overlaps (%s): set check_overlap: false to create the network unchecked" % exc
            ) from exc
        engine_networks = self.client.networks()
        for entry in desired["ipam_config"]:
            overlaps = find_overlaps(parse_subnet(entry["subnet"]), engine_networks, routes, exclude_name=self.name)
            if overlaps:
                raise NetworkConflictError(
                    "subnet %s of network '%s' overlaps %s: choose another subnet, or set check_overlap: false if the overlap is intended"
                    % (entry["subnet"], self.name, ", ".join(overlaps))
                )

    def check_attached(self, network, action):
        # swarm lists its load balancer endpoint as "lb-NAME"; it goes away with the network
        attached = dict((key, value) for key, value in (network.get("Containers") or {}).items() if not key.startswith("lb-"))
        if attached and not self.module.params["force"]:
            names = ", ".join(sorted(value.get("Name") or key for key, value in attached.items()))
            raise NetworkConflictError(
                "network '%s' has containers attached (%s); %s it would cut them off: stop them first, or set force: true to disconnect them"
                % (self.name, names, action)
            )
        return sorted(attached)

    def remove(self, network, action):
        attached = self.check_attached(network, action)
        if not self.module.check_mode:
            for container in attached:
                self.client.disconnect_container_from_network(container, network["Id"], force=True)
            self.client.remove_network(network["Id"])

    def create(self, desired):
        if self.module.check_mode:
            return {}
        kwargs = dict(driver=desired["driver"])
        options = dict((key, value) for key, value in desired.get("options", {}).items() if value is not None)
        if options:
            kwargs["options"] = options
        if "ipam_config" in desired:
            # a plain dict, so no docker.types are needed (they vary between SDK versions)
            pools = [dict((engine_key, entry[key]) for key, engine_key in IPAM_KEYS if key in entry) for entry in desired["ipam_config"]]
            kwargs["ipam"] = {"Driver": "default", "Config": pools}
        for key in ("internal", "attachable", "labels", "scope"):
            if key in desired:
                kwargs[key] = desired[key]
        created = self.client.create_network(self.name, **kwargs)
        return self.client.inspect_network(created["Id"])

    def run(self):
        params = self.module.params
        desired = desired_state(params)  # validates every address before anything is read or written
        network = self.existing()
        result = dict(changed=False, network=network or {}, differences=[])
        if params["state"] == "absent":
            before, after = (network_summary(network) if network else {}), {}
            if network:
                self.remove(network, "removing")
                result.update(changed=True, network={})
        elif network is None:
            before, after = {}, desired
            self.check_overlaps(desired)
            result.update(changed=True, network=self.create(desired))
        else:
            before, after = network_summary(network, desired), desired
            result["differences"] = network_differences(desired, network)
            if result["differences"]:
                if not params["recreate"]:
                    raise NetworkConflictError(
                        "network '%s' differs from the task: %s; set recreate: true to remove and recreate it"
                        % (self.name, describe(result["differences"]))
                    )
                self.check_overlaps(desired)
                self.remove(network, "recreating")
                result.update(changed=True, network=self.create(desired))
        result.update(id=result["network"].get("Id", ""), scope=result["network"].get("Scope", ""))
        if self.module._diff:
            result["diff"] = dict(before=before, after=after)
        return result


def main():
    argument_spec = copy.deepcopy(DOCKER_COMMON_ARGS)
    argument_spec.update(copy.deepcopy(NETWORK_OPTIONS))
    module = AnsibleModule(argument_spec=argument_spec, required_together=DOCKER_REQUIRED_TOGETHER, supports_check_mode=True)
    try:
        module.exit_json(**OverlayNetwork(module, connect(module.params)).run())
    except MhnetError as exc:
        module.fail_json(msg=str(exc), exception=traceback.format_exc())


if __name__ == "__main__":
    main()
