# -*- coding: utf-8 -*-
# Copyright (c) mhnet.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    """Options of every module that talks to an engine (module_utils._docker_client.DOCKER_COMMON_ARGS)."""

    DOCUMENTATION = r"""
options:
  docker_host:
    description: The engine's API address.
    type: str
    default: unix:///var/run/docker.sock
    aliases: [docker_url]
  timeout:
    description: Seconds to wait for an API call (loading an image archive counts as one call).
    type: int
    default: 60
requirements:
  - Docker SDK for Python (C(python3-docker) on Debian) on the target host
"""
