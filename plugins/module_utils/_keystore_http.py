# -*- coding: utf-8 -*-
# Copyright (c) mhnet.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""How the modules that talk to the keystore's HTTP API (keystore_wait, keystore_snapshot) reach it."""

from __future__ import annotations


def store_endpoint(params):
    """(base URL, open_url's TLS options) of the store that params (host, port, tls_ca, tls_cert, tls_key) name:
    HTTPS checked against tls_ca (with the client certificate when given), else plain HTTP."""
    host = params["host"]
    if ":" in host and not host.startswith("["):
        host = "[%s]" % host  # an IPv6 address
    tls = dict(validate_certs=True, ca_path=params["tls_ca"], client_cert=params.get("tls_cert"),
               client_key=params.get("tls_key")) if params.get("tls_ca") else {}
    return "%s://%s:%d" % ("https" if tls else "http", host, params["port"]), tls
