# -*- coding: utf-8 -*-
# Copyright (c) mhnet.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    """How every keystore module reaches the store (module_utils/_store_client.py's KEYSTORE_ARGS)."""

    DOCUMENTATION = r"""
options:
  backend:
    description: Kind of key-value store.
    type: str
    choices: [consul, etcd]
    default: consul
  host:
    description: Address of the store's client API, as the host the module runs on reaches it.
    type: str
    required: true
  port:
    description: Port of the store's client API (Consul's HTTP or HTTPS port, etcd's client port).
    type: int
    required: true
  tls_ca:
    description:
      - Path, on the host the module runs on, of the CA certificate that signed the store's certificate. Set, the module
        speaks HTTPS and checks the store's certificate against it (and its address against the certificate's names).
    type: path
  tls_cert:
    description:
      - Path of the client certificate the module presents, for a store that requires one (Consul's
        C(verify_incoming_https)). Needs O(tls_ca) and O(tls_key).
    type: path
  tls_key:
    description: Path of the private key of O(tls_cert).
    type: path
  token:
    description:
      - Consul's ACL token, sent with every request (header C(X-Consul-Token)). Not logged.
      - Consul only.
    type: str
  timeout:
    description:
      - Seconds the whole operation may take, every request included; no request outlives it.
      - A module that polls says how often it asks, and how long one request may take, in its description.
    type: int
    default: 60
notes:
  - The module speaks HTTP, or HTTPS with O(tls_ca), with Python's standard library, so the host it runs on needs
    nothing else. No proxy is used.
  - "Consul: its HTTP API. etcd: its v2 HTTP API, the API Docker's cluster store speaks, so etcd 3.x must run with
    C(--enable-v2=true)."
"""
