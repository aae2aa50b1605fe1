#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) mhnet.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: swarm_backup
short_description: Back up a swarm manager's Raft state, or restore it onto a blank manager with a new cluster
version_added: 0.2.0
description:
  - "O(state=backup), as Docker's administration guide describes: run it on every manager at once; each lists the
    swarm's nodes and the same one acts, the first of O(managers) that is Ready, reachable and not the Raft leader
    (the leader only when it is the one manager: the swarm has no manager for the few seconds its engine is down).
    That manager stops its engine (C(docker.socket) and C(docker.service)), archives C(/var/lib/docker/swarm) into
    O(path) (tar.gz, mode 0600: it holds the Raft keys), starts the engine and waits until its node is Ready and
    reachable again. The others return C(backed_up=false)."
  - "O(state=restore): on the host with the backed-up manager's cluster address (the archive's
    C(docker-state.json) names it; another address is refused, as the Raft state keeps that manager's address and
    managers that join later dial it), whose engine is in no swarm (refused otherwise, unless O(force)): stops
    the engine, replaces C(/var/lib/docker/swarm) with the archive at O(path), starts the engine, runs
    C(docker swarm init --force-new-cluster) advertising O(advertise_addr) and listening on O(listen_addr), waits
    until its node is Ready, and removes the Down node entries of O(stale_hostnames) (hosts that were in no swarm:
    they rejoin under new IDs). Services, networks, secrets and configs of the archive come back with their IDs."
  - A swarm with auto-lock on is refused (its unlock key is not in the archive and the module cannot unlock it).
  - Starting and stopping the engine goes through systemd where it runs (the engine's socket too; a failed unit or a
    start limit is cleared before the start), else C(service docker).
extends_documentation_fragment:
  - mhnet.cluster.attributes
  - mhnet.cluster.docker
attributes:
  check_mode:
    support: full
    details:
      - In check mode the engine is not stopped and nothing is written; C(changed) says whether it would be.
  diff_mode:
    support: none
  idempotent:
    support: none
    details:
      - Every backup writes a new archive; a restore is refused once the engine is in a swarm.
options:
  state:
    description: Whether to back up (on the managers) or restore (on one blank host).
    type: str
    choices: [backup, restore]
    required: true
  path:
    description: The archive on the host the module runs on; written by V(backup), read by V(restore).
    type: path
    required: true
  managers:
    description: Hostnames of the planned managers, in the plan's order (V(backup)).
    type: list
    elements: str
    default: []
  advertise_addr:
    description: Address the restored manager advertises (its cluster address); required with V(restore).
    type: str
  listen_addr:
    description: Address the restored manager listens on (V(restore)).
    type: str
    default: 0.0.0.0:2377
  stale_hostnames:
    description: Hostnames whose Down node entries the restored swarm drops (V(restore)).
    type: list
    elements: str
    default: []
  force:
    description: Restore even though the engine is in a swarm (its swarm state is replaced).
    type: bool
    default: false
  swarm_dir:
    description: The engine's swarm state directory.
    type: path
    default: /var/lib/docker/swarm
  service:
    description: The engine's service (systemd unit or init script) stopped and started.
    type: str
    default: docker
  wait_timeout:
    description: Seconds to wait for the engine to answer and its node to be Ready after it starts.
    type: int
    default: 120
author:
  - mhnet.cluster maintainers (@mhnet-cluster)
"""

EXAMPLES = r"""
- name: Back up the swarm from one manager (a follower when there are several)
  mhnet.cluster.swarm_backup:
    state: backup
    path: /var/backups/mhnet/swarm.tar.gz
    managers: [mhs-demo0, mhs-demo1, mhs-demo2]
  when: inventory_hostname in mhnet_cluster.swarm.managers
  register: swarm_backup

- name: Restore it onto a blank manager
  mhnet.cluster.swarm_backup:
    state: restore
    path: /var/backups/mhnet/swarm.tar.gz
    advertise_addr: 192.168.161.2
    listen_addr: 192.168.161.2:2377
    stale_hostnames: [mhs-demo1, mhs-demo2]
"""

RETURN = r"""
backed_up:
  description: Whether this host made the archive (V(backup)).
  returned: always
  type: bool
chosen:
  description: Hostname of the manager that makes the archive (V(backup)).
  returned: state=backup
  type: str
leader:
  description: Whether the chosen manager was the Raft leader (the swarm had no manager while it was down).
  returned: state=backup
  type: bool
node_id:
  description: This node's ID after the backup or restore.
  returned: success
  type: str
size:
  description: Size of the archive in bytes.
  returned: when an archive was written
  type: int
engine_down_seconds:
  description: How long the engine was stopped.
  returned: when the engine was stopped
  type: float
removed_nodes:
  description: IDs of the stale node entries the restored swarm dropped.
  returned: state=restore
  type: list
  elements: str
"""

import copy
import os
import shutil
import time
import traceback

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mhnet.cluster.plugins.module_utils._backup import (
    BackupError,
    choose_backup_manager,
    archive_address,
    check_restore_address,
    extract_archive,
    stale_nodes,
    write_archive,
)
from ansible_collections.mhnet.cluster.plugins.module_utils._docker_client import (
    DEFAULT_DOCKER_HOST,
    DOCKER_COMMON_ARGS,
    DOCKER_REQUIRED_TOGETHER,
    connect,
)
from ansible_collections.mhnet.cluster.plugins.module_utils._engine_service import EngineService
from ansible_collections.mhnet.cluster.plugins.module_utils._errors import MhnetError
from ansible_collections.mhnet.cluster.plugins.module_utils._swarm import ACTIVE_SWARM_STATES, describe_swarm, swarm_facts

POLL_INTERVAL = 1.0


def engine_service(module):
    """The engine's service here, asked on its Unix socket: docker_host when that names one, else the default."""
    docker_host = module.params["docker_host"]
    return EngineService(module, module.params["service"],
                         docker_host if docker_host.startswith(("unix://", "/")) else DEFAULT_DOCKER_HOST)


def own_node(client):
    info = client.info()
    facts = swarm_facts(info)
    return info, facts


def wait_ready(client, node_id, manager, deadline, timeout):
    """Wait until the node is Ready (and, for a manager, reachable) as the swarm sees it."""
    last = "not listed"
    while True:
        try:
            node = client.inspect_node(node_id)
            state = (node.get("Status") or {}).get("State")
            reach = (node.get("ManagerStatus") or {}).get("Reachability")
            last = "state %s, reachability %s" % (state, reach)
            if state == "ready" and (not manager or reach == "reachable"):
                return node
        except MhnetError as exc:
            last = str(exc)
        if time.monotonic() > deadline:
            raise BackupError("node %s was not Ready within %d s after its engine started (%s): check "
                              "`docker node ls` and the engine's log" % (node_id, timeout, last))
        time.sleep(POLL_INTERVAL)


def backup(module, client):
    p = module.params
    info, facts = own_node(client)
    if not facts["swarm_manager"]:
        raise BackupError("this engine is not a swarm manager (swarm state %s): run the backup on the managers"
                          % (facts["swarm_state"] or "inactive"))
    spec = client.inspect_swarm().get("Spec") or {}
    if (spec.get("EncryptionConfig") or {}).get("AutoLockManagers"):
        raise BackupError("the swarm has auto-lock on: a restored manager needs the unlock key, which the archive "
                          "does not hold, and this module cannot unlock an engine it restarts; nothing was changed")
    chosen, leader = choose_backup_manager(client.nodes(), p["managers"])
    result = dict(changed=False, backed_up=False, chosen=chosen, leader=leader, node_id=facts["swarm_node_id"])
    if info.get("Name") != chosen:
        return result
    result.update(changed=True, backed_up=True)
    if leader:
        module.warn("%s is the only Ready manager: the swarm has no manager while its engine is stopped" % chosen)
    if module.check_mode:
        return result
    service = engine_service(module)
    stopped = time.monotonic()
    service.stop()
    try:
        result["size"] = write_archive(p["swarm_dir"], p["path"])
    finally:
        service.start(p["wait_timeout"])
    deadline = time.monotonic() + p["wait_timeout"]
    client = connect(p)
    result["engine_down_seconds"] = round(time.monotonic() - stopped, 1)
    wait_ready(client, facts["swarm_node_id"], True, deadline, p["wait_timeout"])
    return result


def restore(module, client):
    p = module.params
    if not p["advertise_addr"]:
        raise BackupError("advertise_addr is required to restore: give the manager's cluster address")
    dummy, facts = own_node(client)
    if facts["swarm_state"] in ACTIVE_SWARM_STATES and not p["force"]:
        raise BackupError("this engine is in %s: a swarm is restored onto a blank manager; nothing was changed. "
                          "Take the host out of that swarm (docker swarm leave --force) or set force to replace it"
                          % describe_swarm(facts["swarm_cluster_id"], facts["swarm_managers"]))
    if not module.check_mode and not os.path.isfile(p["path"]):
        raise BackupError("no archive at %s on this host: copy the backup there first" % p["path"])
    if not module.check_mode or os.path.isfile(p["path"]):
        check_restore_address(archive_address(p["path"]), p["advertise_addr"])
    result = dict(changed=True, backed_up=False, removed_nodes=[])
    if module.check_mode:
        return result
    service = engine_service(module)
    stopped = time.monotonic()
    service.stop()
    replaced = p["swarm_dir"].rstrip("/") + ".replaced"
    try:
        if os.path.lexists(replaced):
            shutil.rmtree(replaced)
        if os.path.lexists(p["swarm_dir"]):
            os.rename(p["swarm_dir"], replaced)
        try:
            extract_archive(p["path"], os.path.dirname(p["swarm_dir"].rstrip("/")),
                            os.path.basename(p["swarm_dir"].rstrip("/")))
        except Exception:
            if os.path.lexists(p["swarm_dir"]):
                shutil.rmtree(p["swarm_dir"])
            if os.path.lexists(replaced):
                os.rename(replaced, p["swarm_dir"])
            raise
    finally:
        service.start(p["wait_timeout"])
    deadline = time.monotonic() + p["wait_timeout"]
    client = connect(p)
    result["engine_down_seconds"] = round(time.monotonic() - stopped, 1)
    # The restored node tries to reach the old swarm's managers until it forms a new cluster of its own.
    node_id = client.init_swarm(advertise_addr=p["advertise_addr"], listen_addr=p["listen_addr"], force_new_cluster=True)
    wait_ready(client, node_id, True, deadline, p["wait_timeout"])
    # The new cluster's Raft has one member: the old managers are no longer in it, so their entries are removed as
    # they are (demoting one answers "can't find manager in raft memberlist").
    for node in stale_nodes(client.nodes(), node_id, p["stale_hostnames"]):
        client.remove_node(node["ID"], force=True)
        result["removed_nodes"].append(node["ID"])
    if os.path.lexists(replaced):
        shutil.rmtree(replaced)
    result["node_id"] = node_id
    return result


def main():
    argument_spec = copy.deepcopy(DOCKER_COMMON_ARGS)
    argument_spec.update(
        state=dict(type="str", choices=["backup", "restore"], required=True),
        path=dict(type="path", required=True),
        managers=dict(type="list", elements="str", default=[]),
        advertise_addr=dict(type="str"),
        listen_addr=dict(type="str", default="0.0.0.0:2377"),
        stale_hostnames=dict(type="list", elements="str", default=[]),
        force=dict(type="bool", default=False),
        swarm_dir=dict(type="path", default="/var/lib/docker/swarm"),
        service=dict(type="str", default="docker"),
        wait_timeout=dict(type="int", default=120),
    )
    module = AnsibleModule(argument_spec=argument_spec, required_together=DOCKER_REQUIRED_TOGETHER,
                           required_if=[("state", "restore", ["advertise_addr"])], supports_check_mode=True)
    try:
        client = connect(module.params)
        result = backup(module, client) if module.params["state"] == "backup" else restore(module, client)
        module.exit_json(**result)
    except MhnetError as exc:
        module.fail_json(msg=str(exc), exception=traceback.format_exc())


if __name__ == "__main__":
    main()
