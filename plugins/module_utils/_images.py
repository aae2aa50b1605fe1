# -*- coding: utf-8 -*-
# Copyright (c) mhnet.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Docker image helpers shared by image_archive's action plugin (on the controller) and its module (on the host).

What a `docker save` archive holds, and which archives an engine needs loaded: pure functions, no Ansible.
"""

from __future__ import annotations

import json
import os
import tarfile

from ansible_collections.mhnet.cluster.plugins.module_utils._errors import MhnetError


class ArchiveError(MhnetError):
    """An image archive that cannot be read, or archives that disagree."""


def archive_images(path):
    """Return {repo_tag: image_id} for a `docker save` archive (legacy or OCI layout, compressed or not)."""
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


def all_images(manifests):
    """{tag: image_id} over every manifest ({archive, images}); a tag that two archives give different IDs is refused.

    Loading both would leave the tag on whichever came last, and every later run would load the other again.
    """
    images, sources = {}, {}
    for manifest in manifests:
        for tag, image_id in sorted(manifest["images"].items()):
            if tag in images and images[tag] != image_id:
                raise ArchiveError(
                    "%s is %s in %s but %s in %s: keep one of the archives, or tag the images apart"
                    % (tag, images[tag], sources[tag], image_id, manifest["archive"])
                )
            images[tag], sources[tag] = image_id, manifest["archive"]
    return images


def missing_tags(wanted, present):
    """The tags of wanted ({tag: image_id}) that the engine (present: {tag: image_id or None}) lacks or has on another image."""
    return sorted(tag for tag, image_id in wanted.items() if present.get(tag) != image_id)


def archives_to_load(manifests, present):
    """[(manifest, its missing tags)] for the manifests to load, in order; an archive whose tags an earlier one brings is not needed."""
    present = dict(present)
    needed = []
    for manifest in manifests:
        missing = missing_tags(manifest["images"], present)
        if missing:
            needed.append((manifest, missing))
            present.update(manifest["images"])
    return needed


def kept_path(dest, archive):
    """Where a copy of archive is kept on the host: dest/<the archive's file name>."""
    return os.path.join(dest, os.path.basename(archive))


def duplicate_names(archives):
    """{file name: [archives]} for file names that more than one archive has (their kept copies would collide)."""
    by_name = {}
    for archive in archives:
        by_name.setdefault(os.path.basename(archive), []).append(archive)
    return dict((name, paths) for name, paths in by_name.items() if len(paths) > 1)
