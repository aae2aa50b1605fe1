# -*- coding: utf-8 -*-
# Copyright (c) mhnet.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    """Options of every module that talks to an engine (module_utils._docker_client.DOCKER_COMMON_ARGS).

    Names, aliases, environment fallbacks and meaning are community.docker's, so one set of settings serves both.
    """

    DOCUMENTATION = r"""
options:
  docker_host:
    description:
      - The URL or Unix socket path of the engine's API. To connect to a remote engine, give its TCP address, for
        example V(tcp://192.0.2.23:2376). With TLS (O(tls) or O(validate_certs)), C(tcp) in the URL is replaced by C(https).
      - If the value is not specified in the task, the value of environment variable E(DOCKER_HOST) is used instead.
        If the environment variable is not set either, the default value is used.
    type: str
    default: unix:///var/run/docker.sock
    aliases:
      - docker_url
  tls_hostname:
    description:
      - When verifying the engine's certificate (O(validate_certs)), the name it must carry, if not the host of O(docker_host).
      - If the value is not specified in the task, the value of environment variable E(DOCKER_TLS_HOSTNAME) is used instead.
      - Docker SDK for Python 7.0 and newer cannot check a name other than the one in O(docker_host); with those, setting
        this option (or the variable) is an error.
    type: str
  api_version:
    description:
      - The version of the engine's API to speak. V(auto) asks the engine and uses the newest version both sides support.
      - If the value is not specified in the task, the value of environment variable E(DOCKER_API_VERSION) is used instead.
        If the environment variable is not set either, the default value is used.
    type: str
    default: auto
    aliases:
      - docker_api_version
  timeout:
    description:
      - Seconds to wait for an answer from the API (loading an image archive counts as one call).
      - If the value is not specified in the task, the value of environment variable E(DOCKER_TIMEOUT) is used instead.
        If the environment variable is not set either, the default value is used.
    type: int
    default: 60
  ca_path:
    description:
      - Path of the CA certificate that the engine's certificate must be signed by, when O(validate_certs) is set.
        Without it, the system's CA certificates are used.
      - If the value is not specified in the task and the environment variable E(DOCKER_CERT_PATH) is set, the file
        C(ca.pem) in the directory it names is used.
    type: path
    aliases:
      - ca_cert
      - tls_ca_cert
      - cacert_path
  client_cert:
    description:
      - Path of the client's TLS certificate, presented to the engine together with O(client_key).
      - If the value is not specified in the task and the environment variable E(DOCKER_CERT_PATH) is set, the file
        C(cert.pem) in the directory it names is used.
    type: path
    aliases:
      - tls_client_cert
      - cert_path
  client_key:
    description:
      - Path of the client's TLS key.
      - If the value is not specified in the task and the environment variable E(DOCKER_CERT_PATH) is set, the file
        C(key.pem) in the directory it names is used.
    type: path
    aliases:
      - tls_client_key
      - key_path
  tls:
    description:
      - Secure the connection to the API with TLS without verifying the engine's certificate. If O(validate_certs) is
        set as well, it takes precedence.
      - If the value is not specified in the task, the value of environment variable E(DOCKER_TLS) is used instead.
        If the environment variable is not set either, the default value is used.
    type: bool
    default: false
  validate_certs:
    description:
      - Secure the connection to the API with TLS and verify the engine's certificate.
      - If the value is not specified in the task, the value of environment variable E(DOCKER_TLS_VERIFY) is used instead.
        If the environment variable is not set either, the default value is used.
    type: bool
    default: false
    aliases:
      - tls_verify
attributes:
  action_group:
    description:
      - Use C(group/mhnet.cluster.docker) in C(module_defaults) to set the connection options once for every
        mhnet.cluster module that talks to an engine.
    support: full
    membership:
      - mhnet.cluster.docker
notes:
  - Options take precedence over environment variables, which take precedence over the defaults. The environment is the
    one the module runs in, on the target host (set it with the C(environment) keyword).
  - "The options and variables are the ones the community.docker modules take, so the same settings serve both collections.
    Set them once for this collection's modules with
    C(module_defaults: {group/mhnet.cluster.docker: {docker_host: tcp://192.0.2.23:2376, validate_certs: true}})."
requirements:
  - Docker SDK for Python (C(python3-docker) on Debian) on the target host
"""
