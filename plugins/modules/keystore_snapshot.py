#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) mhnet.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: keystore_snapshot
short_description: Save a snapshot of the Consul keystore into a file, or restore one
version_added: 0.2.0
description:
  - "O(state=saved): C(GET /v1/snapshot) of Consul's HTTP API, written to O(path) with mode 0600 (the snapshot holds
    every key, and with ACLs the tokens). O(state=restored): C(PUT /v1/snapshot) with the file's bytes; Consul
    replaces its whole state with the snapshot's (Docker's networks keep their IDs)."
  - With ACLs, O(token) must be Consul's management token (snapshots need it). O(timeout) bounds the whole save or
    restore. Meant to run on a keystore host (delegate it), which reaches the store's cluster address.
  - etcd is refused with a message saying what to do instead (Docker's keys are in etcd's v2 store, which
    C(etcdctl snapshot) does not hold).
extends_documentation_fragment:
  - mhnet.cluster.attributes
  - mhnet.cluster.keystore
attributes:
  check_mode:
    support: full
    details:
      - In check mode nothing is written or restored; C(changed) is true.
  diff_mode:
    support: none
  idempotent:
    support: none
    details:
      - Each run saves a new snapshot, or restores the store's whole state.
options:
  state:
    description: Save a snapshot to O(path), or restore the one at O(path).
    type: str
    choices: [saved, restored]
    required: true
  path:
    description: The snapshot file on the host the module runs on.
    type: path
    required: true
author:
  - mhnet.cluster maintainers (@mhnet-cluster)
"""

EXAMPLES = r"""
- name: Save a snapshot of Consul on the first keystore host
  mhnet.cluster.keystore_snapshot:
    state: saved
    path: /var/backups/mhnet/consul.snap
    host: 192.168.151.2
    port: 8500
  delegate_to: mh-keystore
  run_once: true

- name: Restore it
  mhnet.cluster.keystore_snapshot:
    state: restored
    path: /var/backups/mhnet/consul.snap
    host: 192.168.151.2
    port: 8500
  delegate_to: mh-keystore
  run_once: true
"""

RETURN = r"""
size:
  description: Size of the snapshot file in bytes.
  returned: success, outside check mode
  type: int
index:
  description: Consul's Raft index of the snapshot (header C(X-Consul-Index)), when Consul sent it.
  returned: state=saved, outside check mode
  type: str
"""

import os
import traceback

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mhnet.cluster.plugins.module_utils._errors import MhnetError
from ansible_collections.mhnet.cluster.plugins.module_utils._store_client import keystore_module_args, store_client


class SnapshotError(MhnetError):
    """The snapshot cannot be taken or restored here; the message says what to do."""


def run(params, check_mode, opener=None):
    if params["backend"] != "consul":
        raise SnapshotError(
            "keystore snapshots support Consul only; the store is %s. Docker keeps its keys in etcd's v2 store, which "
            "`etcdctl snapshot save` does not hold: stop the etcd container and copy its data volume, or use "
            "mhnet_keystore_backend: consul; nothing was changed" % params["backend"])
    path = params["path"]
    if params["state"] == "restored":
        if check_mode:
            return dict(changed=True)
        if not os.path.isfile(path):
            raise SnapshotError("no snapshot at %s on this host: copy it there first" % path)
        with open(path, "rb") as handle:
            data = handle.read()
        store_client(params, opener).restore_snapshot(data)
        return dict(changed=True, size=len(data))
    if check_mode:
        return dict(changed=True)
    data, index = store_client(params, opener).save_snapshot()
    os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
    partial = path + ".partial"
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    os.replace(partial, path)
    return dict(changed=True, size=len(data), index=index)


def main():
    module = AnsibleModule(**keystore_module_args(
        state=dict(type="str", choices=["saved", "restored"], required=True),
        path=dict(type="path", required=True),
    ))
    try:
        module.exit_json(**run(module.params, module.check_mode))
    except MhnetError as exc:
        module.fail_json(msg=str(exc), changed=False, exception=traceback.format_exc())


if __name__ == "__main__":
    main()
