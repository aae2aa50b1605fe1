#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) mhnet.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: preflight
short_description: Inspect one cluster host and find what would stop the cluster, before anything changes
version_added: 0.1.0
description:
  - Gathers what the cluster needs to know about a host (kernel release, the hostname the engine reports, engine
    version, the cluster interface and its IPv4 address and prefix, the engine's C(daemon.json), the engine's networks
    and the host's IPv4 routes, the host's clock) and publishes it as the C(mhnet_host) fact.
  - Checks what can be checked on the host alone (kernel minimum, engine reachable, engine version suits the mode,
    cluster interface present, C(daemon.json) readable and suited to the mode) and reports every problem found,
    each with what to do.
  - Checks across hosts (unique hostnames, distinct addresses and one subnet, swarms, clocks, the overlay networks
    against every engine's networks and routes) are M(mhnet.cluster.cluster_plan)'s.
  - Changes nothing on the host. The IPsec probe (O(check_ipsec), O(overlay_networks)) adds its test state inside a network namespace of
    its own, which the kernel removes when the probe exits.
extends_documentation_fragment:
  - mhnet.cluster.attributes
  - mhnet.cluster.attributes.read_only
  - mhnet.cluster.docker
options:
  mode:
    description: Cluster mode the host must suit; C(kv) (engines with a key-value store, Docker < 23) or C(swarm).
    type: str
    choices: [kv, swarm]
    default: kv
  kernel_min:
    description: Oldest kernel release accepted (overlay networks need VXLAN support from 3.16 on).
    type: str
    default: "3.16"
  keystore_backend:
    description:
      - Key-value store the engines will use (C(kv) mode). The local C(dockerd) binary is searched for the backends
        compiled into it (Debian's 20.10.24 build has no Consul backend), so that a missing one is refused here
        instead of an engine that fails to start.
    type: str
    choices: [consul, etcd, zookeeper]
    default: consul
  advertise_address:
    description: IPv4 address the host advertises to the cluster; the interface that holds it is found on the host.
    type: str
  advertise_interface:
    description:
      - Interface whose IPv4 address the host advertises. With O(advertise_address), it must hold that address.
      - When neither is set, the interface of the default route is used.
    type: str
  daemon_json:
    description: Path of the engine's configuration file.
    type: path
    default: /etc/docker/daemon.json
  check_ipsec:
    description:
      - Find whether the kernel can hold the IPsec state an encrypted overlay network needs, with the same request the
        engine makes (C(ip xfrm state add), ESP with C(rfc4106(gcm(aes)))) inside a throwaway network namespace
        (C(unshare --net)). The answer is C(ipsec_supported) in the fact.
      - Off by default, because a kernel that has ESP as modules loads them to answer; O(overlay_networks) turns it
        on when a network asks for encryption.
    type: bool
    default: false
  overlay_networks:
    description:
      - The overlay networks the cluster will have (the overlay role's C(overlay_networks)). When an entry asks for
        encryption (C(encrypted) true, or the driver option C(encrypted) without C(encrypted) false, the rule the
        plan applies), the IPsec probe runs as with O(check_ipsec).
    type: list
    elements: raw
    default: []
  fail_on_problems:
    description:
      - Fail when a problem is found. Set to V(false) to collect every host's problems and report them together
        with M(mhnet.cluster.cluster_plan).
    type: bool
    default: true
requirements:
  - C(ip) from iproute2 on the target host
  - C(unshare) from util-linux on the target host, for O(check_ipsec)
author:
  - mhnet.cluster maintainers (@mhnet-cluster)
"""

EXAMPLES = r"""
- name: Inspect the host; fail here on any local problem
  mhnet.cluster.preflight:
    mode: kv
    advertise_interface: eth1

- name: Inspect every host without failing, to report all problems at once
  mhnet.cluster.preflight:
    advertise_address: "{{ mhnet_cluster_address }}"
    fail_on_problems: false

- name: Also find whether the kernel can carry encrypted overlay networks
  mhnet.cluster.preflight:
    mode: swarm
    check_ipsec: true
    fail_on_problems: false
"""

RETURN = r"""
ansible_facts:
  description: Facts about the host.
  returned: always
  type: dict
  contains:
    mhnet_host:
      description:
        - What later phases need to know about the host. Engine facts are empty (and C(engine_error) says why) when the
          engine does not answer; C(kv_backends) is null outside the key-value mode or without a local C(dockerd).
        - C(cluster_prefix) is the prefix length of the cluster address on its interface (0 when there is none).
          C(engine_networks) lists the engine's networks with their subnets, C(routes) the host's IPv4 routes other than
          the default as [destination, interface] pairs. C(engine_upcoming_networks) lists the local networks the engine
          will have but has not yet (docker0 as daemon.json's C(bip) says, applied at the next restart; docker_gwbridge,
          made with the first container on an overlay network, from the first free chunk of the address pools), each
          with its name, subnet and why. C(daemon_json_flag_conflicts) lists the daemon.json keys that docker.service's
          C(ExecStart) also gives dockerd as flags, as [key, flag] pairs (dockerd would not start again with both).
          C(engine_waits_on) is the store of daemon.json's C(cluster-store) when the engine gave its version but not its
          info (a Docker 20.10 engine waits on a store it cannot reach), else empty.
          C(engine_images) lists the tags of the engine's images (the plan checks the images the phases run against it).
          C(engine_overlay_networks) holds the engine's overlay networks as the engine lists them (ID, name, driver,
          options, IPAM pools, attachable, internal, labels, scope), C(engine_cluster_store) the key-value store the engine runs with (empty without one).
          C(listening) lists the ports (C(tcp/PORT), C(udp/PORT)) a socket already holds on the cluster address or
          on every address. C(clock) is the host's time (seconds since the epoch) when the module started.
        - C(ipsec_supported) is true or false when O(check_ipsec) found out, null when it was not asked or could not
          tell; C(ipsec_error) is what the kernel (or the probe) said.
      type: dict
      returned: always
      sample:
        hostname: mhs-demo0
        kernel: 6.1.0-18-amd64
        engine_reachable: true
        engine_unit: {}
        engine_error: ""
        engine_version: 20.10.5+dfsg1
        engine_api_version: "1.41"
        cluster_interface: eth1
        cluster_address: 192.168.151.3
        cluster_mtu: 1500
        cluster_prefix: 24
        engine_networks:
          - {name: bridge, subnets: [172.17.0.0/16]}
          - {name: host, subnets: []}
          - {name: none, subnets: []}
        engine_upcoming_networks:
          - {name: docker_gwbridge, subnet: 172.18.0.0/16, why: which Docker makes with the first container on an overlay network}
        daemon_json_flag_conflicts: []
        engine_waits_on: ""
        engine_overlay_networks: []
        engine_images: ["busybox:latest", "nginx:stable"]
        engine_cluster_store: consul://192.168.151.2:8500
        routes: [[192.168.151.0/24, eth1], [172.17.0.0/16, docker0]]
        listening: [tcp/22, tcp/7946, udp/4789, udp/7946]
        clock: 1795860000.25
        ipsec_supported: false
        ipsec_error: "Error: Requested AEAD algorithm not found."
        kv_backends: [consul, etcd, zookeeper]
        swarm_state: inactive
        swarm_node_id: ""
        swarm_manager: false
        swarm_cluster_id: ""
        swarm_managers: []
        problems: []
problems:
  description: Every problem found on the host, each saying what to do (also in the fact, as C(problems)).
  returned: always
  type: list
  elements: str
  sample:
    - "kernel 3.10.0-1160.el7 is older than 3.16, the minimum for overlay networks: upgrade the kernel (or lower mhnet_kernel_min
      if you know better)"
"""

import copy
import platform
import socket
import time
import traceback

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mhnet.cluster.plugins.module_utils._docker_client import (
    DOCKER_COMMON_ARGS,
    DOCKER_REQUIRED_TOGETHER,
    EngineError,
    connect,
)
from ansible_collections.mhnet.cluster.plugins.module_utils._daemon_json import flag_conflicts
from ansible_collections.mhnet.cluster.plugins.module_utils._engine_service import EngineService, EngineServiceError
from ansible_collections.mhnet.cluster.plugins.module_utils._errors import MhnetError
from ansible_collections.mhnet.cluster.plugins.module_utils._networks import network_subnets, overlay_network_states, read_routes, upcoming_networks
from ansible_collections.mhnet.cluster.plugins.module_utils._plan import asks_for_encryption
from ansible_collections.mhnet.cluster.plugins.module_utils._preflight import (
    IPSEC_PROBE_ARGS,
    address_prefix,
    choose_advertise,
    compiled_kv_backends,
    daemon_json_config,
    daemon_json_problem,
    ipsec_support,
    listening_ports,
    local_problems,
    neighbour_probe_address,
    parse_ip_addr,
    source_address_problem,
)
from ansible_collections.mhnet.cluster.plugins.module_utils._swarm import swarm_facts


class PreflightError(MhnetError):
    """The host could not be inspected (not: the host has a problem, which is reported as one)."""


def engine_facts(params, config):
    """What the engine says about itself; an engine that does not answer is a fact (and a problem), not a failure.

    config: daemon.json. An engine that gives its version but not its info or networks is waiting (Docker 20.10 holds
    both while its cluster-store does not answer): engine_waits_on is then that store, so the problem names it."""
    version = {}
    try:
        client = connect(params)
        version = client.version()
        info, networks, images = client.info(), client.networks(), client.images()
    except EngineError as exc:
        facts = dict(engine_reachable=False, engine_error=str(exc), engine_version=version.get("Version", ""), engine_api_version="",
                     hostname=socket.gethostname(), engine_networks=[], engine_overlay_networks=[], engine_cluster_store="", engine_images=[],
                     engine_waits_on=(config.get("cluster-store") or "") if version else "")
        facts.update(swarm_facts({}))
        return facts
    facts = dict(engine_reachable=True, engine_error="", engine_version=version.get("Version", ""),
                 engine_api_version=version.get("ApiVersion", ""), hostname=info.get("Name") or socket.gethostname(),
                 engine_networks=network_subnets(networks), engine_overlay_networks=overlay_network_states(networks),
                 # the store the engine runs with (Docker 20.10's cluster-store; '' otherwise)
                 engine_cluster_store=info.get("ClusterStore") or "", engine_waits_on="",
                 engine_images=sorted(set(tag for image in images for tag in image.get("RepoTags") or [] if tag != "<none>:<none>")))
    facts.update(swarm_facts(info))
    return facts


def engine_unit_state(module):
    """docker.service's state when systemd runs it ({} otherwise): a failed unit needs another remedy than a missing engine."""
    return EngineService(module).state()


def daemon_json_flag_conflicts(module, config):
    """[[key, flag]] of daemon.json's keys that docker.service's ExecStart also gives dockerd ([] without systemd or a
    dockerd unit): dockerd refuses to start with both, so the next restart would leave the engine down."""
    if not config:
        return []
    service = EngineService(module)
    try:
        unit = service.show()
    except EngineServiceError:
        return []
    return [list(conflict) for conflict in flag_conflicts(config, service.dockerd_argv(unit))]


def interface_mtu(interface):
    """MTU of the interface (0 when unknown): overlay networks derive theirs from it."""
    try:
        with open("/sys/class/net/%s/mtu" % interface) as handle:
            return int(handle.read().strip())
    except (TypeError, OSError, ValueError):
        return 0


def kv_backends(module):
    """The key-value backends compiled into the local dockerd (key-value mode only), None when unknown."""
    dockerd = module.get_bin_path("dockerd")
    if not dockerd or module.params["mode"] != "kv":
        return None
    try:
        return compiled_kv_backends(dockerd)
    except OSError as exc:
        raise PreflightError("cannot read %s to find the key-value backends compiled into it (%s): run preflight with become"
                             % (dockerd, exc)) from exc


def host_routes():
    """The host's IPv4 routes but the default, as [destination, interface] pairs."""
    try:
        return [list(route) for route in read_routes()]
    except OSError as exc:
        raise PreflightError("cannot read the host's routes from /proc/net/route (%s): run preflight on a Linux host" % exc) from exc


def host_listening(address):
    """The ports a socket already holds on the cluster address (or on every address)."""
    tables = {}
    for protocol in ("tcp", "udp"):
        tables[protocol] = []
        for path in ("/proc/net/%s" % protocol, "/proc/net/%s6" % protocol):
            try:
                with open(path) as handle:
                    tables[protocol].append(handle.read())
            except OSError:
                pass  # no IPv6 on this host
    return listening_ports(tables, address)


def ipsec_facts(module, ip):
    """ipsec_supported (True, False or None: not asked, or the probe could not tell) and ipsec_error."""
    networks = [entry for entry in module.params["overlay_networks"] if isinstance(entry, dict)]
    if not module.params["check_ipsec"] and not any(asks_for_encryption(entry) for entry in networks):
        return dict(ipsec_supported=None, ipsec_error="")
    unshare = module.get_bin_path("unshare")
    if not unshare:
        return dict(ipsec_supported=None, ipsec_error="unshare (util-linux) is not installed, so the IPsec probe did not run")
    rc, dummy, err = module.run_command([unshare, "--net", "--", ip] + IPSEC_PROBE_ARGS)
    supported, why = ipsec_support(rc, err)
    return dict(ipsec_supported=supported, ipsec_error=why)


def source_problem(module, ip, interface, address, prefix):
    """Whether the kernel sends to the cluster network from the cluster address (a secondary address may not be)."""
    probe = neighbour_probe_address(address, prefix)
    if not probe:
        return None
    rc, out, dummy = module.run_command([ip, "-o", "-4", "route", "get", probe])
    return source_address_problem(address, interface, probe, out) if rc == 0 else None


def inspect_host(module):
    """Every fact about the host and every problem found on it (facts["problems"])."""
    p = module.params
    # First, so that the hosts' clocks are read as close together as the play's forks allow.
    facts = dict(clock=time.time(), kernel=platform.release())
    config = daemon_json_config(p["daemon_json"])
    facts.update(engine_facts(p, config))
    facts["engine_unit"] = engine_unit_state(module) if not facts["engine_reachable"] else {}
    ip = module.get_bin_path("ip", required=True)
    dummy, addr_out, dummy2 = module.run_command([ip, "-o", "-4", "addr", "show"], check_rc=True)
    dummy, route_out, dummy2 = module.run_command([ip, "-o", "-4", "route", "show", "default"], check_rc=True)
    route = route_out.split()
    default_interface = route[route.index("dev") + 1] if "dev" in route else None
    addresses = parse_ip_addr(addr_out)
    interface, address, advertise_problem = choose_advertise(addresses, p["advertise_interface"], p["advertise_address"], default_interface)
    facts.update(cluster_interface=interface or "", cluster_address=address or "", cluster_mtu=interface_mtu(interface),
                 cluster_prefix=address_prefix(addresses, interface, address), routes=host_routes(),
                 listening=host_listening(address))
    # The local networks the engine will have but has not yet, against which the plan checks overlay subnets too.
    facts["engine_upcoming_networks"] = upcoming_networks(config, facts["engine_networks"], facts["routes"]) if facts["engine_reachable"] else []
    facts["daemon_json_flag_conflicts"] = daemon_json_flag_conflicts(module, config)
    facts.update(ipsec_facts(module, ip))
    facts["kv_backends"] = kv_backends(module)
    try:
        problems = local_problems(facts, p["mode"], p["kernel_min"], p["keystore_backend"])
    except ValueError as exc:
        raise PreflightError("cannot compare versions on this host (%s): check kernel_min and the engine's version" % exc) from exc
    problems += [problem for problem in (advertise_problem, daemon_json_problem(p["daemon_json"], p["mode"]),
                                         source_problem(module, ip, interface, address, facts["cluster_prefix"])) if problem]
    facts["problems"] = problems
    return facts


def main():
    argument_spec = copy.deepcopy(DOCKER_COMMON_ARGS)
    argument_spec.update(
        mode=dict(type="str", choices=["kv", "swarm"], default="kv"),
        kernel_min=dict(type="str", default="3.16"),
        keystore_backend=dict(type="str", choices=["consul", "etcd", "zookeeper"], default="consul", no_log=False),
        advertise_address=dict(type="str"),
        advertise_interface=dict(type="str"),
        daemon_json=dict(type="path", default="/etc/docker/daemon.json"),
        check_ipsec=dict(type="bool", default=False),
        # raw elements: an entry that is not a mapping is one of the plan's problems (cluster_plan reports it)
        overlay_networks=dict(type="list", elements="raw", default=[]),
        fail_on_problems=dict(type="bool", default=True),
    )
    module = AnsibleModule(argument_spec=argument_spec, required_together=DOCKER_REQUIRED_TOGETHER, supports_check_mode=True)
    try:
        facts = inspect_host(module)
    except MhnetError as exc:
        module.fail_json(msg=str(exc), exception=traceback.format_exc())
    result = dict(changed=False, ansible_facts=dict(mhnet_host=facts), problems=facts["problems"])
    if facts["problems"] and module.params["fail_on_problems"]:
        module.fail_json(msg="; ".join(facts["problems"]), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
