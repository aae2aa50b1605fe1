#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) mhnet.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: workload_container
short_description: Run a container of the workload on an overlay network and prove it, in one call
version_added: 0.3.0
description:
  - Keeps one container running on a network with the image, command and restart policy given, and optionally checks
    that it is attached to C(docker_gwbridge) and fetches a URL from inside it. This is what the workload and probe
    phases need of a host, in one module call.
  - The container is in sync when it carries the label C(io.mhnet.cluster.spec) with the digest of the options, runs
    the image ID the tag names on this engine now, and is attached to the network that has the name now. Anything
    else (a changed option or image, a container made by hand, a network removed and made again) recreates it, and
    the result says why. A stopped container in sync is started.
  - The image must be on the engine (the images phase loads or pulls it); the engine resolves the network when the
    container is created (a swarm worker sees an attachable network only once a container of its uses it).
  - In check mode an image or network the engine lacks yet (the earlier phases would add them) is named in the
    result's actions, not refused.
extends_documentation_fragment:
  - mhnet.cluster.attributes
  - mhnet.cluster.attributes.full_support
  - mhnet.cluster.docker
options:
  name:
    description: Name of the container (also its name on the network).
    type: str
    required: true
  image:
    description: Image, as a tag or ID the engine has.
    type: str
    required: true
  command:
    description: Command of the container; the image's own when left out.
    type: list
    elements: str
  network:
    description: Network the container runs on (as C(docker run --network)).
    type: str
    required: true
  restart_policy:
    description: Restart policy of the container.
    type: str
    choices: ["no", always, unless-stopped, on-failure]
    default: always
  gwbridge:
    description: Fail unless the running container is also attached to C(docker_gwbridge) (an overlay container's way out).
    type: bool
    default: false
  fetch:
    description: Fetch a URL from inside the container (busybox C(wget)) once it runs, and fail unless the page holds a text.
    type: dict
    suboptions:
      url:
        description: URL to fetch.
        type: str
        required: true
      expect:
        description: Text the page must hold.
        type: str
        required: true
      attempts:
        description: Tries, 2 seconds apart, before the fetch fails (a new container's name may take a moment to resolve).
        type: int
        default: 30
notes:
  - In check mode nothing is created, removed or started, and no fetch is tried while the container would change.
author:
  - mhnet.cluster maintainers (@mhnet-cluster)
"""

EXAMPLES = r"""
- name: Run web on my-net and check that it has a way out
  mhnet.cluster.workload_container:
    name: web
    image: nginx:stable
    network: my-net
    gwbridge: true

- name: Keep a probe on another host and fetch web's page through the overlay
  mhnet.cluster.workload_container:
    name: probe
    image: busybox:latest
    command: [sh, -c, "trap 'exit 0' TERM; while :; do sleep 3600 & wait; done"]
    network: my-net
    fetch:
      url: http://web
      expect: Welcome to nginx!
"""

RETURN = r"""
container:
  description: The container as it runs (or would, in check mode).
  returned: always
  type: dict
  contains:
    id:
      description: The container's ID (empty when it would be created in check mode).
      type: str
    image_id:
      description: The image ID it runs.
      type: str
    network_id:
      description: The ID of the network it is attached to (empty when not known yet).
      type: str
actions:
  description: What the module did (or would do), in order; empty when the container was in sync and running.
  returned: always
  type: list
  elements: str
  sample: ["recreated: the network my-net it was attached to is gone (made again with another ID)"]
fetched:
  description: The page fetched from inside the container (with O(fetch), outside check mode).
  returned: when fetched
  type: str
"""

import copy
import hashlib
import json
import time
import traceback

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mhnet.cluster.plugins.module_utils._docker_client import (
    DOCKER_COMMON_ARGS,
    DOCKER_REQUIRED_TOGETHER,
    EngineError,
    EngineNotFound,
    connect,
)
from ansible_collections.mhnet.cluster.plugins.module_utils._errors import MhnetError

SPEC_LABEL = "io.mhnet.cluster.spec"
# busybox wget, tried every 2 seconds: a name the engine's DNS does not resolve yet, or a peer still joining, passes.
FETCH_SCRIPT = 'for attempt in $(seq "$2"); do wget -q -O- "$1" && exit 0; sleep 2; done; exit 1'
# An exec the runtime itself failed (rc 126, "OCI runtime exec failed", seen on 12 busy hosts) is tried again.
EXEC_RUNTIME_FAILED = 126
EXEC_TRIES = 3
# Starts tried, START_DELAY seconds apart, before the module fails.
START_TRIES = 3
START_DELAY = 2


class WorkloadError(MhnetError):
    """The container cannot be run or proved as asked."""


def spec_digest(params):
    """The digest of what the container is made from, kept as its SPEC_LABEL: a change of any option recreates it."""
    spec = dict((key, params[key]) for key in ("image", "command", "network", "restart_policy"))
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()


def find(call, *args):
    """call(*args), or None when the engine has no such object."""
    try:
        return call(*args)
    except EngineNotFound:
        return None


def out_of_sync(container, params, digest, image_id, network_id):
    """Why the container is not what the options ask for ([] when it is)."""
    labels = container["Config"].get("Labels") or {}
    why = []
    if labels.get(SPEC_LABEL) != digest:
        why.append("its options differ from the task's" if SPEC_LABEL in labels else "it was not made by this module")
    if not image_id:
        why.append("image %s is not on this engine yet" % params["image"])
    elif container["Image"] != image_id:
        why.append("it runs image %s, and %s is now %s" % (container["Image"][:19], params["image"], image_id[:19]))
    attached = (container["NetworkSettings"].get("Networks") or {}).get(params["network"])
    if not attached:
        why.append("it is not attached to %s" % params["network"])
    elif attached.get("NetworkID") != network_id:
        why.append("the network %s it was attached to is gone (made again with another ID, or removed)" % params["network"])
    return why


class WorkloadContainer:
    def __init__(self, module, client):
        self.module = module
        self.client = client
        self.params = module.params
        self.actions = []
        self.before = ""

    def image_id(self):
        """The image's ID on this engine; '' in check mode when it is not there yet (the images phase, in check mode
        too, only says it would load it)."""
        image = find(self.client.inspect_image, self.params["image"])
        if not image and self.module.check_mode:
            return ""
        if not image:
            raise WorkloadError("image %s is not on this engine (%s): the images phase loads or pulls it (images_list, "
                                "images_source); run the play from the start" % (self.params["image"], self.client.docker_host))
        return image["Id"]

    def network_id(self):
        network = find(self.client.inspect_network, self.params["network"])
        return network["Id"] if network else ""

    def create(self, digest):
        """Create and start the container; a start that fails is tried again on a clean slate.

        A key-value engine (Docker 20.10) can fail the first start on a network made again ('failed to update store
        for object type *libnetwork.endpointCnt ... network is unreachable', seen on the lab) and leave the name's
        endpoint in the store, which then refuses every start ('endpoint with name ... already exists'): the endpoint
        is forced off the network before the next try.
        """
        p = self.params
        host_config = self.client.create_host_config(network_mode=p["network"], restart_policy={"Name": p["restart_policy"]})
        for attempt in range(1, START_TRIES + 1):
            created = self.client.create_container(p["image"], command=p["command"], name=p["name"],
                                                   labels={SPEC_LABEL: digest}, host_config=host_config)
            try:
                self.client.start(created["Id"])
                return self.client.inspect_container(created["Id"])
            except EngineError as exc:
                self.client.remove_container(created["Id"], force=True)
                self.forget_endpoint()
                if attempt == START_TRIES:
                    raise WorkloadError("%s could not start on %s (%d tries): %s; the engine's log: journalctl -u docker"
                                        % (p["name"], self.client.docker_host, START_TRIES, exc)) from exc
                self.actions.append("start failed, tried again: %s" % exc)
                time.sleep(START_DELAY)
        return None

    def forget_endpoint(self):
        """Force the name's endpoint off the network (a failed start may leave it in the store)."""
        try:
            self.client.disconnect_container_from_network(self.params["name"], self.params["network"], force=True)
        except EngineError:
            pass  # no such endpoint: nothing to forget

    def converge(self):
        p, check_mode = self.params, self.module.check_mode
        digest, image_id, network_id = spec_digest(p), self.image_id(), self.network_id()
        container = find(self.client.inspect_container, p["name"])
        self.before = "absent" if container is None else "running" if container["State"].get("Running") else "stopped"
        if container is None:
            self.actions.append("created: no container %s" % p["name"])
            # check mode on hosts the run has not reached yet: what the earlier phases would add is not there
            self.actions += ["%s is not on this engine yet" % what for what, found in
                             (("image " + p["image"], image_id), ("network " + p["network"], network_id)) if not found]
        else:
            why = out_of_sync(container, p, digest, image_id, network_id)
            if why:
                self.actions.append("recreated: %s" % "; ".join(why))
            elif not container["State"].get("Running"):
                self.actions.append("started: it was %s" % container["State"].get("Status", "stopped"))
        if not self.actions or check_mode:
            return container
        if self.actions[0].startswith("started"):
            self.client.start(container["Id"])
            return self.client.inspect_container(container["Id"])
        if container is not None:
            self.client.remove_container(container["Id"], force=True)
        return self.create(digest)

    def check_gwbridge(self, container):
        gwbridge = find(self.client.inspect_network, "docker_gwbridge") or {}
        if container["Id"] not in (gwbridge.get("Containers") or {}):
            raise WorkloadError("%s runs but is not attached to docker_gwbridge on %s, so it has no way out of the overlay: "
                                "check the engine's log (journalctl -u docker) for docker_gwbridge errors"
                                % (self.params["name"], self.client.docker_host))

    def fetch(self, container):
        wanted = self.params["fetch"]
        argv = ["sh", "-c", FETCH_SCRIPT, "probe", wanted["url"], str(wanted["attempts"])]
        for dummy in range(EXEC_TRIES):
            exec_id = self.client.exec_create(container["Id"], argv)["Id"]
            output = self.client.exec_start(exec_id).decode("utf-8", "replace")
            code = self.client.exec_inspect(exec_id).get("ExitCode")
            if code != EXEC_RUNTIME_FAILED:
                break
        if code != 0 or wanted["expect"] not in output:
            raise WorkloadError("%s could not fetch %s (exit %s after %d tries, 2 s apart): %s; check that the page's "
                                "container runs and that the hosts pass VXLAN (4789/udp) to each other"
                                % (self.params["name"], wanted["url"], code, wanted["attempts"],
                                   output.strip()[-300:] or "no output"))
        return output

    def run(self):
        container = self.converge()
        result = dict(changed=bool(self.actions), actions=self.actions,
                      container=dict(id=(container or {}).get("Id", ""), image_id=(container or {}).get("Image", ""),
                                     network_id=((container or {}).get("NetworkSettings", {}).get("Networks") or {})
                                     .get(self.params["network"], {}).get("NetworkID", "")))
        if self.module._diff:
            result["diff"] = dict(before="%s: %s\n" % (self.params["name"], self.before),
                                  after="%s: %s\n" % (self.params["name"], "; ".join(self.actions) or self.before))
        if self.module.check_mode and self.actions:
            return result
        if self.params["gwbridge"]:
            self.check_gwbridge(container)
        if self.params["fetch"] and not self.module.check_mode:
            result["fetched"] = self.fetch(container)
        return result


def main():
    argument_spec = copy.deepcopy(DOCKER_COMMON_ARGS)
    argument_spec.update(
        name=dict(type="str", required=True),
        image=dict(type="str", required=True),
        command=dict(type="list", elements="str"),
        network=dict(type="str", required=True),
        restart_policy=dict(type="str", choices=["no", "always", "unless-stopped", "on-failure"], default="always"),
        gwbridge=dict(type="bool", default=False),
        fetch=dict(type="dict", options=dict(url=dict(type="str", required=True), expect=dict(type="str", required=True),
                                             attempts=dict(type="int", default=30))),
    )
    module = AnsibleModule(argument_spec=argument_spec, required_together=DOCKER_REQUIRED_TOGETHER, supports_check_mode=True)
    try:
        module.exit_json(**WorkloadContainer(module, connect(module.params)).run())
    except MhnetError as exc:
        module.fail_json(msg=str(exc), exception=traceback.format_exc())


if __name__ == "__main__":
    main()
