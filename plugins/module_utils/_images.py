# -*- coding: utf-8 -*-
# Copyright (c) mhnet.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Docker image helpers shared by modules: what a `docker save` archive holds."""

from __future__ import annotations

import json
import os
import tarfile

from ansible_collections.mhnet.cluster.plugins.module_utils._errors import MhnetError


class ArchiveError(MhnetError):
    """An image archive that cannot be read."""


def archive_images(path):
    """Return {repo_tag: image_id} for a `docker save` archive (legacy or OCI layout)."""
    try:
        with tarfile.open(path) as archive:
            member = archive.extractfile("manifest.json")
            manifest = json.load(member)
    except (OSError, KeyError, tarfile.TarError, ValueError) as exc:
        raise ArchiveError("%s is not a readable docker image archive: %s" % (path, exc)) from exc
    images = {}
    for entry in manifest:
        # legacy layout: "<hex>.json"; OCI layout (Docker 25+): "blobs/sha256/<hex>"
        config = os.path.basename(entry["Config"])
        image_id = "sha256:" + config.rsplit(".json", 1)[0]
        for tag in entry.get("RepoTags") or []:
            images[tag] = image_id
    if not images:
        raise ArchiveError("%s holds no tagged image: save it with `docker save NAME:TAG`" % path)
    return images
