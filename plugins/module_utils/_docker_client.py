# -*- coding: utf-8 -*-
# Copyright (c) mhnet.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one way mhnet.cluster modules talk to a Docker engine: the Docker SDK, one error type."""

from __future__ import annotations

import traceback

from ansible.module_utils.basic import missing_required_lib

try:
    import docker
    from docker.errors import DockerException, NotFound
except ImportError:
    docker = None
    DOCKER_IMPORT_ERROR = traceback.format_exc()

    class DockerException(Exception):  # noqa: N818 -- stands in for the SDK's own name
        """Placeholder so that `except DockerException` works without the SDK."""

    class NotFound(DockerException):  # noqa: N818
        """Placeholder for docker.errors.NotFound."""
else:
    DOCKER_IMPORT_ERROR = None


# Options every module that talks to an engine takes; deep-copy before extending.
DOCKER_COMMON_ARGS = dict(
    docker_host=dict(type="str", default="unix:///var/run/docker.sock", aliases=["docker_url"]),
    timeout=dict(type="int", default=60),
)


class EngineError(Exception):
    """The engine could not be reached or refused a request."""


def connect(module):
    """Return a low-level client for the engine named by the module's docker_host, or fail the module."""
    if docker is None:
        module.fail_json(msg=missing_required_lib("docker (the Docker SDK for Python)"), exception=DOCKER_IMPORT_ERROR)
    try:
        client = docker.APIClient(base_url=module.params["docker_host"], timeout=module.params["timeout"], version="auto")
        client.ping()
    except DockerException as exc:
        raise EngineError("the Docker engine at %s does not answer: %s" % (module.params["docker_host"], exc)) from exc
    return client


def image_id(client, reference):
    """The ID of the engine's image for a reference, or None when the engine has no such image."""
    try:
        return client.inspect_image(reference)["Id"]
    except NotFound:
        return None
