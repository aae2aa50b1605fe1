#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) mhnet.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: daemon_json
short_description: Merge settings into Docker's daemon.json, keeping every other key
version_added: 0.1.0
description:
  - Sets the given top-level keys of the engine's C(daemon.json) and removes the listed ones; every other key the
    user has stays as it is.
  - Refuses a file that is not a JSON object instead of overwriting it.
  - Keeps a timestamped backup of the previous file when it changes. Restarting the engine is the caller's
    (a handler), and only when this reports a change.
extends_documentation_fragment:
  - mhnet.cluster.attributes
  - mhnet.cluster.attributes.full_support
options:
  path:
    description: The engine's configuration file.
    type: path
    default: /etc/docker/daemon.json
  settings:
    description: Top-level keys to set, with their values.
    type: dict
    default: {}
  remove:
    description: Top-level keys to remove when present.
    type: list
    elements: str
    default: []
  backup:
    description: Keep a copy of the previous file when it changes.
    type: bool
    default: true
author:
  - mhnet.cluster maintainers (@mhnet-cluster)
"""

EXAMPLES = r"""
- name: Point the engine at the key-value store
  mhnet.cluster.daemon_json:
    settings:
      cluster-store: consul://192.168.151.2:8500
      cluster-advertise: eth1:2376
  notify: Restart docker
"""

RETURN = r"""
config:
  description: The configuration after the change (or as it would be, in check mode).
  returned: always
  type: dict
  sample:
    cluster-advertise: eth1:2376
    cluster-store: consul://192.168.151.2:8500
    log-level: warn
backup_file:
  description: Where the previous file was copied.
  returned: when the file changed, O(backup) is true and there was a previous file
  type: str
  sample: /etc/docker/daemon.json.12345.2026-11-28@09:20:01~
"""

import json
import os
import tempfile
import traceback

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mhnet.cluster.plugins.module_utils._daemon_json import DaemonJsonError, read_daemon_json
from ansible_collections.mhnet.cluster.plugins.module_utils._errors import MhnetError


def merged(config, settings, remove):
    result = dict((key, value) for key, value in config.items() if key not in remove)
    result.update(settings)
    return result


def render(config):
    return json.dumps(config, indent=2, sort_keys=True) + "\n"


def write(module, path, config):
    """Replace the file at path with config, atomically; the directory is created when missing."""
    directory = os.path.dirname(path)
    try:
        if not os.path.isdir(directory):
            os.makedirs(directory, 0o755)
        fd, staged = tempfile.mkstemp(prefix=".daemon.json.", dir=directory)
        with os.fdopen(fd, "w") as handle:
            handle.write(render(config))
        os.chmod(staged, 0o644)
    except OSError as exc:
        raise DaemonJsonError("cannot write %s (%s): run the task with become, or fix the directory's permissions" % (path, exc)) from exc
    module.atomic_move(staged, path)


def converge(module):
    """Merge the task's settings into the file; every write is skipped in check mode."""
    path = module.params["path"]
    text, config = read_daemon_json(path)
    wanted = merged(config, module.params["settings"], module.params["remove"])
    changed = wanted != config
    result = dict(changed=changed, config=wanted)
    if module._diff:
        result["diff"] = dict(before=render(config) if text is not None else "", after=render(wanted),
                              before_header=path, after_header=path)
    if changed and not module.check_mode:
        if text is not None and module.params["backup"]:
            result["backup_file"] = module.backup_local(path)
        write(module, path, wanted)
    return result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", default="/etc/docker/daemon.json"),
            settings=dict(type="dict", default={}),
            remove=dict(type="list", elements="str", default=[]),
            backup=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    try:
        module.exit_json(**converge(module))
    except MhnetError as exc:
        module.fail_json(msg=str(exc), exception=traceback.format_exc())


if __name__ == "__main__":
    main()
