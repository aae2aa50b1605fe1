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
backup_file:
  description: Where the previous file was copied.
  returned: when the file changed and O(backup) is true
  type: str
"""

import json
import os
import tempfile

from ansible.module_utils.basic import AnsibleModule


class DaemonJsonError(Exception):
    """The existing file cannot be merged into."""


def read_config(path):
    if not os.path.exists(path):
        return None, {}
    with open(path) as handle:
        text = handle.read()
    if not text.strip():
        return text, {}
    try:
        config = json.loads(text)
    except ValueError as exc:
        raise DaemonJsonError("%s is not valid JSON (%s); it was left untouched: fix it by hand and run again" % (path, exc)) from exc
    if not isinstance(config, dict):
        raise DaemonJsonError("%s holds a JSON %s, not an object; it was left untouched: fix it by hand" % (path, type(config).__name__))
    return text, config


def merged(config, settings, remove):
    result = dict((key, value) for key, value in config.items() if key not in remove)
    result.update(settings)
    return result


def render(config):
    return json.dumps(config, indent=2, sort_keys=True) + "\n"


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
    path = module.params["path"]
    try:
        text, config = read_config(path)
    except (DaemonJsonError, OSError) as exc:
        module.fail_json(msg=str(exc))
    wanted = merged(config, module.params["settings"], module.params["remove"])
    changed = wanted != config
    result = dict(changed=changed, config=wanted)
    if module._diff:
        result["diff"] = dict(before=render(config) if text is not None else "", after=render(wanted),
                              before_header=path, after_header=path)
    if changed and not module.check_mode:
        if text is not None and module.params["backup"]:
            result["backup_file"] = module.backup_local(path)
        directory = os.path.dirname(path)
        if not os.path.isdir(directory):
            os.makedirs(directory, 0o755)
        fd, staged = tempfile.mkstemp(prefix=".daemon.json.", dir=directory)
        with os.fdopen(fd, "w") as handle:
            handle.write(render(wanted))
        os.chmod(staged, 0o644)
        module.atomic_move(staged, path)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
