#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) mhnet.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: cluster_plan
short_description: Check the cluster's hosts together and publish the one plan every later phase reads
version_added: 0.2.0
description:
  - Runs on the controller (an action plugin). Reads every play host's C(mhnet_host) fact (C(ansible_facts.mhnet_host),
    from M(mhnet.cluster.preflight)), its C(mhnet_swarm_role) and C(mhnet_swarm_force_rejoin), and the inventory groups.
  - Applies every rule that involves more than one host, and reports in one failure every problem of every host,
    each naming the hosts involved and saying what to do. Rules include a hostname or cluster address used twice,
    cluster addresses in different subnets, clocks further apart than O(clock_skew_max), an even number of swarm
    managers or keystore hosts, an engine in another swarm than the one this play forms, a swarm role given in
    key-value mode, every engine a worker, and a store that cannot hold overlay networks
    (ZooKeeper, U(https://github.com/moby/libnetwork/issues/2006)).
  - Checks O(overlay_networks) as one list, before anything changes, for keys the overlay role does not know, names Docker
    would refuse (or not resolve) and names given twice, subnets that are not CIDR networks or overlap each other, a
    network or a route on any engine (C(docker0), C(docker_gwbridge), the cluster and management networks), MTUs the
    overlay driver cannot use over every engine's cluster interface, and encryption in key-value mode or on an engine
    whose kernel cannot hold IPsec state.
  - When there is no problem, returns the plan as RV(plan); the M(mhnet.cluster.preflight) role publishes it to every
    host of the play as the variable C(mhnet_cluster) (C(set_fact), not a fact; it never reaches a fact cache and
    needs no C(INJECT_FACTS_AS_VARS)). Roles read only that plan and their own variables. The plan holds the members
    with their addresses, the placements (control, web and probe hosts, keystore peers, managers and workers) and the
    choices that depend on the mode.
  - The plan's C(connectivity) says what the mode needs open between hosts (engines to each other on 7946 TCP and UDP
    and 4789 UDP; to the store's client port in C(kv) mode, between the store's servers on their peer ports; to the
    managers' port in C(swarm) mode) as groups of hosts and ports, which M(mhnet.cluster.connectivity_check) expands
    and tries on every host; its size grows with the number of members, not with their square.
  - "In C(kv) mode, also checks the keystore's security from each host's variables: C(mhnet_keystore_tls) (C(ca),
    C(cert), C(key): files on the controller, on every engine and keystore host or none) and Consul's ACL tokens
    (C(keystore_acl_master_token), C(keystore_acl_engine_token) on the keystore hosts, C(engine_keystore_token) on the
    engines), comparing only SHA-256 digests of the tokens; TLS or tokens with etcd are refused. The plan's
    C(keystore) then has C(tls), C(acl) and C(tls_files) (each host's controller paths), never a token."
  - Run it once (C(run_once)).
extends_documentation_fragment:
  - mhnet.cluster.attributes
  - mhnet.cluster.attributes.read_only
attributes:
  action:
    description: Runs on the controller as an action plugin.
    support: full
options:
  mode:
    description: Cluster mode, C(kv) (key-value store, Docker < 23) or C(swarm).
    type: str
    choices: [kv, swarm]
    default: kv
  keystore_backend:
    description: Store of the C(kv) mode, C(consul) or C(etcd). Other names (C(zookeeper)) are refused with the reason.
    type: str
    default: consul
  keystore_port:
    description:
      - Client port of the store (1-65535); unset, the backend's own (8500 for Consul, 8501 with TLS, 2379 for etcd).
      - A port out of range, or 7946 (the engines' gossip), is refused with the other problems.
    type: int
  keystore_group:
    description: Inventory group of the keystore hosts (C(kv) mode).
    type: str
    default: keystore
  docker_group:
    description: Inventory group of the engines that form the cluster.
    type: str
    default: docker_hosts
  overlay_networks:
    description:
      - The overlay networks the overlay role will create (its C(overlay_networks); each entry holds
        M(mhnet.cluster.overlay_network) options), checked here as a whole list against every engine.
      - When left out, the engines' own C(overlay_networks) (the task runs once, on a host whose variables need not
        hold them), which must be the same list on every engine; when no engine sets it, the default list (C(my-net)
        with the subnet C(10.0.9.0/24)). V([]) checks nothing.
      - "An entry's C(mtu) is the underlay's MTU: the overlay driver gives the VXLAN interface and the
        containers 50 bytes less (76 and padding when encrypted). It must be at least 118 (144 encrypted), Linux's 68
        plus that overhead, and at most the smallest cluster interface MTU of the engines; V(auto) is always accepted."
    type: list
    elements: raw
  clock_skew_max:
    description:
      - Largest difference, in seconds, between the clocks of the engines (and keystore hosts in C(kv) mode) as
        M(mhnet.cluster.preflight) read them; V(0) turns the check off.
      - The difference includes the time preflight takes to reach every host (hosts beyond the play's forks run later).
    type: float
    default: 10
  swarm_port:
    description:
      - Port the swarm managers listen on (C(swarm) mode), on their cluster address (1-65535); unset, 2377.
      - A port out of range, or 7946 (the engines' gossip), is refused with the other problems.
    type: int
  workload_network:
    description:
      - The network the workload role runs web and the probe on; a list of overlay networks that does not create it
        is refused. An empty string turns the check off (the run skips the workload).
      - Unset, the web host's (the first engine's) C(workload_network), else the workload role's default, C(my-net).
    type: str
  image_phases:
    description:
      - The phases whose images are checked. With C(images_source) V(archive) (the hosts' own variable), an image a
        phase would run on a host (C(keystore_images) of the backend or C(keystore_image) on the keystore hosts,
        C(workload_web_image) and C(stack_web_image) on the web host, C(workload_probe_image) and C(stack_probe_image)
        on the probe host, the stack's in C(swarm) mode only) that the host's engine lacks and no C(images_list) entry
        names is refused, naming the variable; with V(pull) the phase pulls what the engine lacks.
      - The preflight role leaves out the phases the run skips (C(--skip-tags)); the day-2 playbooks, which run none of
        them, give V([]).
    type: list
    elements: str
    choices: [keystore, workload, stack]
    default: [keystore, workload, stack]
author:
  - mhnet.cluster maintainers (@mhnet-cluster)
"""

EXAMPLES = r"""
- name: Inspect every host
  mhnet.cluster.preflight:
    mode: swarm
    fail_on_problems: false

- name: Check the hosts together and work out the plan
  mhnet.cluster.cluster_plan:
    mode: swarm
  run_once: true
  register: cluster

- name: Publish the plan to every host of the play
  ansible.builtin.set_fact:
    mhnet_cluster: "{{ cluster.plan }}"
  run_once: true

- name: Check the overlay networks too, and allow 30 s between clocks
  mhnet.cluster.cluster_plan:
    mode: swarm
    overlay_networks: "{{ overlay_networks }}"
    clock_skew_max: 30
  run_once: true

- name: Later phases read only the plan
  ansible.builtin.debug:
    msg: "web runs on {{ mhnet_cluster.web_host }} at {{ mhnet_cluster.members[mhnet_cluster.web_host].address }}"
"""

RETURN = r"""
problems:
  description: Every problem found, each naming its host(s) and saying what to do; empty on success.
  returned: always
  type: list
  elements: str
  sample:
    - "hostname 'node' is used by mhs-demo0 and mhs-demo1; the key-value store identifies engines by hostname: give each host a unique hostname"
    - "overlay_networks[1] 'app' subnet 172.17.0.0/16 overlaps on mhs-demo0 and mhs-demo1: network 'bridge' (172.17.0.0/16), route
      172.17.0.0/16 on docker0: choose a subnet that no engine uses (or set check_overlap: false on the entry if the overlap is intended)"
plan:
  description: The cluster plan; C(docs/architecture.md) describes every field. The preflight role publishes it as C(mhnet_cluster).
  returned: success
  type: dict
  sample:
    mode: kv
    engines: [mhs-demo0, mhs-demo1]
    members:
      mh-keystore: {hostname: mh-keystore, address: 192.168.151.2, interface: eth1, mtu: 1500,
                    engine_version: 20.10.5+dfsg1, swarm_role: "", swarm_node_id: ""}
      mhs-demo0: {hostname: mhs-demo0, address: 192.168.151.3, interface: eth1, mtu: 1500,
                  engine_version: 20.10.5+dfsg1, swarm_role: "", swarm_node_id: ""}
      mhs-demo1: {hostname: mhs-demo1, address: 192.168.151.4, interface: eth0, mtu: 1500,
                  engine_version: 20.10.5+dfsg1, swarm_role: "", swarm_node_id: ""}
    control_host: mhs-demo0
    web_host: mhs-demo0
    probe_host: mhs-demo1
    keystore:
      backend: consul
      hosts: [mh-keystore]
      peers: [{name: mh-keystore, hostname: mh-keystore, address: 192.168.151.2}]
      address: 192.168.151.2
      port: 8500
      url: consul://192.168.151.2:8500
      tls: false
      acl: false
      tls_files: {}
    swarm: {}
    overlay: {attachable: false, auto_mtu: 1450, viewers: [mhs-demo0, mhs-demo1]}
    connectivity:
      rules:
        - {sources: [mhs-demo0, mhs-demo1], targets: [mhs-demo0, mhs-demo1],
           ports: [[tcp, 7946, engine gossip], [udp, 7946, engine gossip], [udp, 4789, VXLAN data]]}
        - {sources: [mhs-demo0, mhs-demo1], targets: [mh-keystore], ports: [[tcp, 8500, consul clients]]}
      in_use: {mh-keystore: [tcp/8500]}
"""
