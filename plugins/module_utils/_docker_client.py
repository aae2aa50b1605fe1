# -*- coding: utf-8 -*-
# Copyright (c) mhnet.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one way mhnet.cluster modules talk to a Docker engine: the Docker SDK, community.docker's connection options.

The options, their aliases, environment fallbacks and TLS semantics are community.docker's (its
``plugins/module_utils/util.py`` DOCKER_COMMON_ARGS and ``common.py`` get_connect_params), so that one
``module_defaults`` entry, or one set of DOCKER_* variables, serves both collections.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import os
import types

from ansible.module_utils.basic import env_fallback, missing_required_lib

from ansible_collections.mhnet.cluster.plugins.module_utils._errors import MhnetError

try:
    from docker import APIClient
    from docker.errors import DockerException, NotFound
    from docker.tls import TLSConfig
except ImportError as exc:
    APIClient = TLSConfig = None
    DOCKER_IMPORT_ERROR = exc

    class DockerException(Exception):  # noqa: N818 -- stands in for the SDK's own name
        """Placeholder so that `except DockerException` works without the SDK."""

    class NotFound(DockerException):  # noqa: N818
        """Placeholder for docker.errors.NotFound."""
else:
    DOCKER_IMPORT_ERROR = None

try:
    # The SDK talks HTTP through requests; a refused or timed-out connection surfaces as requests' own error.
    from requests.exceptions import RequestException
except ImportError:
    class RequestException(Exception):  # noqa: N818
        """Placeholder for requests.exceptions.RequestException."""


DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"
DEFAULT_TIMEOUT_SECONDS = 60

# Options of every module that talks to an engine (documented by the mhnet.cluster.docker doc fragment);
# deep-copy before extending. Names, aliases and fallbacks are community.docker's.
DOCKER_COMMON_ARGS = dict(
    docker_host=dict(type="str", default=DEFAULT_DOCKER_HOST, fallback=(env_fallback, ["DOCKER_HOST"]), aliases=["docker_url"]),
    tls_hostname=dict(type="str", fallback=(env_fallback, ["DOCKER_TLS_HOSTNAME"])),
    api_version=dict(type="str", default="auto", fallback=(env_fallback, ["DOCKER_API_VERSION"]), aliases=["docker_api_version"]),
    timeout=dict(type="int", default=DEFAULT_TIMEOUT_SECONDS, fallback=(env_fallback, ["DOCKER_TIMEOUT"])),
    ca_path=dict(type="path", aliases=["ca_cert", "tls_ca_cert", "cacert_path"]),
    client_cert=dict(type="path", aliases=["tls_client_cert", "cert_path"]),
    client_key=dict(type="path", aliases=["tls_client_key", "key_path"]),
    tls=dict(type="bool", default=False, fallback=(env_fallback, ["DOCKER_TLS"])),
    validate_certs=dict(type="bool", default=False, fallback=(env_fallback, ["DOCKER_TLS_VERIFY"]), aliases=["tls_verify"]),
)

# AnsibleModule(required_together=...) for every module that takes DOCKER_COMMON_ARGS.
DOCKER_REQUIRED_TOGETHER = [["client_cert", "client_key"]]

# The files DOCKER_CERT_PATH supplies for the paths the task leaves unset (as the docker CLI reads them).
CERT_PATH_FILES = (("ca_path", "ca.pem"), ("client_cert", "cert.pem"), ("client_key", "key.pem"))


class EngineError(MhnetError):
    """The engine could not be reached or refused a request."""


class EngineNotFound(EngineError):  # noqa: N818 -- as docker.errors.NotFound
    """The engine has no object of the name or ID asked for."""


class DockerSdkError(MhnetError):
    """The Docker SDK for Python is missing on the host the module runs on."""


def tls_paths(params, environ=None):
    """{ca_path, client_cert, client_key}: the task's paths, each unset one taken from DOCKER_CERT_PATH when that is set."""
    environ = os.environ if environ is None else environ
    cert_dir = environ.get("DOCKER_CERT_PATH")
    return dict(
        (option, params.get(option) or (os.path.join(cert_dir, name) if cert_dir else None)) for option, name in CERT_PATH_FILES
    )


def _tls_config(verify, ca_cert, client_cert, client_key, tls_hostname):
    kwargs = dict(verify=verify)
    if client_cert and client_key:
        kwargs["client_cert"] = (client_cert, client_key)
    if verify and ca_cert:
        kwargs["ca_cert"] = ca_cert
    if verify and tls_hostname:
        if "assert_hostname" not in inspect.signature(TLSConfig).parameters:
            raise EngineError(
                "tls_hostname (or DOCKER_TLS_HOSTNAME) is %s, but this Docker SDK for Python (7.0 or newer) has no way to check "
                "a name other than docker_host's: unset it and name the engine in docker_host as its certificate does"
                % tls_hostname
            )
        kwargs["assert_hostname"] = tls_hostname
    try:
        return TLSConfig(**kwargs)
    except DockerException as exc:  # docker.errors.TLSParameterError
        raise EngineError(
            "TLS settings for the Docker engine are unusable: %s: check ca_path, client_cert and client_key "
            "(or the ca.pem, cert.pem and key.pem in DOCKER_CERT_PATH)" % exc
        ) from exc


def connect_params(params, environ=None):
    """APIClient keyword arguments for the module's connection options (community.docker's get_connect_params).

    validate_certs: TLS, the engine's certificate checked against ca_path (else the system's CAs), and the name
    tls_hostname where the SDK allows it. tls alone: TLS without checking the engine's certificate. Either way
    client_cert and client_key are presented when both are known, and tcp:// becomes https://.
    """
    kwargs = dict(base_url=params["docker_host"], version=params["api_version"], timeout=params["timeout"])
    if params["validate_certs"] or params["tls"]:
        paths = tls_paths(params, environ)
        kwargs["base_url"] = kwargs["base_url"].replace("tcp://", "https://")
        kwargs["tls"] = _tls_config(bool(params["validate_certs"]), paths["ca_path"], paths["client_cert"], paths["client_key"],
                                    params.get("tls_hostname"))
    return kwargs


@contextlib.contextmanager
def translated(name, docker_host):
    """Re-raise the SDK's and requests' errors inside the block as EngineError naming the call and the engine."""
    try:
        yield
    except NotFound as exc:
        raise EngineNotFound("%s on the Docker engine at %s found nothing: %s" % (name, docker_host, exc)) from exc
    except (DockerException, RequestException) as exc:
        raise EngineError("%s on the Docker engine at %s failed: %s" % (name, docker_host, exc)) from exc


class EngineClient:
    """A low-level client whose every call raises EngineError (EngineNotFound for a missing object) for the SDK's errors.

    This is the boundary between the Docker SDK and the modules: nothing above it sees a DockerException or a
    requests error, so each module's main() only has MhnetError to catch.
    """

    def __init__(self, client, docker_host):
        self._client = client
        self.docker_host = docker_host

    def __getattr__(self, name):
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute

        @functools.wraps(attribute)
        def call(*args, **kwargs):
            with translated(name, self.docker_host):
                result = attribute(*args, **kwargs)
            # streamed answers (load_image) can fail while they are read: keep translating
            return self._stream(name, result) if isinstance(result, types.GeneratorType) else result

        return call

    def _stream(self, name, events):
        with translated(name, self.docker_host):
            yield from events


def connect(params, environ=None):
    """An EngineClient for the engine the module's connection options name, once it answers a ping."""
    if APIClient is None:
        raise DockerSdkError(missing_required_lib("docker (the Docker SDK for Python, python3-docker on Debian)")) from DOCKER_IMPORT_ERROR
    kwargs = connect_params(params, environ)
    try:
        client = APIClient(**kwargs)
        client.ping()
    except (DockerException, RequestException) as exc:
        raise EngineError("the Docker engine at %s does not answer: %s" % (kwargs["base_url"], exc)) from exc
    return EngineClient(client, kwargs["base_url"])


def image_id(client, reference):
    """The ID of the engine's image for a reference, or None when the engine has no such image."""
    try:
        return client.inspect_image(reference)["Id"]
    except EngineNotFound:
        return None
