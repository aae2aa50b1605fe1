# -*- coding: utf-8 -*-
# Copyright (c) mhnet.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The cluster plan: every cross-host rule and every placement, as pure functions of the hosts' preflight facts.

The `cluster_plan` action plugin feeds these functions from the inventory; roles read only what they return.
Nothing here imports Ansible, so every rule is unit-tested on plain dicts.
"""

from __future__ import annotations

from ansible_collections.mhnet.cluster.plugins.module_utils._swarm import ACTIVE_SWARM_STATES, describe_swarm

# The client port each supported store listens on unless mhnet_keystore_port says otherwise.
KEYSTORE_PORTS = dict(consul=8500, etcd=2379)
# Backends an engine's cluster-store accepts but that cannot carry overlay networks, with why.
UNSUPPORTED_KEYSTORES = dict(
    zookeeper="ZooKeeper cannot hold overlay networks: Docker 20.10's engine crashes when a container joins one "
              "(libkv lists bare key names and libnetwork finds no endpoint count; upstream since 2017: "
              "https://github.com/moby/libnetwork/issues/2006): set mhnet_keystore_backend: consul or etcd",
)
# VXLAN adds 50 bytes to every packet an overlay network sends over the cluster interface.
VXLAN_OVERHEAD = 50
SWARM_ROLES = ("manager", "worker")


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


def keystore_plan(backend, port, keystores, members):
    """(problems, keystore section) for the key-value mode."""
    problems = []
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
    scheme = dict(consul="consul", etcd="etcd").get(backend, backend)
    return problems, dict(backend=backend, hosts=list(keystores), peers=peers, address=address, port=port,
                          url="%s://%s:%d" % (scheme, address, port))


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
    live manager of the existing swarm); the first planned manager when none does."""
    for name in managers:
        host = facts.get(name) or {}
        if host.get("swarm_state") == "active" and host.get("swarm_manager"):
            return name
    return managers[0] if managers else ""


def make_plan(settings, hosts, keystores, engines):
    """(problems, plan) for the play.

    settings: mode, keystore_backend, keystore_port (0: the backend's own).
    hosts: every host of the play -> {'facts': its mhnet_host fact or None, 'swarm_role': str, 'force_rejoin': bool}.
    keystores, engines: inventory names of the keystore and engine groups, in inventory order.
    """
    mode = settings["mode"]
    problems = host_problems(hosts)
    facts = dict((name, host["facts"]) for name, host in hosts.items() if host.get("facts"))
    keystores = [name for name in keystores if name in facts]
    engines = [name for name in engines if name in facts]
    roles = dict((name, host.get("swarm_role") or "") for name, host in hosts.items())
    if mode == "kv":
        problems += ["%s: mhnet_swarm_role is set but the cluster runs in key-value mode, where it means nothing: "
                     "remove it, or set mhnet_cluster_mode: swarm" % name for name in sorted(roles) if roles[name]]
    if not engines:
        problems.append("no engine hosts in this play (engine group empty or not targeted): put the engines in the "
                        "docker hosts group (mhnet_docker_group names the group)")
    plan = dict(mode=mode, engines=engines, keystore={}, swarm={})
    managers, control_host = engines[:1], engines[0] if engines else ""
    if mode == "swarm" and engines:
        role_problems, managers, workers = swarm_roles(engines, roles)
        problems += role_problems
        problems += ["%s: mhnet_swarm_role is set but the host is not in the engine group: put it in that group or "
                     "remove the setting" % name for name in sorted(roles) if roles[name] and name not in engines]
        may_rejoin = [name for name, host in hosts.items() if host.get("force_rejoin")]
        control_host = choose_control_host(facts, managers)
        if control_host:
            problems += foreign_swarm_problems(facts, control_host, engines, may_rejoin)
        plan["swarm"] = dict(managers=managers, workers=workers, may_rejoin=sorted(may_rejoin),
                             control_leaves=bool(control_host) and leaves_its_swarm(facts, control_host, may_rejoin))
    plan["members"] = dict((name, member(facts[name], swarm_role(plan["swarm"], name))) for name in sorted(facts))
    problems += identity_problems(plan["members"], mode)
    if mode == "kv":
        keystore_problems, plan["keystore"] = keystore_plan(settings["keystore_backend"], settings.get("keystore_port"),
                                                            keystores, plan["members"])
        problems += keystore_problems
    # Cluster-wide calls go to a manager; the web server runs on the first engine and is fetched from the last.
    plan["control_host"] = control_host
    plan["web_host"] = engines[0] if engines else ""
    plan["probe_host"] = engines[-1] if engines else ""
    mtus = [plan["members"][name]["mtu"] for name in engines if plan["members"][name]["mtu"]]
    plan["overlay"] = dict(
        attachable=mode == "swarm",
        # The smallest cluster MTU, so that no engine's packets fragment.
        auto_mtu=min(mtus) - VXLAN_OVERHEAD if mtus else 0,
        # A swarm worker sees an attachable network only once one of its containers uses it.
        viewers=managers if mode == "swarm" else engines,
    )
    return problems, plan
