# -*- coding: utf-8 -*-
# Copyright (c) mhnet.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Controller side of mhnet.cluster.cluster_plan: read the inventory, hand it to module_utils._plan, publish the plan."""

from __future__ import annotations

import copy
import hashlib
import json

from ansible.plugins.action import ActionBase

from ansible_collections.mhnet.cluster.plugins.module_utils._keystore_security import is_uuid
from ansible_collections.mhnet.cluster.plugins.module_utils._plan import (
    CLOCK_SKEW_MAX,
    DEFAULT_OVERLAY_NETWORKS,
    IMAGE_PHASES,
    PHASE_IMAGES,
    WORKLOAD_NETWORK,
    make_plan,
)

ARGUMENT_SPEC = dict(
    mode=dict(type="str", choices=["kv", "swarm"], default="kv"),
    keystore_backend=dict(type="str", default="consul", no_log=False),
    # None: unset (the default); a value out of range or 0 is one of the plan's problems
    keystore_port=dict(type="int", no_log=False),
    keystore_group=dict(type="str", default="keystore", no_log=False),
    docker_group=dict(type="str", default="docker_hosts"),
    # raw elements: an entry that is not a mapping is one of the plan's problems, reported with all the others
    overlay_networks=dict(type="list", elements="raw"),
    clock_skew_max=dict(type="float", default=CLOCK_SKEW_MAX),
    swarm_port=dict(type="int"),
    # None: as the web host (the first engine) sets it, else the workload role's default; '': not checked
    workload_network=dict(type="str"),
    image_phases=dict(type="list", elements="str", choices=list(IMAGE_PHASES), default=list(IMAGE_PHASES)),
)


def _digest(secret):
    """A token's SHA-256, so that the plan's rules compare tokens without ever holding one."""
    return hashlib.sha256(str(secret).encode()).hexdigest() if secret else ""


def security_inputs(host, resolve):
    """What keystore_security reads of one host: mhnet_keystore_tls (paths resolved on the controller) and digests of
    the ACL tokens set for it (keystore_acl_master_token, keystore_acl_engine_token, engine_keystore_token)."""
    tls = host.get("mhnet_keystore_tls") or {}
    if isinstance(tls, dict):
        tls = dict((key, resolve(path) if isinstance(path, str) and path else path) for key, path in tls.items())
    engine_token = host.get("keystore_acl_engine_token") or ""
    return dict(tls=tls, master=_digest(host.get("keystore_acl_master_token")), engine_token=_digest(engine_token),
                engine_token_uuid=is_uuid(str(engine_token)), token=_digest(host.get("engine_keystore_token")))


def image_inputs(host, backend):
    """What image_problems reads of one host: images_source, the names images_list gives and the images the phases
    would run (only the variables the host sets; the plan knows the roles' defaults)."""
    listed = host.get("images_list") or []
    values = dict((variable, host.get(variable)) for variable in PHASE_IMAGES if host.get(variable))
    keystore_images = host.get("keystore_images")
    if isinstance(keystore_images, dict) and keystore_images.get(backend):
        values["keystore_images.%s" % backend] = keystore_images[backend]
    try:
        keystore_image = host.get("keystore_image")
    except Exception:  # noqa: BLE001 -- a template of the plan (mhnet_cluster) that does not exist yet: not checked
        keystore_image = None
    if isinstance(keystore_image, str) and keystore_image:
        values["keystore_image"] = keystore_image
    return dict(source=host.get("images_source") or "pull", values=values,
                listed=[entry.get("name") for entry in listed if isinstance(entry, dict) and entry.get("name")]
                if isinstance(listed, list) else [])


def engines_overlay_networks(hostvars, engines):
    """(networks, problems): the overlay_networks the engines set, the same list on each, else the plan's default.

    The engines' own: the task runs once, on a host (the keystore's, say) whose variables need not hold them, as a
    consumer's group_vars for its docker group do."""
    chosen = {}
    for name in engines:
        value = hostvars[name].get("overlay_networks")
        if value is not None:
            # plain lists and dicts: hostvars may hand out lazily templated containers
            chosen[name] = json.loads(json.dumps(value))
    if not chosen:
        return copy.deepcopy(DEFAULT_OVERLAY_NETWORKS), []
    not_lists = [name for name, value in chosen.items() if not isinstance(value, list)]
    if not_lists:
        return [], ["%s: overlay_networks is %s, not a list: give a list of networks, each a mapping with a name"
                    % (name, json.dumps(chosen[name])) for name in not_lists]
    first = next(iter(chosen))
    unlike = [name for name in engines if chosen.get(name) != chosen[first]]
    if unlike:
        return [], ["overlay_networks is not the same on every engine: %s sets one list, %s: set it once for all of "
                    "them (the docker group's group_vars, or -e)"
                    % (first, ", ".join("%s %s" % (name, "leaves it unset" if name not in chosen else "another")
                                        for name in unlike))]
    return chosen[first], []


class ActionModule(ActionBase):
    _supports_check_mode = True
    _supports_async = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        dummy, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        hostvars = task_vars["hostvars"]
        groups = task_vars["groups"]
        network_problems = []
        if args["overlay_networks"] is None:
            engines = [name for name in groups.get(args["docker_group"], []) if name in task_vars["ansible_play_hosts_all"]]
            args["overlay_networks"], network_problems = engines_overlay_networks(hostvars, engines)
        if args["workload_network"] is None:
            # The web host's: the task runs once, on a host (the keystore's, say) whose variables need not hold it
            engines = [name for name in groups.get(args["docker_group"], []) if name in task_vars["ansible_play_hosts_all"]]
            args["workload_network"] = (hostvars[engines[0]].get("workload_network") if engines else None) or WORKLOAD_NETWORK
        hosts = {}
        for name in task_vars["ansible_play_hosts_all"]:
            host = hostvars[name]
            # ansible_facts, not the top-level copy that INJECT_FACTS_AS_VARS makes (deprecated in 2.20, gone in 2.24)
            hosts[name] = dict(facts=(host.get("ansible_facts") or {}).get("mhnet_host"), swarm_role=host.get("mhnet_swarm_role") or "",
                               force_rejoin=bool(host.get("mhnet_swarm_force_rejoin", False)),
                               state=host.get("mhnet_state") or "present",
                               advertise_port=host.get("engine_advertise_port"),
                               security=security_inputs(host, self._loader.path_dwim),
                               images=image_inputs(host, args["keystore_backend"]))
        problems, plan = make_plan(args, hosts, groups.get(args["keystore_group"], []), groups.get(args["docker_group"], []))
        problems = network_problems + problems
        result.update(changed=False, problems=problems)
        if problems:
            result.update(failed=True, msg="preflight found %d problem(s); nothing was changed:\n- %s"
                          % (len(problems), "\n- ".join(problems)))
            return result
        result["plan"] = plan
        return result
