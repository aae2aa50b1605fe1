#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) mhnet.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: preflight_report
short_description: Check the cluster's hosts together and publish the cluster plan
version_added: 0.1.0
description:
  - Takes every host's C(mhnet_host) fact (from M(mhnet.cluster.preflight)) and reports, in one failure, every
    problem found on any host plus those that only show across hosts (a hostname or cluster address used twice,
    in swarm mode an engine that belongs to another swarm than the one the first manager manages or will create),
    naming every host involved.
  - When there is none, publishes the C(mhnet_cluster) fact that later phases read (mode, keystore and engines).
  - Pure computation; run it once, on the controller (C(run_once), C(delegate_to=localhost)).
extends_documentation_fragment:
  - mhnet.cluster.attributes
  - mhnet.cluster.attributes.read_only
options:
  hosts:
    description: Each host's inventory name mapped to its C(mhnet_host) fact; a host without one failed to report.
    type: dict
    required: true
  mode:
    description: Cluster mode, C(kv) (key-value store, Docker < 23) or C(swarm).
    type: str
    choices: [kv, swarm]
    default: kv
  keystore_hosts:
    description: Inventory names of the key-value store hosts (C(kv) mode).
    type: list
    elements: str
    default: []
  engine_hosts:
    description: Inventory names of the engines that join the cluster.
    type: list
    elements: str
    default: []
  keystore_backend:
    description: Key-value store the engines use (C(kv) mode).
    type: str
    choices: [consul, etcd, zookeeper]
    default: consul
  keystore_port:
    description: Client port of the key-value store; by default the backend's own (8500, 2379, 2181).
    type: int
  swarm_managers:
    description:
      - Inventory names of the engines that are swarm managers (C(swarm) mode); the first one initialises the swarm.
      - When empty, the first engine host is the only manager. One or three managers (an odd number) keep a
        Raft majority; an even number is refused.
    type: list
    elements: str
    default: []
  swarm_force_rejoin:
    description: Inventory names of hosts allowed to leave another swarm and join this one (C(swarm) mode).
    type: list
    elements: str
    default: []
author:
  - mhnet.cluster maintainers (@mhnet-cluster)
"""

EXAMPLES = r"""
- name: Check the hosts together and plan the cluster
  mhnet.cluster.preflight_report:
    hosts: "{{ dict(ansible_play_hosts_all | zip(ansible_play_hosts_all | map('extract', hostvars) | map(attribute='mhnet_host', default={}))) }}"
    keystore_hosts: "{{ groups['keystore'] }}"
    engine_hosts: "{{ groups['docker_hosts'] }}"
  run_once: true
  delegate_to: localhost
"""

RETURN = r"""
problems:
  description: Every problem found, each naming its host(s) and saying what to do.
  returned: always
  type: list
  elements: str
ansible_facts:
  description: The cluster plan, published to every host of the play.
  returned: success
  type: dict
  contains:
    mhnet_cluster:
      description: What later phases read about the cluster as a whole.
      type: dict
      returned: success
      sample:
        mode: kv
        keystore_backend: consul
        keystore_hosts: [mh-keystore]
        keystore_address: 192.168.151.2
        keystore_port: 8500
        keystore_url: consul://192.168.151.2:8500
        engine_hosts: [mhs-demo0, mhs-demo1]
        control_host: mhs-demo0
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mhnet.cluster.plugins.module_utils._preflight import cluster_problems, foreign_swarm_problems

DEFAULT_PORTS = dict(consul=8500, etcd=2379, zookeeper=2181)
URL_SCHEMES = dict(consul="consul", etcd="etcd", zookeeper="zk")


def plan(params):
    """Return (problems, cluster plan)."""
    hosts = params["hosts"]
    problems = []
    for name in sorted(hosts):
        if not hosts[name]:
            problems.append("%s: preflight did not report (host unreachable or the module failed): see its error above" % name)
        for problem in hosts[name].get("problems", []) if hosts[name] else []:
            problems.append("%s: %s" % (name, problem))
    problems += cluster_problems(dict((n, f) for n, f in hosts.items() if f), params["mode"])
    engines = [name for name in params["engine_hosts"] if name in hosts]
    keystores = [name for name in params["keystore_hosts"] if name in hosts]
    if not engines:
        problems.append("no engine hosts in this play (engine group empty or not targeted): put the engines in the docker hosts group")
    cluster = dict(mode=params["mode"], engine_hosts=engines, control_host=engines[0] if engines else "")
    if params["mode"] == "kv":
        port = params["keystore_port"] or DEFAULT_PORTS[params["keystore_backend"]]
        address = (hosts.get(keystores[0]) or {}).get("cluster_address", "") if keystores else ""
        if not keystores:
            problems.append("key-value mode needs a keystore host and the keystore group is empty or not targeted: "
                            "put one (or three) hosts in it")
        cluster.update(keystore_backend=params["keystore_backend"], keystore_hosts=keystores, keystore_address=address,
                       keystore_port=port, keystore_url="%s://%s:%d" % (URL_SCHEMES[params["keystore_backend"]], address, port))
    if params["mode"] == "swarm" and engines:
        managers = [name for name in params["swarm_managers"] if name in engines] or engines[:1]
        strangers = sorted(set(params["swarm_managers"]) - set(engines))
        if strangers:
            problems.append("swarm managers %s are not engine hosts of this play: put them in the docker hosts group" % ", ".join(strangers))
        if len(managers) % 2 == 0:
            problems.append("%d swarm managers (%s) cannot keep a Raft majority when one fails: use 1 or 3 managers"
                            % (len(managers), ", ".join(managers)))
        cluster.update(control_host=managers[0], managers=managers, workers=[name for name in engines if name not in managers])
        problems += foreign_swarm_problems(hosts, managers[0], engines, params["swarm_force_rejoin"])
    return problems, cluster


def main():
    module = AnsibleModule(
        argument_spec=dict(
            hosts=dict(type="dict", required=True),
            mode=dict(type="str", choices=["kv", "swarm"], default="kv"),
            keystore_hosts=dict(type="list", elements="str", default=[], no_log=False),
            engine_hosts=dict(type="list", elements="str", default=[]),
            keystore_backend=dict(type="str", choices=["consul", "etcd", "zookeeper"], default="consul", no_log=False),
            keystore_port=dict(type="int", no_log=False),
            swarm_managers=dict(type="list", elements="str", default=[]),
            swarm_force_rejoin=dict(type="list", elements="str", default=[]),
        ),
        supports_check_mode=True,
    )
    problems, cluster = plan(module.params)
    if problems:
        module.fail_json(msg="preflight found %d problem(s); nothing was changed:\n- %s" % (len(problems), "\n- ".join(problems)),
                         problems=problems, changed=False)
    module.exit_json(changed=False, problems=[], ansible_facts=dict(mhnet_cluster=cluster))


if __name__ == "__main__":
    main()
