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
  - Speaks HTTP, or HTTPS with O(tls_ca) (and a client certificate with O(tls_cert) and O(tls_key)), with Python's
    standard library; with O(token), Consul's ACL token (snapshots need a management token) is sent with each
    request. Meant to run on a keystore host (delegate it), which reaches the store's cluster address.
  - etcd is refused with a message saying what to do instead (Docker's keys are in etcd's v2 store, which
    C(etcdctl snapshot) does not hold).
extends_documentation_fragment:
  - mhnet.cluster.attributes
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
  backend:
    description: Kind of key-value store; only C(consul) is supported.
    type: str
    choices: [consul, etcd]
    default: consul
  host:
    description: Address of the store's client API, as the host the module runs on reaches it.
    type: str
    required: true
  port:
    description: Port of the store's client API.
    type: int
    required: true
  tls_ca:
    description: CA certificate of the store's certificate; set, the module speaks HTTPS.
    type: path
  tls_cert:
    description: Client certificate presented to the store. Needs O(tls_ca) and O(tls_key).
    type: path
  tls_key:
    description: Private key of O(tls_cert).
    type: path
  token:
    description: Consul's ACL token (a management token), sent with each request. Not logged.
    type: str
  timeout:
    description: Seconds one request may take.
    type: int
    default: 120
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
from http.client import HTTPException
from urllib.error import HTTPError, URLError

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import ConnectionError as UrlsConnectionError
from ansible.module_utils.urls import open_url

from ansible_collections.mhnet.cluster.plugins.module_utils._errors import MhnetError
from ansible_collections.mhnet.cluster.plugins.module_utils._keystore_http import store_endpoint


class SnapshotError(MhnetError):
    """The store could not be reached or refused the snapshot request."""


def request(params, method, data=None, opener=open_url):
    base, tls = store_endpoint(params)
    url = base + "/v1/snapshot"
    headers = {"X-Consul-Token": params["token"]} if params.get("token") else {}
    if data is not None:
        headers["Content-Type"] = "application/octet-stream"
    try:
        response = opener(url, data=data, method=method, headers=headers or None, timeout=params["timeout"],
                          use_proxy=False, **tls)
        return response.read(), response.headers.get("X-Consul-Index", "")
    except HTTPError as exc:
        body = exc.read().decode("utf-8", "replace").strip()[:200]
        hint = ("the store refused the ACL token (or its absence): snapshots need Consul's management token"
                if exc.code in (401, 403) else "check the keystore container's logs")
        raise SnapshotError("Consul at %s answered %s /v1/snapshot with HTTP %d (%s): %s"
                            % (url, method, exc.code, body or "empty body", hint)) from exc
    except (URLError, OSError, HTTPException, UrlsConnectionError) as exc:
        raise SnapshotError("Consul at %s does not answer: %s: check that the keystore runs (site.yml's keystore "
                            "phase) and the address and port" % (url, getattr(exc, "reason", exc))) from exc


def run(params, check_mode, opener=open_url):
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
        request(params, "PUT", data, opener)
        return dict(changed=True, size=len(data))
    if check_mode:
        return dict(changed=True)
    data, index = request(params, "GET", None, opener)
    if not data:
        raise SnapshotError("Consul sent an empty snapshot: check the keystore container's logs")
    os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
    partial = path + ".partial"
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    os.replace(partial, path)
    return dict(changed=True, size=len(data), index=index)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type="str", choices=["saved", "restored"], required=True),
            path=dict(type="path", required=True),
            backend=dict(type="str", choices=["consul", "etcd"], default="consul"),
            host=dict(type="str", required=True),
            port=dict(type="int", required=True),
            tls_ca=dict(type="path"),
            tls_cert=dict(type="path"),
            tls_key=dict(type="path", no_log=False),
            token=dict(type="str", no_log=True),
            timeout=dict(type="int", default=120),
        ),
        required_together=[["tls_cert", "tls_key"]],
        required_by=dict(tls_cert="tls_ca"),
        supports_check_mode=True,
    )
    try:
        module.exit_json(**run(module.params, module.check_mode))
    except MhnetError as exc:
        module.fail_json(msg=str(exc), changed=False, exception=traceback.format_exc())


if __name__ == "__main__":
    main()
