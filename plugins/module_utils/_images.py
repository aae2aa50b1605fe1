# -*- coding: utf-8 -*-
# Copyright (c) mhnet.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Docker image helpers shared by modules: archive manifests and content-addressed recipe tags."""

from __future__ import annotations

import hashlib
import json
import os
import tarfile


class ArchiveError(Exception):
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


def recipe_digest(recipe, context_dir=None, extra_files=None):
    """A stable digest of a build recipe: its parameters and every file that goes into the build."""
    digest = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode())
    files = []
    if context_dir:
        for root, dirs, names in os.walk(context_dir):
            dirs.sort()
            for name in sorted(names):
                full = os.path.join(root, name)
                files.append((os.path.relpath(full, context_dir), full))
    for dest, src in sorted((extra_files or {}).items()):
        files.append((dest, src))
    for rel, full in files:
        digest.update(rel.encode() + b"\0")
        with open(full, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()
