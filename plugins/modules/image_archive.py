#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) mhnet.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: image_archive
short_description: Load a C(docker save) archive into an engine unless the engine already has its images
version_added: 0.1.0
description:
  - Reads the archive's manifest and compares every tag in it with the engine's image of that tag, by image ID.
  - Loads the archive only when a tag is missing or points to another image, then checks that every tag
    now has the archive's image ID.
  - For air-gapped sites and the lab, where no registry can be reached.
extends_documentation_fragment:
  - mhnet.cluster.attributes
  - mhnet.cluster.attributes.full_support
  - mhnet.cluster.docker
options:
  path:
    description: Path of the archive on the target host (C(docker save) output, legacy or OCI layout).
    type: path
    required: true
author:
  - mhnet.cluster maintainers (@mhnet-cluster)
"""

EXAMPLES = r"""
- name: Copy the nginx image archive to the host
  ansible.builtin.copy:
    src: archives/nginx.tar
    dest: /var/cache/mhnet/images/nginx.tar
    mode: "0600"

- name: Load it into the host's engine unless the engine has the same image
  mhnet.cluster.image_archive:
    path: /var/cache/mhnet/images/nginx.tar
"""

RETURN = r"""
images:
  description: Every tag in the archive with the image ID it carries (empty in check mode when the archive is not on the host yet).
  returned: always
  type: dict
  sample: {"mhnet-lab/nginx:bookworm-5555237e6708": "sha256:0b8e..."}
loaded:
  description: The tags that were (or in check mode would be) loaded because the engine lacked them.
  returned: always
  type: list
  elements: str
  sample: ["mhnet-lab/nginx:bookworm-5555237e6708"]
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
from ansible_collections.mhnet.cluster.plugins.module_utils._images import ArchiveError, archive_images


def load(client, path):
    """Stream the archive at path into the engine; the engine's error events become EngineError."""
    try:
        with open(path, "rb") as archive:
            for event in client.load_image(archive) or []:
                if isinstance(event, dict) and event.get("error"):
                    raise EngineError("loading %s failed: %s" % (path, event["error"]))
    except OSError as exc:
        raise ArchiveError("cannot read %s (%s): run the task with become, or fix the file's permissions" % (path, exc)) from exc


def load_archive(module, client):
    """Load the archive unless the engine has each of its tags on the same image; every write is skipped in check mode."""
    path = module.params["path"]
    if module.check_mode and not os.path.exists(path):
        # In check mode the copy before this task did not happen: the load would.
        return dict(changed=True, images={}, loaded=[])
    wanted = archive_images(path)
    present = dict((tag, image_id(client, tag)) for tag in wanted)
    missing = sorted(tag for tag, wanted_id in wanted.items() if present[tag] != wanted_id)
    result = dict(changed=bool(missing), images=wanted, loaded=missing)
    if module._diff:
        result["diff"] = dict(before=dict(images=present), after=dict(images=wanted))
    if missing and not module.check_mode:
        load(client, path)
        wrong = [tag for tag in wanted if image_id(client, tag) != wanted[tag]]
        if wrong:
            raise EngineError("after loading %s the engine still lacks %s" % (path, ", ".join(wrong)))
    return result


def main():
    argument_spec = copy.deepcopy(DOCKER_COMMON_ARGS)
    argument_spec.update(path=dict(type="path", required=True))
    module = AnsibleModule(argument_spec=argument_spec, required_together=DOCKER_REQUIRED_TOGETHER, supports_check_mode=True)
    try:
        module.exit_json(**load_archive(module, connect(module.params)))
    except MhnetError as exc:
        module.fail_json(msg=str(exc), exception=traceback.format_exc())


if __name__ == "__main__":
    main()
