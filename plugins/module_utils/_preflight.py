# -*- coding: utf-8 -*-
# Copyright (c) mhnet.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Preflight logic: version parsing, interface discovery and the checks, free of Ansible plumbing."""

from __future__ import annotations

import json
import re

# Docker 23.0 removed the daemon's cluster-store / cluster-advertise options.
KV_MODE_LAST_ENGINE = (22, 99)


def version_tuple(text):
    """Leading numeric release of a version string: '6.1.0-18-amd64' -> (6, 1, 0), '20.10.5+dfsg1' -> (20, 10, 5)."""
    match = re.match(r"\s*v?(\d+(?:\.\d+)*)", text or "")
    if not match:
        raise ValueError("no version number in %r" % text)
    return tuple(int(part) for part in match.group(1).split("."))


def parse_ip_addr(output):
    """`ip -o -4 addr show` output -> [(interface, address, prefix)]."""
    found = []
    for line in output.splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[2] == "inet":
            address, dummy, prefix = fields[3].partition("/")
            found.append((fields[1].split("@")[0].rstrip(":"), address, int(prefix or 32)))
    return found


def choose_advertise(addresses, interface=None, address=None, default_interface=None):
    """Pick the interface and IPv4 address the host advertises to the cluster; return (interface, address, problem)."""
    if address:
        holders = [name for name, addr, dummy in addresses if addr == address]
        if not holders:
            return None, None, "no interface holds the cluster address %s (addresses here: %s): fix mhnet_cluster_address" % (
                address, ", ".join("%s=%s" % (name, addr) for name, addr, dummy in addresses) or "none")
        if interface and interface not in holders:
            return None, None, "the cluster address %s is on %s, not on mhnet_cluster_interface %s: fix one of them" % (
                address, holders[0], interface)
        return holders[0], address, None
    interface = interface or default_interface
    if not interface:
        return None, None, "no cluster interface given and no default route: set mhnet_cluster_interface or mhnet_cluster_address"
    on_interface = [addr for name, addr, dummy in addresses if name == interface]
    if not on_interface:
        names = sorted(set(name for name, dummy, dummy2 in addresses))
        return None, None, "interface %s has no IPv4 address or does not exist (interfaces with IPv4: %s): set mhnet_cluster_interface" % (
            interface, ", ".join(names) or "none")
    return interface, on_interface[0], None


def daemon_json_problem(text, mode):
    """A problem with the engine's daemon.json for the chosen mode, or None."""
    if text is None or not text.strip():
        return None
    try:
        config = json.loads(text)
    except ValueError as exc:
        return "/etc/docker/daemon.json is not valid JSON (%s): fix it by hand; the collection will not overwrite it" % exc
    if not isinstance(config, dict):
        return "/etc/docker/daemon.json holds %s, not a JSON object: fix it by hand" % type(config).__name__
    if mode == "swarm" and ("cluster-store" in config or "cluster-advertise" in config):
        return ("/etc/docker/daemon.json still sets cluster-store/cluster-advertise, which swarm mode cannot use: remove both keys "
                "and restart Docker (or run the key-value mode on a 20.10 engine)")
    return None


# Go package paths that a dockerd binary carries when a key-value backend is compiled in.
KV_BACKEND_MARKERS = {"consul": b"libkv/store/consul", "etcd": b"libkv/store/etcd", "zookeeper": b"libkv/store/zookeeper"}


def compiled_kv_backends(path, chunk_size=8 << 20):
    """The key-value backends compiled into the dockerd binary at path (Debian builds differ)."""
    found, overlap, tail = set(), max(len(marker) for marker in KV_BACKEND_MARKERS.values()), b""
    with open(path, "rb") as binary:
        for chunk in iter(lambda: binary.read(chunk_size), b""):
            window = tail + chunk
            found.update(name for name, marker in KV_BACKEND_MARKERS.items() if marker in window)
            tail = window[-overlap:]
    return sorted(found)


def local_problems(facts, mode, kernel_min, keystore_backend="consul"):
    """Every problem found on one host, as messages that say what to do."""
    problems = []
    if version_tuple(facts["kernel"]) < version_tuple(kernel_min):
        problems.append("kernel %s is older than %s, the minimum for overlay networks: upgrade the kernel "
                        "(or lower mhnet_kernel_min if you know better)" % (facts["kernel"], kernel_min))
    if not facts["engine_reachable"]:
        problems.append("the Docker engine does not answer (%s): install and start Docker" % facts["engine_error"])
    elif mode == "kv" and version_tuple(facts["engine_version"])[:2] > KV_MODE_LAST_ENGINE:
        problems.append("Docker %s has no cluster-store (removed in 23.0), which the key-value mode needs: "
                        "set mhnet_cluster_mode: swarm, or use a 20.10 engine" % facts["engine_version"])
    elif mode == "kv" and keystore_backend == "zookeeper":
        problems.append("ZooKeeper cannot hold Docker %s's overlay networks: the engine crashes when a container joins one "
                        "(libnetwork finds no endpoint count, as libkv's ZooKeeper lists bare key names): "
                        "set mhnet_keystore_backend: etcd or consul" % facts["engine_version"])
    elif mode == "kv" and facts.get("kv_backends") is not None and keystore_backend not in facts["kv_backends"]:
        problems.append("Docker %s on this host was built without the %s key-value backend (its dockerd has: %s): "
                        "set mhnet_keystore_backend to one of those, or install an engine build with %s"
                        % (facts["engine_version"], keystore_backend, ", ".join(facts["kv_backends"]) or "none", keystore_backend))
    return problems


def shared_values(hosts, key):
    """[(value, [hosts])] for each non-empty value of facts[key] that more than one host has."""
    holders = {}
    for name, facts in sorted(hosts.items()):
        if facts.get(key):
            holders.setdefault(facts[key], []).append(name)
    return [(value, names) for value, names in sorted(holders.items()) if len(names) > 1]


def cluster_problems(hosts, mode):
    """Problems that only show across hosts: {host: facts} -> [messages naming every host involved]."""
    problems = []
    why = "the key-value store identifies engines by hostname" if mode == "kv" else "swarm node names would be ambiguous"
    for hostname, names in shared_values(hosts, "hostname"):
        problems.append("hostname '%s' is used by %s; %s: give each host a unique hostname" % (hostname, " and ".join(names), why))
    for address, names in shared_values(hosts, "cluster_address"):
        problems.append("cluster address %s is used by %s: each host needs its own address" % (address, " and ".join(names)))
    return problems


ACTIVE_SWARM_STATES = ("active", "pending", "locked", "error")


def describe_swarm(cluster_id, managers):
    """Words that identify a swarm from a node's view of it."""
    if cluster_id:
        return "swarm %s (managers %s)" % (cluster_id, ", ".join(managers) or "unknown")
    return "a swarm managed by %s" % (", ".join(managers) or "unknown managers")


def foreign_swarm_problems(hosts, control_host, engines, may_rejoin):
    """Engines already in a swarm other than the one the control host manages (or will create)."""
    control = hosts.get(control_host) or {}
    intended_id = control.get("swarm_cluster_id") if control.get("swarm_manager") else ""
    intended_managers = set(control.get("swarm_managers") or []) if intended_id else set()
    intended = describe_swarm(intended_id, sorted(intended_managers)) if intended_id else "a new swarm on %s" % control_host
    problems = []
    for name in engines:
        facts = hosts.get(name) or {}
        if facts.get("swarm_state") not in ACTIVE_SWARM_STATES or name in may_rejoin:
            continue
        same = intended_id and (facts.get("swarm_cluster_id") == intended_id
                                or (not facts.get("swarm_cluster_id") and intended_managers & set(facts.get("swarm_managers") or [])))
        if not same:
            problems.append("%s: this host is in %s, not in %s that this play forms: nothing was changed. Take it out of the "
                            "inventory, or set mhnet_swarm_force_rejoin: true for it to leave that swarm and join"
                            % (name, describe_swarm(facts.get("swarm_cluster_id"), facts.get("swarm_managers") or []), intended))
    return problems
