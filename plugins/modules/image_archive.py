#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) mhnet.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: image_archive
short_description: Load C(docker save) archives into an engine, copying only those whose images the engine lacks
version_added: 0.1.0
description:
  - Loads C(docker save) archives into the host's engine, for air-gapped sites and the lab, where no registry can be reached.
  - On the controller (an action plugin), reads each archive's manifest for its tags and image IDs, then asks the
    host's engine which of those tags it lacks or has on another image. Nothing is copied when the engine has them all,
    so a run where every host has every image costs one call per host.
  - Otherwise copies only the archives the engine needs into a temporary directory on the host, loads each, checks
    that every tag now has the archive's image ID, and removes the copies (or keeps them in O(dest) with
    O(keep_archives)).
  - With O(remote_src), the archives are already on the host; the module reads and loads them there and never moves
    or removes them.
  - Pass every archive a host needs in one task; an archive whose tags an earlier one in O(archives) brings is not loaded.
extends_documentation_fragment:
  - mhnet.cluster.attributes
  - mhnet.cluster.docker
attributes:
  check_mode:
    support: full
    details:
      - Reports the archives that would be copied and loaded; copies nothing.
  diff_mode:
    support: full
    details:
      - C(before) is the engine's image ID of each tag in the archives (tags it lacks left out), C(after) the archives'.
  idempotent:
    support: full
  action:
    description: Indicates this has a corresponding action plugin so some parts of the options can be executed on the controller.
    support: full
options:
  archives:
    description:
      - C(docker save) archives (legacy or OCI layout, optionally compressed), as paths on the controller. A relative
        path is looked up as M(ansible.builtin.copy) looks up its source, in the role's C(files/) first.
      - With O(remote_src), paths on the host.
      - A tag that two archives give different image IDs is refused.
    type: list
    elements: path
    required: true
  remote_src:
    description:
      - The archives are on the host already. The module reads them there and loads those the engine needs; it never
        moves or removes them, and O(keep_archives) does not apply.
    type: bool
    default: false
  keep_archives:
    description:
      - Keep the copy of each archive that was loaded in O(dest) instead of removing it once loaded.
      - Archives whose images the engine already has are not copied, kept or not.
      - When off, a copy of one of the archives that is in O(dest) already (kept by an earlier run, or left by version
        0.1.0 of the C(images) role) is removed, if it holds the same tags and image IDs.
    type: bool
    default: false
  dest:
    description:
      - Directory on the host where O(keep_archives) keeps the copies, each under the archive's file name (mode C(0600),
        the directory created with mode C(0700)). Two archives with the same file name are refused with O(keep_archives).
    type: path
    default: /var/cache/mhnet/images
  manifests:
    description:
      - Set by the action plugin, do not set it. What the controller read from each archive, and where the action copied
        it on the host.
      - A manifest without O(manifests[].path) is only compared with the engine; the result says what loading would do.
    type: list
    elements: dict
    suboptions:
      archive:
        description: The archive as given in O(archives).
        type: str
        required: true
      images:
        description: Every tag in the archive with its image ID.
        type: dict
        required: true
      path:
        description: The copy of the archive on the host.
        type: path
notes:
  - Loading an archive is one call to the engine's API, so O(timeout) must cover it; raise it for large archives.
  - The copies go to the connection's remote temporary directory (C(remote_tmp)), which needs room for them.
seealso:
  - module: community.docker.docker_image_load
    description: Loads an archive that is on the host already, without comparing image IDs first.
author:
  - mhnet.cluster maintainers (@mhnet-cluster)
"""

EXAMPLES = r"""
- name: Load the archives whose images the engine lacks, and remove the copies once loaded
  mhnet.cluster.image_archive:
    archives:
      - /srv/airgap/nginx-1.27.tar
      - /srv/airgap/busybox-1.37.tar
    timeout: 300

- name: Keep the copies on the host, for example to load them again without the controller
  mhnet.cluster.image_archive:
    archives: [/srv/airgap/consul-1.8.tar]
    keep_archives: true
    dest: /var/cache/mhnet/images

- name: Load archives that are on the host already (a shared mount)
  mhnet.cluster.image_archive:
    archives: [/mnt/images/nginx-1.27.tar]
    remote_src: true
"""

RETURN = r"""
images:
  description: Every tag in the archives with the image ID it carries.
  returned: always
  type: dict
  sample: {"mhnet-lab/nginx:bookworm-5555237e6708": "sha256:0b8e1c..."}
loaded:
  description: The tags that were (or in check mode would be) loaded because the engine lacked them or had them on another image.
  returned: always
  type: list
  elements: str
  sample: ["mhnet-lab/nginx:bookworm-5555237e6708"]
archives:
  description: The archives that were (or in check mode would be) loaded, as given in O(archives); copied to the host first unless O(remote_src).
  returned: always
  type: list
  elements: str
  sample: ["/home/user/.cache/mhnet-lab/archives/nginx.tar"]
kept:
  description: Where the loaded archives were (or would be) kept on the host, with O(keep_archives).
  returned: always
  type: list
  elements: str
  sample: ["/var/cache/mhnet/images/nginx.tar"]
removed:
  description:
    - Copies of the archives that an earlier run kept in O(dest) (same tags and image IDs), removed (or in check mode to
      be removed) because O(keep_archives) is off.
  returned: always
  type: list
  elements: str
  sample: ["/var/cache/mhnet/images/nginx.tar"]
"""

import copy
import os
import traceback

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mhnet.cluster.plugins.module_utils._docker_client import (
    DOCKER_COMMON_ARGS,
    DOCKER_REQUIRED_TOGETHER,
    EngineError,
    connect,
    image_id,
)
from ansible_collections.mhnet.cluster.plugins.module_utils._errors import MhnetError
from ansible_collections.mhnet.cluster.plugins.module_utils._images import (
    ArchiveError,
    all_images,
    archive_images,
    archives_to_load,
    duplicate_names,
    kept_path,
)

DEFAULT_DEST = "/var/cache/mhnet/images"


def load(client, path):
    """Stream the archive at path into the engine; the engine's error events become EngineError."""
    try:
        with open(path, "rb") as archive:
            for event in client.load_image(archive) or []:
                if isinstance(event, dict) and event.get("error"):
                    raise EngineError("loading %s failed: %s" % (path, event["error"]))
    except OSError as exc:
        raise ArchiveError("cannot read %s (%s): run the task with become, or fix the file's permissions" % (path, exc)) from exc


class ImageArchives:
    """Loads the archives whose images the engine lacks; every write is skipped in check mode."""

    def __init__(self, module, client):
        self.module = module
        self.client = client
        self.params = module.params
        # copies the action plugin made, which it removes: with keep_archives they move to dest instead
        self.keep = self.params["keep_archives"] and not self.params["remote_src"]

    def manifests(self):
        if self.params["remote_src"]:
            # on this host already: read here, loaded from where they are
            return [dict(archive=path, images=archive_images(path), path=path) for path in dict.fromkeys(self.params["archives"])]
        if self.params["manifests"] is None:
            raise ArchiveError(
                "archives on the controller are read and copied by the image_archive action plugin: run the module as a task "
                "(mhnet.cluster.image_archive), or set remote_src: true for archives that are on the host"
            )
        return self.params["manifests"]

    def check_names(self, manifests):
        duplicates = duplicate_names([manifest["archive"] for manifest in manifests])
        if self.keep and duplicates:
            raise ArchiveError(
                "with keep_archives, each archive is kept in %s under its file name, and %s: rename the archives"
                % (self.params["dest"], "; ".join("%s is the name of %s" % (name, ", ".join(paths)) for name, paths in sorted(duplicates.items())))
            )

    def load(self, manifest):
        path = manifest["path"]
        load(self.client, path)
        wrong = [tag for tag, wanted in sorted(manifest["images"].items()) if image_id(self.client, tag) != wanted]
        if wrong:
            raise EngineError("after loading %s the engine still lacks %s" % (manifest["archive"], ", ".join(wrong)))

    def keep_copy(self, path, target):
        try:
            os.makedirs(os.path.dirname(target), mode=0o700, exist_ok=True)
        except OSError as exc:
            raise ArchiveError("cannot make %s to keep the archives in (%s): choose another dest, or run the task with become"
                               % (os.path.dirname(target), exc)) from exc
        self.module.atomic_move(path, target)
        os.chmod(target, 0o600)

    def earlier_copies(self, manifests):
        """Copies of these archives that an earlier run kept in dest (same tags and IDs), to remove without keep_archives."""
        found = []
        for manifest in manifests:
            path = kept_path(self.params["dest"], manifest["archive"])
            if os.path.isfile(path):
                try:
                    same = archive_images(path) == manifest["images"]
                except ArchiveError:
                    same = False  # not a copy of this archive: not ours to remove
                if same:
                    found.append(path)
        return found

    def remove(self, paths):
        for path in paths:
            try:
                os.remove(path)
            except OSError as exc:
                raise ArchiveError("cannot remove %s, a copy an earlier run kept (%s): run the task with become, or remove it"
                                   % (path, exc)) from exc

    def run(self):
        manifests = self.manifests()
        self.check_names(manifests)
        wanted = all_images(manifests)
        present = dict((tag, image_id(self.client, tag)) for tag in wanted)
        removed = [] if self.params["keep_archives"] or self.params["remote_src"] else self.earlier_copies(manifests)
        if not self.module.check_mode:
            self.remove(removed)
        loaded, archives, kept = [], [], []
        for manifest, missing in archives_to_load(manifests, present):
            loaded.extend(missing)
            archives.append(manifest["archive"])
            target = kept_path(self.params["dest"], manifest["archive"]) if self.keep else None
            if target:
                kept.append(target)
            if manifest.get("path") and not self.module.check_mode:
                self.load(manifest)
                if target:
                    self.keep_copy(manifest["path"], target)
        result = dict(changed=bool(archives or removed), images=wanted, loaded=sorted(set(loaded)), archives=archives, kept=kept,
                      removed=removed)
        if self.module._diff:
            before = dict((tag, found) for tag, found in present.items() if found)
            result["diff"] = dict(before=dict(images=before), after=dict(images=wanted))
        return result


def main():
    argument_spec = copy.deepcopy(DOCKER_COMMON_ARGS)
    argument_spec.update(
        archives=dict(type="list", elements="path", required=True),
        remote_src=dict(type="bool", default=False),
        keep_archives=dict(type="bool", default=False),
        dest=dict(type="path", default=DEFAULT_DEST),
        manifests=dict(
            type="list",
            elements="dict",
            options=dict(archive=dict(type="str", required=True), images=dict(type="dict", required=True), path=dict(type="path")),
        ),
    )
    module = AnsibleModule(argument_spec=argument_spec, required_together=DOCKER_REQUIRED_TOGETHER, supports_check_mode=True)
    try:
        module.exit_json(**ImageArchives(module, connect(module.params)).run())
    except MhnetError as exc:
        module.fail_json(msg=str(exc), exception=traceback.format_exc())


if __name__ == "__main__":
    main()
