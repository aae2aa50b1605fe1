# -*- coding: utf-8 -*-
# Copyright (c) mhnet.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Docker network helpers shared by modules: subnet checks, overlap search, desired state and its comparison."""

from __future__ import annotations

import ipaddress
import json
import socket
import struct

from ansible_collections.mhnet.cluster.plugins.module_utils._errors import MhnetError

# The overlay driver gives the VXLAN interface and the containers the network's MTU less VXLAN's 50 bytes, and less
# ESP's 26 (and padding to 4) more when encrypted (libnetwork drivers/overlay: maxMTU): the network's MTU is the
# underlay's. Linux refuses an interface MTU below 68 (IPv4's minimum).
VXLAN_OVERHEAD = 50
ESP_OVERHEAD = 26
LINK_MTU_MIN = 68

MTU_OPTION = "com.docker.network.driver.mtu"
# The options of one overlay network (the overlay_network module's argument spec less the engine connection): the
# plan checks every overlay_networks entry against it before any host changes.
NETWORK_OPTIONS = dict(
    name=dict(type="str", required=True),
    state=dict(type="str", choices=["present", "absent"], default="present"),
    driver=dict(type="str", default="overlay"),
    driver_options=dict(type="dict"),
    ipam_config=dict(
        type="list",
        elements="dict",
        options=dict(subnet=dict(type="str", required=True), gateway=dict(type="str"), ip_range=dict(type="str")),
    ),
    attachable=dict(type="bool"),
    internal=dict(type="bool"),
    labels=dict(type="dict"),
    mtu=dict(type="int"),
    encrypted=dict(type="bool"),
    scope=dict(type="str", choices=["local", "global", "swarm"]),
    recreate=dict(type="bool", default=False),
    force=dict(type="bool", default=False),
    check_overlap=dict(type="bool", default=True),
)
# inspect_network() keys of an IPAM pool, by the module's ipam_config keys
IPAM_KEYS = (("subnet", "Subnet"), ("gateway", "Gateway"), ("ip_range", "IPRange"))


class NetworkSpecError(MhnetError):
    """The task asks for a network that cannot exist as written."""


class NetworkConflictError(MhnetError):
    """Reaching the wanted state needs a step the task did not allow (recreate, force, an overlapping subnet)."""


def parse_subnet(text, option="subnet"):
    """The network of a CIDR string; host bits must be zero."""
    try:
        return ipaddress.ip_network(text, strict=True)
    except (TypeError, ValueError) as exc:
        raise NetworkSpecError(
            "%s '%s' is not a valid CIDR network: %s; write it as NETWORK/PREFIX, for example 10.0.9.0/24" % (option, text, exc)
        ) from exc


def _network_or_none(text):
    try:
        return ipaddress.ip_network(text, strict=False)
    except (TypeError, ValueError):
        return None


def find_overlaps(subnet, engine_networks, routes, exclude_name=None):
    """Human names of the engine networks and host routes whose address range overlaps subnet."""
    overlaps = []
    for network in engine_networks:
        if network.get("Name") == exclude_name:
            continue
        for pool in (network.get("IPAM") or {}).get("Config") or []:
            other = _network_or_none(pool.get("Subnet"))
            # other address families and unparsable pools cannot collide with this subnet
            if other is not None and other.version == subnet.version and other.overlaps(subnet):
                overlaps.append("network '%s' (%s)" % (network.get("Name"), other))
    for destination, device in routes:
        other = _network_or_none(destination)
        if other is not None and other.prefixlen and other.version == subnet.version and other.overlaps(subnet):
            overlaps.append("route %s on %s" % (other, device))
    return overlaps


def network_subnets(engine_networks):
    """[{name, subnets}] of an engine's networks (inspect_network() or networks() results): what find_overlaps reads."""
    return [dict(name=network.get("Name") or "", subnets=[pool["Subnet"] for pool in (network.get("IPAM") or {}).get("Config") or []
                                                          if pool.get("Subnet")])
            for network in engine_networks]


def overlay_network_states(engine_networks):
    """The engine's overlay networks (networks() results) with what network_differences compares: preflight's report,
    from which the plan proves a network in sync."""
    return [dict(Id=network.get("Id") or "", Name=network.get("Name") or "", Driver=network.get("Driver"),
                 Options=network.get("Options") or {}, IPAM=dict(Config=(network.get("IPAM") or {}).get("Config") or []),
                 Attachable=bool(network.get("Attachable")), Internal=bool(network.get("Internal")),
                 Labels=network.get("Labels") or {}, Scope=network.get("Scope"))
            for network in engine_networks if network.get("Driver") == "overlay"]


# Docker's local address pools when daemon.json sets no default-address-pools (libnetwork ipamutils): docker0 and
# docker_gwbridge take the first chunk of these that no network or route of the host overlaps.
DEFAULT_ADDRESS_POOLS = tuple([dict(base="172.%d.0.0/16" % octet, size=16) for octet in range(17, 32)] + [dict(base="192.168.0.0/16", size=20)])


def _first_free_chunk(pools, taken):
    for pool in pools:
        base = _network_or_none(pool.get("base") if isinstance(pool, dict) else None)
        size = pool.get("size") if isinstance(pool, dict) else None
        if base is None or base.version != 4 or not isinstance(size, int) or not base.prefixlen <= size <= 32:
            continue
        for chunk in base.subnets(new_prefix=size):
            if not any(chunk.overlaps(other) for other in taken):
                return chunk
    return None


def upcoming_networks(config, engine_networks, routes):
    """[{name, subnet, why}] of the local networks the engine will have that it does not have yet, which an overlay
    subnet must not overlap either: docker0 as daemon.json's bip says, when the running engine has another (applied
    at its next restart), and docker_gwbridge while it does not exist (Docker makes it with the first container on an
    overlay network, from the first chunk of the address pools that no network or route overlaps).

    config: daemon.json as the engine will start with it; engine_networks: network_subnets(); routes: read_routes()."""
    live = dict((network.get("name"), network.get("subnets") or []) for network in engine_networks)
    taken = [other for other in (_network_or_none(subnet) for subnets in live.values() for subnet in subnets) if other is not None]
    taken += [other for other in (_network_or_none(destination) for destination, dummy in routes) if other is not None and other.prefixlen]
    upcoming = []
    bip = _interface_network_or_none(config.get("bip"))
    if bip is not None and str(bip) not in live.get("bridge", []):
        upcoming.append(dict(name="docker0", subnet=str(bip), why="daemon.json's bip, which the engine applies when it restarts"))
        taken.append(bip)
    if "docker_gwbridge" not in live:
        chunk = _first_free_chunk(config.get("default-address-pools") or DEFAULT_ADDRESS_POOLS, taken)
        if chunk is not None:
            upcoming.append(dict(name="docker_gwbridge", subnet=str(chunk),
                                 why="which Docker makes with the first container on an overlay network"))
    return upcoming


def _interface_network_or_none(text):
    """The network of an address with its prefix (bip: 10.0.9.1/24 -> 10.0.9.0/24), or None."""
    try:
        return ipaddress.ip_interface(text).network if isinstance(text, str) else None
    except ValueError:
        return None


def as_engine_networks(summaries):
    """network_subnets() output back in the engine's shape, for find_overlaps."""
    return [{"Name": summary.get("name"), "IPAM": {"Config": [{"Subnet": subnet} for subnet in summary.get("subnets") or []]}}
            for summary in summaries]


def read_routes(path="/proc/net/route"):
    """[(destination CIDR, interface)] of the host's IPv4 routing table, without the default route."""
    routes = []
    with open(path) as table:
        next(table, None)  # header line
        for line in table:
            fields = line.split()
            if len(fields) < 8:
                continue
            # the kernel prints addresses as host-order (little-endian on x86/arm) hex words
            destination, mask = (socket.inet_ntoa(struct.pack("<L", int(word, 16))) for word in (fields[1], fields[7]))
            network = ipaddress.ip_network("%s/%s" % (destination, mask), strict=False)
            if network.prefixlen:
                routes.append((str(network), fields[0]))
    return routes


def _by_subnet(entry):
    return entry.get("subnet") or ""


def _ipam_entry(index, entry):
    """A validated ipam_config entry with canonical address strings, holding only the keys the user set."""
    where = "ipam_config[%d]" % index
    if not entry.get("subnet"):
        raise NetworkSpecError("%s has no subnet: give every pool a subnet, for example 10.0.9.0/24" % where)
    subnet = parse_subnet(entry["subnet"], "%s.subnet" % where)
    result = dict(subnet=str(subnet))
    if entry.get("ip_range"):
        ip_range = parse_subnet(entry["ip_range"], "%s.ip_range" % where)
        if ip_range.version != subnet.version or not ip_range.subnet_of(subnet):
            raise NetworkSpecError(
                "%s.ip_range %s is not inside subnet %s: give a range within the subnet or leave ip_range out" % (where, ip_range, subnet)
            )
        result["ip_range"] = str(ip_range)
    if entry.get("gateway"):
        try:
            gateway = ipaddress.ip_address(entry["gateway"])
        except ValueError as exc:
            raise NetworkSpecError("%s.gateway '%s' is not an IP address: %s" % (where, entry["gateway"], exc)) from exc
        if gateway not in subnet:
            raise NetworkSpecError(
                "%s.gateway %s is not inside subnet %s: give an address within the subnet or leave gateway out" % (where, gateway, subnet)
            )
        result["gateway"] = str(gateway)
    return result


def desired_state(params):
    """The network the task asks for, holding only what the user set (a missing key means "don't care")."""
    desired = dict(driver=params.get("driver") or "overlay")
    options = dict((key, str(value)) for key, value in (params.get("driver_options") or {}).items())
    if params.get("encrypted") is not None:
        # None: the option must be absent
        options["encrypted"] = "" if params["encrypted"] else None
    if params.get("mtu") is not None:
        if params["mtu"] < LINK_MTU_MIN + VXLAN_OVERHEAD:
            raise NetworkSpecError("mtu %d is too small: the overlay driver gives the VXLAN interface and the containers the "
                                   "network's MTU less %d bytes, and Linux refuses an interface MTU below %d: give the MTU of "
                                   "the cluster interfaces (the underlay's), at least %d"
                                   % (params["mtu"], VXLAN_OVERHEAD, LINK_MTU_MIN, LINK_MTU_MIN + VXLAN_OVERHEAD))
        options[MTU_OPTION] = str(params["mtu"])
    if options:
        desired["options"] = options
    if params.get("ipam_config"):
        desired["ipam_config"] = sorted((_ipam_entry(index, entry) for index, entry in enumerate(params["ipam_config"])), key=_by_subnet)
    for key in ("attachable", "internal", "scope"):
        if params.get(key) is not None:
            desired[key] = params[key]
    if params.get("labels"):
        desired["labels"] = dict((key, str(value)) for key, value in params["labels"].items())
    return desired


def _canonical(text, parse):
    try:
        return str(parse(text))
    except ValueError:
        return text


def _actual_ipam(actual):
    pools = []
    for pool in (actual.get("IPAM") or {}).get("Config") or []:
        entry = dict((key, pool[engine_key]) for key, engine_key in IPAM_KEYS if pool.get(engine_key))
        for key in ("subnet", "ip_range"):
            if key in entry:
                entry[key] = _canonical(entry[key], ipaddress.ip_network)
        if "gateway" in entry:
            entry["gateway"] = _canonical(entry["gateway"].split("/")[0], ipaddress.ip_address)
        pools.append(entry)
    return pools


def network_summary(actual, desired=None):
    """An inspect_network() result in the shape of desired_state(); with desired, only the parts the user set."""
    summary = dict(
        driver=actual.get("Driver"),
        options=dict(actual.get("Options") or {}),
        ipam_config=_actual_ipam(actual),
        attachable=bool(actual.get("Attachable")),
        internal=bool(actual.get("Internal")),
        labels=dict(actual.get("Labels") or {}),
        scope=actual.get("Scope"),
    )
    if desired is None:
        return summary
    summary = dict((key, value) for key, value in summary.items() if key in desired)
    for key in ("options", "labels"):
        if key in desired:
            summary[key] = dict((name, summary[key].get(name)) for name in desired[key])
    if "ipam_config" in desired:
        # per subnet, only the keys the user gave for it: the engine fills in gateways the user left out
        wanted = dict((entry["subnet"], entry) for entry in desired["ipam_config"])
        summary["ipam_config"] = sorted(
            (dict((key, value) for key, value in entry.items() if key in wanted.get(entry.get("subnet"), entry)) for entry in summary["ipam_config"]),
            key=_by_subnet,
        )
    return summary


def network_differences(desired, actual):
    """[{parameter, before, after}] for every part of desired that the network (an inspect_network() result) lacks."""
    before = network_summary(actual, desired)
    differences = []
    for key, after in desired.items():
        if key in ("options", "labels"):
            differences.extend(
                dict(parameter="%s.%s" % (key, name), before=before[key].get(name), after=value)
                for name, value in sorted(after.items())
                if before[key].get(name) != value
            )
            continue
        if key == "ipam_config":
            after = sorted(after, key=_by_subnet)
        if before[key] != after:
            differences.append(dict(parameter=key, before=before[key], after=after))
    return differences


def describe(differences):
    """One line per difference, for messages."""
    def show(value):
        return "unset" if value is None else json.dumps(value, sort_keys=True)

    return "; ".join("%s is %s on the network, %s wanted" % (d["parameter"], show(d["before"]), show(d["after"])) for d in differences)
