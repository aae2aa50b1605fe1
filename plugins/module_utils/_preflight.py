# -*- coding: utf-8 -*-
# Copyright (c) mhnet.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Preflight logic: version parsing, interface discovery and the checks, free of Ansible plumbing."""

from __future__ import annotations

import ipaddress
import re

from ansible_collections.mhnet.cluster.plugins.module_utils._daemon_json import DaemonJsonError, read_daemon_json

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
        try:
            version = ipaddress.ip_address(address).version
        except ValueError:
            return None, None, "mhnet_cluster_address %r is not an IP address: give the IPv4 address the host advertises" % address
        if version != 4:
            return None, None, ("mhnet_cluster_address %s is an IPv6 address: the collection builds IPv4 clusters only (the "
                                "engines advertise, gossip and carry VXLAN over IPv4 here): give the host's IPv4 address" % address)
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


def daemon_json_config(path):
    """daemon.json as the engine will start with it ({} when missing or unreadable: daemon_json_problem reports that)."""
    try:
        return read_daemon_json(path)[1]
    except DaemonJsonError:
        return {}


def daemon_json_problem(path, mode):
    """A problem with the engine's daemon.json at path for the chosen mode, or None (a missing file is fine)."""
    try:
        dummy, config = read_daemon_json(path)
    except DaemonJsonError as exc:
        return str(exc)
    if mode == "swarm" and ("cluster-store" in config or "cluster-advertise" in config):
        return ("%s still sets cluster-store/cluster-advertise, which swarm mode cannot use: remove both keys "
                "and restart Docker (or run the key-value mode on a 20.10 engine)" % path)
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
    unit = facts.get("engine_unit") or {}
    if not facts["engine_reachable"] and unit.get("ActiveState") == "failed":
        problems.append("%s: docker.service has failed (%s): see `journalctl -u docker`, then run `systemctl reset-failed "
                        "docker.service docker.socket && systemctl start docker`" % (facts["engine_error"], unit.get("Result", "failed")))
    elif not facts["engine_reachable"] and facts.get("engine_waits_on"):
        problems.append("%s: the engine runs (it gave its version) but holds its info while it waits on its key-value store, "
                        "%s (daemon.json's cluster-store): check that this host reaches the store on that port (the store "
                        "runs, no firewall blocks it); the engine answers again once it does" % (facts["engine_error"], facts["engine_waits_on"]))
    elif not facts["engine_reachable"]:
        problems.append("%s: install and start Docker, or fix the connection options (docker_host, TLS)" % facts["engine_error"])
    elif mode == "kv" and version_tuple(facts["engine_version"])[:2] > KV_MODE_LAST_ENGINE:
        problems.append("Docker %s has no cluster-store (removed in 23.0), which the key-value mode needs: "
                        "set mhnet_cluster_mode: swarm, or use a 20.10 engine" % facts["engine_version"])
    elif mode == "kv" and facts.get("kv_backends") is not None and keystore_backend not in facts["kv_backends"]:
        problems.append("Docker %s on this host was built without the %s key-value backend (its dockerd has: %s): "
                        "set mhnet_keystore_backend to one of those, or install an engine build with %s"
                        % (facts["engine_version"], keystore_backend, ", ".join(facts["kv_backends"]) or "none", keystore_backend))
    return problems


def address_prefix(addresses, interface, address):
    """Prefix length of address on interface, from parse_ip_addr() output (0 when it is not there)."""
    return next((prefix for name, addr, prefix in addresses if name == interface and addr == address), 0)


def neighbour_probe_address(address, prefix):
    """An address of the cluster network other than address (to ask the kernel which source it sends from), or ''."""
    if not address or not 0 < prefix < 31:
        return ""
    network = ipaddress.ip_interface("%s/%d" % (address, prefix)).network
    first, second = network.network_address + 1, network.network_address + 2
    return str(second if str(first) == address else first)


def source_address_problem(address, interface, probe, route_get):
    """The cluster address is not the source the kernel picks towards the cluster network (`ip -o -4 route get probe`
    output in route_get): peers then drop this host's VXLAN packets, whose outer source is not the address their
    static forwarding entries name. None when the kernel sends from the cluster address, or when it cannot tell."""
    fields = route_get.split()
    source = fields[fields.index("src") + 1] if "src" in fields[:-1] else ""
    if not source or source == address:
        return None
    return ("the cluster address %s is not the address this host sends from to the cluster network (the kernel picks %s "
            "for %s: `ip route get %s`), so the other engines would drop its VXLAN packets (Docker's forwarding entries "
            "name %s): make %s the preferred source of that route (for example `ip route replace <cluster network> dev "
            "%s src %s`), or set mhnet_cluster_address to %s"
            % (address, source, probe, probe, address, address, interface or "<interface>", address, source))


# What Docker's encrypted overlay adds for each peer (libnetwork drivers/overlay/encryption.go): an ESP security
# association in transport mode with the AEAD rfc4106(gcm(aes)) and a 64-bit ICV. `ip xfrm state add` of the same,
# run inside a network namespace of its own (unshare --net) that vanishes when the command exits: the kernel answers
# as it would answer the engine, and the host's own IPsec state never changes. (/proc/net/xfrm_stat and an empty
# `ip xfrm state` cannot tell: they exist on kernels that then refuse ESP with "function not implemented".)
IPSEC_PROBE_ARGS = ["xfrm", "state", "add", "src", "192.0.2.1", "dst", "192.0.2.2", "proto", "esp", "spi", "0x00000100",
                    "reqid", "1", "mode", "transport", "aead", "rfc4106(gcm(aes))", "0x" + "01" * 20, "64"]
# Answers that say the probe could not run, not that the kernel lacks IPsec.
IPSEC_PROBE_UNKNOWN = ("unshare", "operation not permitted", "permission denied")


def ipsec_support(rc, stderr):
    """(True | False | None, why) from the probe's exit code and error output; None: the probe could not tell."""
    text = " ".join((stderr or "").split())
    if rc == 0:
        return True, ""
    if not text or any(marker in text.lower() for marker in IPSEC_PROBE_UNKNOWN):
        return None, text or "the probe exited with %d and said nothing" % rc
    return False, text


# /proc/net/{tcp,udp}[6] socket states: a TCP socket that listens, a UDP socket that is bound and unconnected.
SOCKET_STATES = dict(tcp="0A", udp="07")


def _proc_net_address(hex_address):
    """The IPv4 address of a /proc/net/{tcp,udp}[6] local address ('0100007F' -> '127.0.0.1'); '0.0.0.0' for every
    address (IPv4 or IPv6), None for an IPv6 address that does not map an IPv4 one."""
    if len(hex_address) == 8:
        return ".".join(str(int(hex_address[index:index + 2], 16)) for index in (6, 4, 2, 0))
    if hex_address.strip("0") == "":
        return "0.0.0.0"
    # ::ffff:a.b.c.d, four 32-bit words each in host (little-endian) order
    if hex_address[:16] == "0" * 16 and hex_address[16:24].upper() == "FFFF0000":
        return _proc_net_address(hex_address[24:])
    return None


def listening_ports(tables, address):
    """'tcp/PORT' and 'udp/PORT' for the sockets that hold a port on address (or on every address).

    tables: {'tcp': [text of /proc/net/tcp, /proc/net/tcp6], 'udp': [...]}. The connectivity check cannot listen on
    such a port: a store or an engine already serves it.
    """
    found = set()
    for protocol, texts in tables.items():
        for text in texts:
            for line in text.splitlines()[1:]:
                fields = line.split()
                if len(fields) < 4 or fields[3] != SOCKET_STATES[protocol]:
                    continue
                local, dummy, port = fields[1].rpartition(":")
                if _proc_net_address(local) in ("0.0.0.0", address):
                    found.add("%s/%d" % (protocol, int(port, 16)))
    return sorted(found, key=lambda entry: (entry.split("/")[0], int(entry.split("/")[1])))
