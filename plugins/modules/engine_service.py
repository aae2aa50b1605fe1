#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) mhnet.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: engine_service
short_description: Restart or start the Docker engine on this host, wait until it answers, and start its containers again
version_added: 0.3.0
description:
  - Restarts (or starts) the engine's service with C(systemctl) where systemd runs, else C(service SERVICE), and waits
    until the engine answers on its Unix socket O(docker_host). A unit left failed, or one whose start systemd refuses
    because it hit its start limit (Debian's C(docker.service) allows 3 starts in 60 s), is cleared with
    C(systemctl reset-failed), with the units that trigger it (C(docker.socket)), and the module says so in a warning.
  - Then starts the containers that should run and do not, each tried again every 3 s until O(wait_timeout) (a
    container on a swarm-scoped network cannot attach until its node is back in the swarm); a container removed
    meanwhile (a C(--rm) client, a swarm task replaced) is skipped.
  - This is the restart, the wait and the start again of a rolling restart or an upgrade in one module call; the
    engine role's C(upgrade) and C(start_again) task files use it.
extends_documentation_fragment:
  - mhnet.cluster.attributes
attributes:
  check_mode:
    support: full
    details:
      - Nothing is restarted or started; C(changed) says whether it would be.
  diff_mode:
    support: none
  idempotent:
    support: partial
    details:
      - O(state=started) changes nothing when the engine runs and the containers listed run; O(state=restarted)
        restarts every time, as C(ansible.builtin.systemd_service) does.
options:
  state:
    description:
      - C(restarted) restarts the engine; C(started) starts it only when it does not answer.
    type: str
    choices: [restarted, started]
    default: restarted
  daemon_reload:
    description: Reload systemd's units first (after a package upgrade or a changed drop-in).
    type: bool
    default: false
  start_again:
    description:
      - With O(state=restarted), start again every container that ran before the restart and does not run after it.
        A swarm task's container is the swarm's to replace and never counted.
    type: bool
    default: false
  containers:
    description:
      - IDs (or names) of containers to start once the engine answers, each that exists and does not run; for
        example the RV(running_before) of an earlier call, once the node may attach them again.
    type: list
    elements: str
    default: []
  wait_timeout:
    description:
      - Seconds the restart may take until the engine answers, and again the containers may take to start.
    type: int
    default: 60
  service:
    description: The engine's service (systemd unit or init script).
    type: str
    default: docker
  docker_host:
    description: The engine's Unix socket on this host, a path or a C(unix://) URL.
    type: str
    default: unix:///var/run/docker.sock
author:
  - mhnet.cluster maintainers (@mhnet-cluster)
"""

EXAMPLES = r"""
- name: Restart the engine and start again the containers that ran before
  mhnet.cluster.engine_service:
    state: restarted
    start_again: true

- name: After a package upgrade, restart the engine with the new binary
  mhnet.cluster.engine_service:
    state: restarted
    daemon_reload: true
  register: restart

- name: Later (a swarm node once it is Active again), start the containers that ran before
  mhnet.cluster.engine_service:
    state: started
    containers: "{{ restart.running_before }}"
"""

RETURN = r"""
running_before:
  description:
    - IDs of the containers that ran before the module acted, a swarm task's left out; empty when the engine did not
      answer then.
  returned: always
  type: list
  elements: str
  sample: [4c01db0b339c4b8f6a3a0f3e0a1ba0c1e4d3e7d2b6f5a4c3b2a1908172635445]
restarted:
  description: The engine was restarted (or started) and answers again. Never true in check mode.
  returned: always
  type: bool
  sample: true
started:
  description:
    - IDs (or names, as given) of the containers the module started. In check mode, those it would start of the ones
      listed in O(containers) when the engine needs no restart; after a restart that check mode only predicts, none.
  returned: always
  type: list
  elements: str
  sample: [4c01db0b339c4b8f6a3a0f3e0a1ba0c1e4d3e7d2b6f5a4c3b2a1908172635445]
"""

import json
import time
import traceback
from http.client import HTTPException
from urllib.parse import quote

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mhnet.cluster.plugins.module_utils._engine_service import (
    EngineService,
    EngineServiceError,
    engine_answers,
    engine_request,
)
from ansible_collections.mhnet.cluster.plugins.module_utils._errors import MhnetError

START_RETRY_INTERVAL = 3  # seconds between two tries of a container that does not start yet
SWARM_TASK_LABEL = "com.docker.swarm.task.id"


def api(path, method, url):
    """(status, decoded JSON or text) of one call to the engine's API; EngineServiceError when it does not answer."""
    try:
        status, body = engine_request(path, method, url)
    except (OSError, HTTPException) as exc:
        raise EngineServiceError("%s %s on the engine's socket %s failed: %s" % (method, url, path, exc)) from exc
    try:
        return status, json.loads(body) if body else None
    except ValueError:
        return status, body.decode("utf-8", "replace")


def running_containers(path):
    """IDs of the containers that run now, a swarm task's left out."""
    status, answer = api(path, "GET", "/containers/json")
    if status != 200 or not isinstance(answer, list):
        raise EngineServiceError("the engine on %s did not list its containers (HTTP %d): %s" % (path, status, answer))
    return [container["Id"] for container in answer if SWARM_TASK_LABEL not in (container.get("Labels") or {})]


def container_state(path, container):
    """'running', another state of the container, or None when it does not exist."""
    status, answer = api(path, "GET", "/containers/%s/json" % quote(container, safe=""))
    if status == 404:
        return None
    if status != 200 or not isinstance(answer, dict):
        raise EngineServiceError("the engine on %s did not inspect container %s (HTTP %d): %s" % (path, container, status, answer))
    return "running" if (answer.get("State") or {}).get("Running") else (answer.get("State") or {}).get("Status", "unknown")


def start_containers(module, path, containers, timeout):
    """Start each container that exists and does not run, tried again until timeout; the ones started."""
    deadline = time.monotonic() + timeout
    waiting = [name for name in containers if container_state(path, name) not in (None, "running")]
    if module.check_mode:
        return waiting
    started = []
    while waiting:
        refused = {}
        for name in list(waiting):
            status, answer = api(path, "POST", "/containers/%s/start" % quote(name, safe=""))
            # 404 is also a network the engine cannot find yet ('network ... not found' on a node not back in its
            # swarm): only a container that no longer exists is done with.
            if status in (204, 304) or (status == 404 and container_state(path, name) is None):
                waiting.remove(name)
                if status == 204:
                    started.append(name)
            else:
                refused[name] = (answer or {}).get("message") if isinstance(answer, dict) else answer
        if not waiting:
            break
        if time.monotonic() + START_RETRY_INTERVAL > deadline:
            raise EngineServiceError(
                "the engine answers, but %d container(s) that ran before did not start within %d s: %s. Check that "
                "their networks exist on this engine (a swarm node attaches a swarm network's containers only once it "
                "is Active)" % (len(refused), timeout, "; ".join("%s: %s" % item for item in sorted(refused.items()))))
        time.sleep(START_RETRY_INTERVAL)
    return started


def converge(module):
    p = module.params
    service = EngineService(module, p["service"], p["docker_host"])
    service.check_controllable()
    answered, dummy = engine_answers(service.socket)
    result = dict(changed=False, restarted=False, started=[], running_before=running_containers(service.socket) if answered else [])
    if p["state"] == "restarted" or not answered:
        result["changed"] = True
        if module.check_mode:
            return result
        if p["daemon_reload"]:
            service.daemon_reload()
        service.restart(p["wait_timeout"], verb="restart" if p["state"] == "restarted" else "start")
        result["restarted"] = True
    wanted = list(p["containers"])
    if p["start_again"] and p["state"] == "restarted":
        wanted += [container for container in result["running_before"] if container not in wanted]
    result["started"] = start_containers(module, service.socket, wanted, p["wait_timeout"])
    result["changed"] = result["changed"] or bool(result["started"])
    return result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type="str", default="restarted", choices=["restarted", "started"]),
            daemon_reload=dict(type="bool", default=False),
            start_again=dict(type="bool", default=False),
            containers=dict(type="list", elements="str", default=[]),
            wait_timeout=dict(type="int", default=60),
            service=dict(type="str", default="docker"),
            docker_host=dict(type="str", default="unix:///var/run/docker.sock"),
        ),
        supports_check_mode=True,
    )
    try:
        module.exit_json(**converge(module))
    except MhnetError as exc:
        module.fail_json(msg=str(exc), exception=traceback.format_exc())


if __name__ == "__main__":
    main()
