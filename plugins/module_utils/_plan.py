# -*- coding: utf-8 -*-
# Copyright (c) mhnet.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The cluster plan: every cross-host rule and every placement, as pure functions of the hosts' preflight facts.

The `cluster_plan` action plugin feeds these functions from the inventory; roles read only what they return.
Nothing here imports Ansible but its argument-spec validator (for the overlay entries, against the overlay_network
module's own options), so every rule is unit-tested on plain dicts.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.errors import RequiredError, UnsupportedError

from ansible_collections.mhnet.cluster.plugins.module_utils._networks import (
    ESP_OVERHEAD,
    LINK_MTU_MIN,
    MTU_OPTION,
    NETWORK_OPTIONS,
    VXLAN_OVERHEAD,
    NetworkSpecError,
    as_engine_networks,
    desired_state,
    find_overlaps,
    network_differences,
    parse_subnet,
)
from ansible_collections.mhnet.cluster.plugins.module_utils._keystore_security import (
    CONSUL_HTTPS_PORT,
    keystore_security,
    tls_requested,
)
from ansible_collections.mhnet.cluster.plugins.module_utils._swarm import ACTIVE_SWARM_STATES, describe_swarm

# The client port each supported store listens on unless mhnet_keystore_port says otherwise.
KEYSTORE_PORTS = dict(consul=8500, etcd=2379)
# Backends an engine's cluster-store accepts but that cannot carry overlay networks, with why.
UNSUPPORTED_KEYSTORES = dict(
    zookeeper="ZooKeeper cannot hold overlay networks: Docker 20.10's engine crashes when a container joins one "
              "(libkv lists bare key names and libnetwork finds no endpoint count; upstream since 2017: "
              "https://github.com/moby/libnetwork/issues/2006): set mhnet_keystore_backend: consul or etcd",
)
SWARM_ROLES = ("manager", "worker")

# The overlay networks when the inventory sets no overlay_networks (the preflight role passes it only when set): the
# one default list, checked and published resolved (plan.overlay.networks) for the overlay role.
DEFAULT_OVERLAY_NETWORKS = [dict(name="my-net", ipam_config=[dict(subnet="10.0.9.0/24")])]
# The workload role's network unless workload_network says otherwise (its default; a unit test keeps them equal).
WORKLOAD_NETWORK = "my-net"
# The images the phases run, as their roles' defaults give them (a unit test keeps them equal): which variable
# names the image, on which host of the plan, in which phases (the phase names are the site's tags).
KEYSTORE_IMAGES = dict(consul="hashicorp/consul:1.8.7", etcd="quay.io/coreos/etcd:v3.4.23")
PHASE_IMAGES = dict(workload_web_image="nginx:stable", workload_probe_image="busybox:latest",
                    stack_web_image="nginx:stable", stack_probe_image="busybox:latest")
IMAGE_PHASES = ("keystore", "workload", "stack")
# The keys of an overlay_networks entry and of its ipam_config pools: the overlay_network module's options.
OVERLAY_KEYS = tuple(NETWORK_OPTIONS)
OVERLAY_POOL_KEYS = tuple(NETWORK_OPTIONS["ipam_config"]["options"])
# What an entry's values are checked against: the module's spec less mtu, which the plan also takes as "auto" and
# checks itself (overlay_mtu_problems).
_ENTRY_SPEC = dict((key, option) for key, option in NETWORK_OPTIONS.items() if key != "mtu")
# Network names Docker accepts. Swarm (swarmkit's controlapi validateAnnotations): a DNS name component of at most
# 63 characters. A key-value engine checks nothing, but resolves and lists the name as it does its other objects'
# (moby's names.RestrictedNamePattern), so a name like 'my net!' is created and then unusable.
NETWORK_NAME_RULES = dict(
    swarm=(re.compile(r"^[a-zA-Z0-9](?:[-_]*[A-Za-z0-9]+)*$"), 63,
           "letters and digits, joined by single or repeated '-' or '_', at most 63 characters (a DNS name component)"),
    kv=(re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$"), 255,
        "a letter or digit, then letters, digits, '_', '.' or '-'"),
)
# Names of networks every engine has (or Docker reserves): an entry of this name would compare with that network.
PREDEFINED_NETWORKS = ("bridge", "host", "none", "default", "ingress", "docker_gwbridge")
# Clocks of the hosts may differ by this much (seconds) unless clock_skew_max says otherwise; 0 turns the check off.
CLOCK_SKEW_MAX = 10.0
# What the hosts of each mode must reach on each other, besides the store's client port (key-value mode) and the
# managers' port (swarm mode): (protocol, port, purpose). Docker's overlay networks gossip on 7946 and carry
# containers' packets in VXLAN on 4789/udp.
ENGINE_PORTS = (("tcp", 7946, "engine gossip"), ("udp", 7946, "engine gossip"), ("udp", 4789, "VXLAN data"))
# Between the store's own servers when there are several: Consul's server RPC and LAN gossip, etcd's peer port.
KEYSTORE_PEER_PORTS = dict(consul=(("tcp", 8300, "Consul server RPC"), ("tcp", 8301, "Consul gossip"),
                                   ("udp", 8301, "Consul gossip")),
                           etcd=(("tcp", 2380, "etcd peers"),))
# The managers' port (joins and Raft) unless mhnet_swarm_port says otherwise.
SWARM_MANAGER_PORT = 2377
PORT_RANGE = (1, 65535)


def port_problems(settings, hosts):
    """Port settings that are not TCP ports, or that take a port the mode's engines already use.

    Checked here, before any host changes: out of range, the store crash-loops after it was recreated, `docker swarm
    init` fails after the images were loaded, and the connectivity check cannot bind. None means unset (the default).
    """
    mode = settings["mode"]
    taken = dict((port, purpose) for protocol, port, purpose in ENGINE_PORTS if protocol == "tcp")
    given = []
    if mode == "kv":
        default = "the backend's own (%d for Consul, %d with TLS, %d for etcd)" % (KEYSTORE_PORTS["consul"], CONSUL_HTTPS_PORT,
                                                                                   KEYSTORE_PORTS["etcd"])
        given.append(("mhnet_keystore_port", settings.get("keystore_port"), default))
        given += [("%s: engine_advertise_port" % name, host.get("advertise_port"), "2376") for name, host in sorted(hosts.items())
                  if host.get("state", "present") == "present"]
    else:
        given.append(("mhnet_swarm_port", settings.get("swarm_port"), str(SWARM_MANAGER_PORT)))
    problems = []
    for variable, port, default in given:
        if port is None:
            continue
        if isinstance(port, str) and port.strip().isdigit():  # -e engine_advertise_port=2376 gives a string
            port = int(port)
        if isinstance(port, bool) or not isinstance(port, int) or not PORT_RANGE[0] <= port <= PORT_RANGE[1]:
            problems.append("%s is %r, not a TCP port (%d-%d): give a port number, or leave it unset for the default, %s"
                            % (variable, port, PORT_RANGE[0], PORT_RANGE[1], default))
        elif port in taken and not variable.endswith("engine_advertise_port"):
            problems.append("%s is %d, the port of %s, which every engine of the cluster uses: give another port, or leave "
                            "it unset for the default, %s" % (variable, port, taken[port], default))
    return problems


def member(facts, swarm_role=""):
    """What the plan keeps about one host, from its mhnet_host fact."""
    return dict(
        hostname=facts.get("hostname", ""),
        address=facts.get("cluster_address", ""),
        interface=facts.get("cluster_interface", ""),
        mtu=facts.get("cluster_mtu", 0),
        engine_version=facts.get("engine_version", ""),
        swarm_role=swarm_role,
        # The node ID preflight saw (empty before the host joins): managers address nodes by it.
        swarm_node_id=facts.get("swarm_node_id", ""),
    )


def host_problems(hosts):
    """Problems each host reported for itself, and hosts that did not report; hosts: {name: {'facts': ...}}."""
    problems = []
    for name in sorted(hosts):
        facts = hosts[name].get("facts")
        if not facts:
            problems.append("%s: preflight did not report (host unreachable or the module failed): see its error above" % name)
            continue
        problems.extend("%s: %s" % (name, problem) for problem in facts.get("problems", []))
    return problems


def shared_values(members, key):
    """[(value, [names])] for each non-empty value of member[key] that more than one member has."""
    holders = {}
    for name, entry in sorted(members.items()):
        if entry.get(key):
            holders.setdefault(entry[key], []).append(name)
    return [(value, names) for value, names in sorted(holders.items()) if len(names) > 1]


def identity_problems(members, mode):
    """A hostname or a cluster address that two hosts share."""
    why = "the key-value store identifies engines by hostname" if mode == "kv" else "swarm node names would be ambiguous"
    problems = ["hostname '%s' is used by %s; %s: give each host a unique hostname" % (value, " and ".join(names), why)
                for value, names in shared_values(members, "hostname")]
    problems += ["cluster address %s is used by %s: each host needs its own address" % (value, " and ".join(names))
                 for value, names in shared_values(members, "address")]
    return problems


def flag_conflict_problems(facts, engines):
    """Key-value engines whose daemon.json sets a key that docker.service also gives dockerd as a flag (preflight's
    daemon_json_flag_conflicts): the engine phase restarts them, and dockerd would not start again."""
    problems = []
    for name in engines:
        conflicts = (facts.get(name) or {}).get("daemon_json_flag_conflicts") or []
        if conflicts:
            problems.append("%s: daemon.json sets %s, which docker.service also gives dockerd as %s in its ExecStart: dockerd "
                            "refuses to start with an option given both ways, and the engine phase restarts the engine. Take "
                            "the key out of daemon.json, or drop the flag from the unit (systemctl edit docker.service)"
                            % (name, " and ".join("'%s'" % key for key, dummy in conflicts), " and ".join(flag for dummy, flag in conflicts)))
    return problems


def keystore_plan(backend, port, keystores, members, security, engines, exists):
    """(problems, keystore section) for the key-value mode: the store's hosts, address and port, TLS and ACLs.

    security: inventory name -> what _keystore_security.keystore_security reads of the host. With TLS, Consul's port
    is its HTTPS one unless the inventory gives one."""
    problems = []
    if not port and backend == "consul" and tls_requested(security):
        port = CONSUL_HTTPS_PORT
    if backend in UNSUPPORTED_KEYSTORES:
        problems.append(UNSUPPORTED_KEYSTORES[backend])
    elif backend not in KEYSTORE_PORTS:
        problems.append("mhnet_keystore_backend %r is not a store this collection runs: choose %s"
                        % (backend, " or ".join(sorted(KEYSTORE_PORTS))))
    if not keystores:
        problems.append("key-value mode needs a keystore host and the keystore group is empty or not targeted: "
                        "put one (or three) hosts in it (mhnet_keystore_group names the group)")
    elif len(keystores) % 2 == 0:
        problems.append("%d keystore hosts (%s) cannot keep a majority when one fails: use 1 or 3"
                        % (len(keystores), ", ".join(keystores)))
    port = port or KEYSTORE_PORTS.get(backend, 0)
    peers = [dict(name=name, hostname=members[name]["hostname"], address=members[name]["address"]) for name in keystores]
    address = peers[0]["address"] if peers else ""
    security_problems, settings = keystore_security(backend, security, keystores, engines, exists)
    return problems + security_problems, dict(backend=backend, hosts=list(keystores), peers=peers, address=address,
                                              port=port, url="%s://%s:%d" % (backend, address, port), **settings)


def swarm_roles(engines, roles):
    """(problems, managers, workers) from each engine's mhnet_swarm_role ('' when unset)."""
    problems = ["%s: mhnet_swarm_role is %r: use manager or worker" % (name, roles[name])
                for name in engines if roles.get(name) and roles[name] not in SWARM_ROLES]
    managers = [name for name in engines if roles.get(name) == "manager"]
    if not managers:
        unset = [name for name in engines if roles.get(name) != "worker"]
        if not unset:
            problems.append("every engine has mhnet_swarm_role: worker (%s), so no node can manage the swarm: "
                            "make one (or three) of them manager" % ", ".join(engines))
        managers = unset[:1]
    if managers and len(managers) % 2 == 0:
        problems.append("%d swarm managers (%s) cannot keep a Raft majority when one fails: use 1 or 3 managers"
                        % (len(managers), ", ".join(managers)))
    return problems, managers, [name for name in engines if name not in managers]


def foreign_swarm_problems(facts, control_host, engines, may_rejoin):
    """Engines already in a swarm other than the one the control host manages (or will create).

    The control host's own swarm counts as this play's only when the control host manages it: a control host that
    is a worker elsewhere must leave (mhnet_swarm_force_rejoin) and start a new swarm, like any other stranger.
    """
    control = facts.get(control_host) or {}
    intended_id = control.get("swarm_cluster_id") if control.get("swarm_manager") else ""
    intended_managers = set(control.get("swarm_managers") or []) if intended_id else set()
    intended = describe_swarm(intended_id, sorted(intended_managers)) if intended_id else "a new swarm on %s" % control_host
    problems = []
    for name in engines:
        host = facts.get(name) or {}
        if host.get("swarm_state") not in ACTIVE_SWARM_STATES or name in may_rejoin:
            continue
        same = intended_id and (host.get("swarm_cluster_id") == intended_id
                                or (not host.get("swarm_cluster_id") and intended_managers & set(host.get("swarm_managers") or [])))
        if not same:
            problems.append("%s: this host is in %s, not in %s that this play forms: nothing was changed. Take it out of the "
                            "inventory, or set mhnet_swarm_force_rejoin: true for it to leave that swarm and join"
                            % (name, describe_swarm(host.get("swarm_cluster_id"), host.get("swarm_managers") or []), intended))
    return problems


def leaves_its_swarm(facts, name, may_rejoin):
    """Whether the control host must leave the swarm it is in before it initialises this one."""
    host = facts.get(name) or {}
    return name in may_rejoin and host.get("swarm_state") in ACTIVE_SWARM_STATES and not host.get("swarm_manager")


def swarm_role(swarm, name):
    """A member's role in the swarm section of the plan ('' outside swarm mode and for hosts that are not engines)."""
    if name in swarm.get("managers", []):
        return "manager"
    return "worker" if name in swarm.get("workers", []) else ""


def choose_control_host(facts, managers):
    """The first planned manager that already manages a swarm (so a re-run, or a change of roles, goes through a
    live manager of the existing swarm); the first planned manager when none does.

    A planned manager rebuilt blank (the first one, say) thus joins through another live manager: the play never
    starts a second swarm while a planned manager still manages the first."""
    for name in managers:
        host = facts.get(name) or {}
        if host.get("swarm_state") == "active" and host.get("swarm_manager"):
            return name
    return managers[0] if managers else ""


HOST_STATES = ("present", "absent")


def leaving_problems(states, engines, keystores, mode):
    """(problems, leaving engines) from each host's mhnet_state; the web host (the first engine) and keystore hosts
    cannot leave: what they run must move first."""
    problems = ["%s: mhnet_state is %r: use present or absent" % (name, state)
                for name, state in sorted(states.items()) if state not in HOST_STATES]
    leaving = [name for name in engines if states.get(name) == "absent"]
    if leaving and leaving[0] == engines[0]:
        problems.append("%s runs web (it is the first host of the engine group): put another engine first in that group "
                        "and run site.yml, so that web moves there; then set mhnet_state: absent for %s"
                        % (engines[0], engines[0]))
    if mode == "kv":
        problems += ["%s runs the keystore: it cannot leave while the engines use it; move the keystore to other hosts "
                     "(the keystore group) first" % name for name in keystores if states.get(name) == "absent"]
    stray = [name for name, state in sorted(states.items()) if state == "absent" and name not in engines
             and not (mode == "kv" and name in keystores)]
    problems += ["%s: mhnet_state: absent is for engines, and this host is not in the engine group" % name for name in stray]
    return problems, leaving


def cluster_subnet_problems(facts, names):
    """Hosts whose cluster addresses are not all in one subnet (each address's own prefix on its interface).

    A host whose default route is on another network (management) advertises that network's address when no
    mhnet_cluster_address is given: VXLAN and the store's traffic would then take another path, or none.
    A /32 address (point-to-point, as some clouds give) names no shared network and is not compared.
    """
    subnets = {}
    for name in names:
        host = facts.get(name) or {}
        if not host.get("cluster_address") or not host.get("cluster_prefix") or host["cluster_prefix"] >= 32:
            continue
        subnet = ipaddress.ip_interface("%s/%d" % (host["cluster_address"], host["cluster_prefix"])).network
        subnets.setdefault(str(subnet), []).append("%s %s (%s)" % (name, host["cluster_address"], host.get("cluster_interface") or "?"))
    if len(subnets) < 2:
        return []
    return ["the hosts advertise cluster addresses in %d different subnets: %s; every engine and keystore host must "
            "advertise its address on the one cluster network (a host whose default route is on another network "
            "advertises that network's address): set mhnet_cluster_address (or mhnet_cluster_interface) for the hosts "
            "outside it" % (len(subnets), "; ".join("%s: %s" % (subnet, ", ".join(holders)) for subnet, holders in sorted(subnets.items())))]


def clock_skew_problems(facts, names, limit=CLOCK_SKEW_MAX):
    """Clocks further apart than limit seconds (each host's `clock` as preflight read it; hosts without one skipped)."""
    clocks = dict((name, facts[name]["clock"]) for name in names
                  if isinstance((facts.get(name) or {}).get("clock"), (int, float)))
    if not limit or len(clocks) < 2:
        return []
    earliest = min(clocks.values())
    spread = max(clocks.values()) - earliest
    if spread <= limit:
        return []
    return ["the hosts' clocks are %.1f s apart, more than mhnet_clock_skew_max (%g s): %s (seconds after the earliest); "
            "TLS joins and certificates fail on skewed clocks: synchronise the hosts' clocks (NTP: chrony or "
            "systemd-timesyncd), or raise mhnet_clock_skew_max if preflight itself takes that long to reach every host "
            "(hosts beyond the play's forks are read later)"
            % (spread, limit, ", ".join("%s +%.1f" % (name, clocks[name] - earliest) for name in sorted(clocks, key=clocks.get)))]


def _where(index, entry):
    """How messages name an overlay_networks entry."""
    name = entry.get("name") if isinstance(entry, dict) else None
    return "overlay_networks[%d] '%s'" % (index, name) if name else "overlay_networks[%d]" % index


def _unknown_keys(where, keys, known):
    problems = []
    for key in sorted(set(keys) - set(known), key=str):
        close = difflib.get_close_matches(str(key), known, n=1)
        problems.append("%s has an unknown key '%s'%s, which the overlay phase would refuse after the engines changed: "
                        "fix it (keys: %s)" % (where, key, " (did you mean '%s'?)" % close[0] if close else "", ", ".join(known)))
    return problems


def overlay_key_problems(networks):
    """Entries of overlay_networks that are not mappings, lack a name, or hold keys the overlay role does not know."""
    problems = []
    for index, entry in enumerate(networks):
        where = _where(index, entry)
        if not isinstance(entry, dict):
            problems.append("%s is %r, not a mapping: give each network as a mapping with name, ipam_config, ..." % (where, entry))
            continue
        if not entry.get("name") or not isinstance(entry["name"], str):
            problems.append("%s has no name: give every network a name" % where)
        problems += _unknown_keys(where, entry, OVERLAY_KEYS)
        pools = entry.get("ipam_config") or []
        if not isinstance(pools, list):
            problems.append("%s: ipam_config is not a list: give a list of pools, for example [{subnet: 10.0.9.0/24}]" % where)
            continue
        for pool_index, pool in enumerate(pools):
            pool_where = "%s ipam_config[%d]" % (where, pool_index)
            if not isinstance(pool, dict):
                problems.append("%s is %r, not a mapping: give each pool as subnet: ..., gateway: ..., ip_range: ..." % (pool_where, pool))
            else:
                problems += _unknown_keys(pool_where, pool, OVERLAY_POOL_KEYS)
        if all(isinstance(pool, dict) for pool in pools):
            problems += _value_problems(where, entry)
    return problems


def _value_problems(where, entry):
    """What the overlay_network module would refuse in an entry's values (types, choices, a pool without a subnet);
    unknown keys and a missing name are named by overlay_key_problems."""
    values = dict((key, value) for key, value in entry.items() if key in _ENTRY_SPEC)
    result = ArgumentSpecValidator(_ENTRY_SPEC).validate(values)
    return ["%s: %s; the overlay phase would refuse this after the engines changed: fix it" % (where, error.msg)
            for error in result.errors
            if not isinstance(error, UnsupportedError) and not (isinstance(error, RequiredError) and "name" in error.msg.split(": ")[-1].split(", "))]


def _present_entries(networks):
    """(index, entry) of the well-formed entries that are to exist (state present, the default)."""
    return [(index, entry) for index, entry in enumerate(networks)
            if isinstance(entry, dict) and isinstance(entry.get("name"), str) and entry["name"]
            and entry.get("state", "present") != "absent"]


def overlay_name_problems(networks, mode):
    """Names Docker would refuse (swarm) or create and then not resolve (key-value), Docker's own names, and names
    given twice."""
    pattern, longest, rule = NETWORK_NAME_RULES.get(mode, NETWORK_NAME_RULES["swarm"])
    problems = []
    for index, entry in _present_entries(networks):
        name = entry["name"]
        if name in PREDEFINED_NETWORKS:
            problems.append("%s: '%s' is the name of a network Docker makes itself: give the network another name" % (_where(index, entry), name))
        elif pattern.match(name) and len(name) > longest:
            problems.append("%s: '%s' is %d characters long, more than the %d Docker accepts for a network name in %s mode: "
                            "shorten it, for example to '%s'"
                            % (_where(index, entry), name, len(name), longest, "swarm" if mode == "swarm" else "key-value",
                               name[:longest].rstrip("-_.")))
        elif not pattern.match(name):
            problems.append("%s: '%s' is not a network name Docker accepts in %s mode (%s): rename it, for example '%s'"
                            % (_where(index, entry), name, "swarm" if mode == "swarm" else "key-value", rule,
                               re.sub(r"[^a-zA-Z0-9]+", "-", name).strip("-") or "my-net"))
    seen = {}
    for index, entry in enumerate(networks):
        if isinstance(entry, dict) and isinstance(entry.get("name"), str) and entry["name"]:
            seen.setdefault(entry["name"], []).append(index)
    problems += ["network '%s' is given %d times in overlay_networks (entries %s): keep one entry per network"
                 % (name, len(indexes), ", ".join(str(index) for index in indexes)) for name, indexes in sorted(seen.items()) if len(indexes) > 1]
    return problems


def _pools(networks):
    """[(index, entry, subnet)] for every pool with a valid subnet, of the entries that are to exist."""
    found = []
    for index, entry in _present_entries(networks):
        pools = entry.get("ipam_config")
        for pool in pools if isinstance(pools, list) else []:
            try:
                found.append((index, entry, parse_subnet(pool.get("subnet") if isinstance(pool, dict) else None)))
            except NetworkSpecError:
                continue
    return found


def overlay_subnet_problems(networks):
    """Pools that are not CIDR networks (host bits set, gateway or range outside), and subnets overlapping each other
    within the list."""
    problems = []
    for index, entry in _present_entries(networks):
        pools = entry.get("ipam_config")
        if not isinstance(pools, list) or not all(isinstance(pool, dict) for pool in pools):
            continue
        try:
            desired_state(dict(ipam_config=pools))
        except NetworkSpecError as exc:
            problems.append("%s: %s" % (_where(index, entry), exc))
    pools = _pools(networks)
    for position, (index, entry, subnet) in enumerate(pools):
        for other_index, other, other_subnet in pools[:position]:
            if other_subnet.version == subnet.version and other_subnet.overlaps(subnet):
                problems.append("%s subnet %s overlaps %s subnet %s: give each network a subnet of its own"
                                % (_where(index, entry), subnet, _where(other_index, other), other_subnet))
    return problems


def overlay_overlap_problems(networks, facts, engines):
    """Subnets of the list that overlap a network or a route on any engine (docker0, docker_gwbridge, the cluster and
    management networks...), or a local network the engine will have (preflight's engine_upcoming_networks: a pending
    bip, docker_gwbridge not made yet): containers could not reach those addresses, or could not start. A network of
    the entry's own name is the entry itself (a re-run); an entry with check_overlap: false is not checked."""
    problems = []
    for index, entry, subnet in _pools(networks):
        if entry.get("check_overlap") is False:
            continue
        by_overlaps = {}
        for name in engines:
            host = facts.get(name) or {}
            overlaps = find_overlaps(subnet, as_engine_networks(host.get("engine_networks") or []), host.get("routes") or [],
                                     exclude_name=entry["name"])
            overlaps += ["%s's %s to come, %s" % (upcoming["name"], upcoming["subnet"], upcoming["why"])
                         for upcoming in host.get("engine_upcoming_networks") or []
                         if ipaddress.ip_network(upcoming["subnet"]).overlaps(subnet)]
            if overlaps:
                by_overlaps.setdefault(", ".join(overlaps), []).append(name)
        if by_overlaps:
            problems.append("%s subnet %s overlaps %s: choose a subnet that no engine uses (or set check_overlap: false on "
                            "the entry if the overlap is intended)" % (_where(index, entry), subnet, "; ".join(
                                "on %s: %s" % (" and ".join(names), overlaps) for overlaps, names in sorted(by_overlaps.items(), key=lambda item: item[1]))))
    return problems


def asks_for_encryption(entry):
    """Whether an entry asks for an encrypted network (encrypted: true, or the driver option without encrypted: false)."""
    if entry.get("encrypted") is not None:
        return bool(entry["encrypted"])
    return "encrypted" in (entry.get("driver_options") if isinstance(entry.get("driver_options"), dict) else {})


def overlay_mtu_problems(networks, facts, engines):
    """MTUs the overlay driver cannot use over every engine's cluster interface.

    The network's MTU is the underlay's: the driver gives the VXLAN interface and the containers that MTU less 50
    bytes (76 and padding when encrypted), which Linux refuses below 68, and sends packets of up to that MTU over the
    cluster interface, which must carry them without fragments. `auto` (the plan's auto_mtu) is always within.
    """
    mtus = dict((name, (facts[name].get("cluster_mtu"), facts[name].get("cluster_interface"))) for name in engines
                if (facts.get(name) or {}).get("cluster_mtu"))
    smallest = min(mtu for mtu, dummy in mtus.values()) if mtus else 0
    problems = []
    for index, entry in _present_entries(networks):
        value = entry.get("mtu")
        if value is None and isinstance(entry.get("driver_options"), dict):
            value = entry["driver_options"].get(MTU_OPTION)
        if value is None or value == "auto":
            continue
        where = _where(index, entry)
        if isinstance(value, bool) or not str(value).strip().isdigit():
            problems.append("%s: mtu %r is neither a number nor auto: give the MTU of the cluster interfaces (%s) or auto"
                            % (where, value, smallest or 1500))
            continue
        value = int(str(value).strip())
        lowest = LINK_MTU_MIN + VXLAN_OVERHEAD + (ESP_OVERHEAD if asks_for_encryption(entry) else 0)
        if value < lowest:
            problems.append("%s: mtu %d is too small: Docker gives the VXLAN interface and the containers the network's MTU "
                            "less %d bytes%s, and Linux refuses an interface below %d bytes (containers would fail with "
                            "'error creating vxlan interface: invalid argument'): give at least %d, or mtu: auto"
                            % (where, value, lowest - LINK_MTU_MIN, " (VXLAN and IPsec)" if asks_for_encryption(entry) else " (VXLAN)",
                               LINK_MTU_MIN, lowest))
        elif smallest and value > smallest:
            narrow = ", ".join("%s (%d on %s)" % (name, mtu, interface) for name, (mtu, interface) in sorted(mtus.items()) if mtu < value)
            problems.append("%s: mtu %d is more than the cluster interface MTU of %s: the network's MTU is what VXLAN "
                            "packets take on that interface, so they would be fragmented or dropped: give at most %d, or mtu: auto"
                            % (where, value, narrow, smallest))
        elif not smallest and value - VXLAN_OVERHEAD > 65535:
            problems.append("%s: mtu %d is more than Linux allows an interface (65535) plus the VXLAN overhead: give the MTU of "
                            "the cluster interfaces, or mtu: auto" % (where, value))
    return problems


def overlay_encryption_problems(networks, mode, facts, engines):
    """Encrypted networks where they cannot work: key-value mode (engines exchange IPsec keys through the swarm only)
    and engines whose kernel cannot hold the IPsec state Docker adds (preflight's ipsec_supported false)."""
    problems = []
    for index, entry in _present_entries(networks):
        if not asks_for_encryption(entry):
            continue
        where = _where(index, entry)
        if mode == "kv":
            problems.append("%s: encrypted: true needs swarm mode: engines exchange the IPsec keys through the swarm, and in "
                            "key-value mode containers fail to join with 'cannot join secure network: encryption keys not "
                            "present': remove encrypted, or set mhnet_cluster_mode: swarm" % where)
        failing = {}
        for name in engines:
            host = facts.get(name) or {}
            if host.get("ipsec_supported") is False:
                failing.setdefault(host.get("ipsec_error") or "refused", []).append(name)
        for why, names in sorted(failing.items()):
            problems.append("%s: encrypted: true needs IPsec in every engine's kernel, and the kernel of %s cannot hold the "
                            "ESP state Docker adds (rfc4106(gcm(aes)); the kernel said: %s): use a kernel with ESP and "
                            "AES-GCM (modules esp4 and gcm, or CONFIG_INET_ESP and CONFIG_CRYPTO_GCM built in), or remove "
                            "encrypted" % (where, " and ".join(names), why))
    return problems


def overlay_problems(networks, mode, facts, engines):
    """Every rule on overlay_networks, over the whole list at once and against every engine."""
    networks = networks or []
    if not isinstance(networks, list):
        return ["overlay_networks is %r, not a list: give a list of networks, for example [{name: my-net, ipam_config: "
                "[{subnet: 10.0.9.0/24}]}]" % (networks,)]
    return (overlay_key_problems(networks) + overlay_name_problems(networks, mode) + overlay_subnet_problems(networks)
            + overlay_overlap_problems(networks, facts, engines) + overlay_mtu_problems(networks, facts, engines)
            + overlay_encryption_problems(networks, mode, facts, engines))


def workload_network_problems(networks, workload_network):
    """The workload's network missing from overlay_networks: web and the probe would fail after every other phase
    changed the hosts. workload_network '' means the run skips the workload (--skip-tags workload)."""
    if not workload_network or not isinstance(networks, list):
        return []
    present = [entry["name"] for index, entry in _present_entries(networks)]
    if workload_network in present:
        return []
    return ["the workload runs web and the probe on network '%s' (workload_network), which overlay_networks does not "
            "create (it creates: %s): add it to overlay_networks, set workload_network to one of those in the inventory "
            "(where preflight reads it), or skip the workload (--skip-tags workload)"
            % (workload_network, ", ".join(present) or "none")]


def image_reference(name):
    """An image name as the engine lists its tags: Docker Hub's prefixes dropped, :latest when no tag is given; None
    for a digest reference (the engine lists no tag for it)."""
    name = str(name)
    if "@" in name:
        return None
    for prefix in ("docker.io/library/", "index.docker.io/library/", "docker.io/", "index.docker.io/"):
        if name.startswith(prefix):
            name = name[len(prefix):]
            break
    return name if ":" in name.rsplit("/", 1)[-1] else name + ":latest"


def phase_images(plan, keystores, phases):
    """{host: [(variable, default image)]}: the images each host's phases run, as the placements put them."""
    wanted = {}
    if "keystore" in phases and plan["mode"] == "kv" and plan["keystore"]:
        for name in keystores:
            wanted.setdefault(name, []).append(("keystore_images.%s" % plan["keystore"]["backend"],
                                                KEYSTORE_IMAGES.get(plan["keystore"]["backend"])))
    for host, role in ((plan["web_host"], "web"), (plan["probe_host"], "probe")):
        for phase in ("workload", "stack"):
            if host and phase in phases and (phase == "workload" or plan["mode"] == "swarm"):
                variable = "%s_%s_image" % (phase, role)
                wanted.setdefault(host, []).append((variable, PHASE_IMAGES[variable]))
    return wanted


def image_problems(plan, hosts, facts, keystores, phases):
    """Images a phase would run on a host that has none and that nothing will load: with images_source archive the
    images phase loads only what images_list names, so the phase itself would fail, after the earlier phases changed
    the hosts. With images_source pull an image the engine lacks is pulled by its phase (not checked here).

    hosts: {name: {'images': {'source': images_source, 'listed': [images_list names],
    'values': {variable: image}}}}; a variable the host does not set takes its role's default."""
    problems = []
    for name, wanted in sorted(phase_images(plan, keystores, phases).items()):
        images = hosts[name].get("images") or {}
        if images.get("source", "pull") != "archive" or name not in facts or not facts[name].get("engine_reachable"):
            continue
        present = set(facts[name].get("engine_images") or [])
        listed = set(filter(None, (image_reference(image) for image in images.get("listed") or [])))
        values = images.get("values") or {}
        for variable, default in wanted:
            if variable.startswith("keystore_images.") and values.get("keystore_image"):
                variable = "keystore_image"
            image = values.get(variable) or default
            if not image:
                continue
            reference = image_reference(image)
            if reference is None or reference in present or reference in listed:
                continue
            problems.append("%s: %s is %s, which the host's engine does not have and no images_list entry names "
                            "(images_source archive: nothing will load it): add it to images_list with its archive, "
                            "load it on the host, or set %s to an image the host has" % (name, variable, image, variable))
    return problems


def resolved_networks(networks, mode, auto_mtu):
    """The overlay networks as the overlay role creates them: the plan's choices made, so no role resolves them again.

    attachable: true in swarm mode when the entry leaves it out (the workload's standalone containers attach to the
    network), false in key-value mode; mtu: auto is the smallest cluster MTU. Other keys are passed as given.
    """
    resolved = []
    for entry in networks:
        entry = dict(entry)
        entry.setdefault("attachable", mode == "swarm")
        if entry.get("mtu") == "auto":
            entry["mtu"] = auto_mtu
        resolved.append(entry)
    return resolved


def networks_in_sync(networks, plan, facts):
    """Names of the resolved networks the overlay phase has nothing to do for, proven from preflight's facts: every
    viewer lists the network with one ID, and the control host's engine has it with every option the entry sets.

    Empty when the run may change what the engines see: a control host that leaves its swarm, or (key-value mode) an
    engine that runs with another store than the planned one. Entries with state absent always run.
    """
    control, viewers = plan["control_host"], plan["overlay"]["viewers"]
    if not control or not viewers or plan["swarm"].get("control_leaves"):
        return []
    if plan["mode"] == "kv" and any(facts[name].get("engine_cluster_store") != plan["keystore"]["url"] for name in viewers):
        return []
    listed = dict((name, dict((network["Name"], network) for network in facts[name].get("engine_overlay_networks") or []))
                  for name in set(viewers) | {control})
    in_sync = []
    for entry in networks:
        seen = [listed[name].get(entry["name"]) for name in viewers]
        if entry.get("state", "present") != "present" or None in seen or len(set(network["Id"] for network in seen)) != 1:
            continue
        actual = listed[control].get(entry["name"])
        try:
            if actual is not None and actual["Id"] == seen[0]["Id"] and not network_differences(desired_state(entry), actual):
                in_sync.append(entry["name"])
        except NetworkSpecError:
            continue  # the module reports it
    return in_sync


def cluster_connectivity(plan, facts):
    """What the connectivity check needs, linear in the members: groups of hosts where every source must reach every
    other target on each port the mode needs, and the ports of those each target already holds.

    in_use: a target's socket on that port (a running store or engine) means the check cannot listen there: a TCP port
    is tried against the service itself, a UDP one cannot be tried. Each host expands the groups into its own
    connections (module_utils/_connectivity.host_connections), so no host carries the cluster's square.
    """
    engines = plan["engines"]
    rules = [dict(sources=engines, targets=engines, ports=ENGINE_PORTS)]
    if plan["mode"] == "swarm":
        rules.append(dict(sources=engines, targets=plan["swarm"]["managers"],
                          ports=(("tcp", plan["swarm"]["port"], "swarm managers"),)))
    else:
        keystore = plan["keystore"]
        rules.append(dict(sources=engines, targets=keystore["hosts"],
                          ports=(("tcp", keystore["port"], "%s clients" % keystore["backend"]),)))
        if KEYSTORE_PEER_PORTS.get(keystore["backend"]):
            rules.append(dict(sources=keystore["hosts"], targets=keystore["hosts"],
                              ports=KEYSTORE_PEER_PORTS[keystore["backend"]]))
    in_use = {}
    for rule in rules:
        rule["ports"] = [list(port) for port in rule["ports"]]
        for target in rule["targets"]:
            held = set(facts[target].get("listening") or [])
            in_use.setdefault(target, set()).update(
                name for name in ("%s/%d" % (protocol, port) for protocol, port, dummy in rule["ports"]) if name in held)
    return dict(rules=[dict(rule, sources=list(rule["sources"]), targets=list(rule["targets"])) for rule in rules],
                in_use=dict((name, sorted(ports)) for name, ports in sorted(in_use.items()) if ports))


def make_plan(settings, hosts, keystores, engines, exists=os.path.isfile):
    """(problems, plan) for the play.

    settings: mode, keystore_backend, keystore_port (None: the backend's own); overlay_networks (the overlay role's
    list, none when absent), clock_skew_max (seconds, CLOCK_SKEW_MAX when absent, 0: not checked), swarm_port (None:
    2377). Ports are checked by port_problems. workload_network: the workload's network (WORKLOAD_NETWORK when
    absent; '' when the run skips the workload). image_phases: the phases whose images are checked (IMAGE_PHASES when
    absent).
    hosts: every host of the play -> {'facts': its mhnet_host fact or None, 'swarm_role': str, 'force_rejoin': bool,
    'advertise_port': its engine_advertise_port when the inventory sets it, else None,
    'state': 'present' or 'absent' (mhnet_state; absent: the engine leaves the cluster), 'security': what
    _keystore_security reads of it (TLS paths, token digests; {} when absent), 'images': what image_problems reads
    of it}.
    keystores, engines: inventory names of the keystore and engine groups, in inventory order.
    exists: whether a path on the controller is a file (the TLS files given).
    """
    mode = settings["mode"]
    problems = host_problems(hosts) + port_problems(settings, hosts)
    facts = dict((name, host["facts"]) for name, host in hosts.items() if host.get("facts"))
    keystores = [name for name in keystores if name in facts]
    engines = [name for name in engines if name in facts]
    states = dict((name, host.get("state") or "present") for name, host in hosts.items())
    leaving_host_problems, leaving = leaving_problems(states, engines, keystores, mode)
    problems += leaving_host_problems
    engines = [name for name in engines if name not in leaving]
    roles = dict((name, host.get("swarm_role") or "") for name, host in hosts.items())
    if mode == "kv":
        problems += ["%s: mhnet_swarm_role is set but the cluster runs in key-value mode, where it means nothing: "
                     "remove it, or set mhnet_cluster_mode: swarm" % name for name in sorted(roles) if roles[name]]
    if not engines:
        problems.append("no engine hosts in this play (engine group empty or not targeted): put the engines in the "
                        "docker hosts group (mhnet_docker_group names the group)")
    plan = dict(mode=mode, engines=engines, leaving=leaving, keystore={}, swarm={})
    managers, control_host = engines[:1], engines[0] if engines else ""
    if mode == "swarm" and engines:
        role_problems, managers, workers = swarm_roles(engines, roles)
        problems += role_problems
        problems += ["%s: mhnet_swarm_role is set but the host is not in the engine group: put it in that group or "
                     "remove the setting" % name for name in sorted(roles)
                     if roles[name] and name not in engines and name not in leaving]
        may_rejoin = [name for name, host in hosts.items() if host.get("force_rejoin")]
        control_host = choose_control_host(facts, managers)
        if control_host:
            problems += foreign_swarm_problems(facts, control_host, engines, may_rejoin)
        plan["swarm"] = dict(managers=managers, workers=workers, may_rejoin=sorted(may_rejoin),
                             port=settings.get("swarm_port") or SWARM_MANAGER_PORT,
                             control_leaves=bool(control_host) and leaves_its_swarm(facts, control_host, may_rejoin))
    plan["members"] = dict((name, member(facts[name], swarm_role(plan["swarm"], name))) for name in sorted(facts))
    problems += identity_problems(plan["members"], mode)
    if mode == "kv":
        problems += flag_conflict_problems(facts, engines)
        security = dict((name, host.get("security") or {}) for name, host in hosts.items())
        keystore_problems, plan["keystore"] = keystore_plan(settings["keystore_backend"], settings.get("keystore_port"),
                                                            keystores, plan["members"], security, engines, exists)
        problems += keystore_problems
    # The hosts that talk to each other: the engines, and the keystore hosts in key-value mode.
    cluster = [name for name in sorted(facts) if name in engines or (mode == "kv" and name in keystores)]
    problems += cluster_subnet_problems(facts, cluster)
    problems += clock_skew_problems(facts, cluster, settings.get("clock_skew_max", CLOCK_SKEW_MAX))
    problems += overlay_problems(settings.get("overlay_networks"), mode, facts, engines)
    problems += workload_network_problems(settings.get("overlay_networks"), settings.get("workload_network", WORKLOAD_NETWORK))
    # Cluster-wide calls go to a manager; the web server runs on the first engine.
    plan["control_host"] = control_host
    plan["web_host"] = engines[0] if engines else ""
    # The probe on the second engine (away from web): an engine added at the end of the group moves nothing. With one
    # engine there is no other host to fetch from, and no probe (its name would clash when a second engine returns).
    plan["probe_host"] = engines[1] if len(engines) > 1 else ""
    problems += image_problems(plan, hosts, facts, keystores, settings.get("image_phases", IMAGE_PHASES))
    mtus = [plan["members"][name]["mtu"] for name in engines if plan["members"][name]["mtu"]]
    # The network's MTU is the underlay's (the overlay driver takes VXLAN's 50 bytes off for the containers): the
    # smallest cluster MTU, so that no engine's packets fragment.
    auto_mtu = min(mtus) if mtus else 0
    plan["overlay"] = dict(
        auto_mtu=auto_mtu,
        networks=[] if problems else resolved_networks(settings.get("overlay_networks") or [], mode, auto_mtu),
        # A swarm worker sees an attachable network only once one of its containers uses it.
        viewers=managers if mode == "swarm" else engines,
    )
    plan["overlay"]["in_sync"] = [] if problems else networks_in_sync(plan["overlay"]["networks"], plan, facts)
    plan["connectivity"] = dict(rules=[], in_use={}) if problems else cluster_connectivity(plan, facts)
    return problems, plan
