# -*- coding: utf-8 -*-
# Copyright (c) mhnet.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: lab_image
short_description: Build a lab image from Debian packages, tagged by a digest of its recipe
version_added: 0.1.0
description:
  - Builds one image on the local Docker engine, either a Debian root file system made with C(debootstrap) and
    imported, or a C(docker build) of a context directory. No registry is needed.
  - The tag ends with a digest of the recipe (parameters and every file of the context), so an unchanged recipe
    finds its image and builds nothing, and a changed recipe never reuses a stale image.
  - Optionally saves the image to an archive (C(docker save)) that M(mhnet.cluster.image_archive) can load into
    other engines.
  - Runs the C(docker) command line on the target, normally the controller (C(localhost)); C(debootstrap) needs root.
notes:
  - Part of the project's lab (C(lab/roles/lab/library/)), not of the built collection.
attributes:
  check_mode:
    description: Can run in C(check_mode) and return a changed status prediction without modifying the target.
    support: full
  diff_mode:
    description: Returns details on what has changed (or would change in C(check_mode)) when in diff mode.
    support: full
  idempotent:
    description: When run twice in a row outside check mode, with the same arguments, the second run reports no change.
    support: full
options:
  name:
    description: Repository of the image, for example C(mhnet-lab/node).
    type: str
    required: true
  tag:
    description: Tag prefix; the digest of the recipe is appended, as C(TAG-DIGEST).
    type: str
    required: true
  debootstrap:
    description:
      - Build a Debian root file system with C(debootstrap --variant=minbase) and import it.
      - Mutually exclusive with O(context).
    type: dict
    suboptions:
      suite:
        description: Debian suite, for example C(bookworm).
        type: str
        required: true
      mirror:
        description: Debian mirror.
        type: str
        default: http://deb.debian.org/debian
      include:
        description: Extra packages to install.
        type: list
        elements: str
        default: []
  context:
    description:
      - Build context directory holding a C(Dockerfile); built with C(docker build).
      - Mutually exclusive with O(debootstrap).
    type: path
  build_args:
    description: Build arguments for a O(context) build; part of the recipe digest.
    type: dict
    default: {}
  files:
    description:
      - Extra files added to the build context, as C(NAME_IN_CONTEXT) mapped to a source path. Part of the recipe digest.
      - A source that does not exist is left out, so optional fallbacks can be offered.
    type: dict
    default: {}
  archive_dir:
    description: When set, the image is also saved to C(ARCHIVE_DIR/REPOSITORY-TAG.tar) (slashes become dashes).
    type: path
  work_dir:
    description: Where temporary root file systems and contexts are made.
    type: path
    default: /var/tmp
author:
  - mhnet.cluster maintainers (@mhnet-cluster)
"""

EXAMPLES = r"""
- name: Build a Debian bookworm base image
  lab_image:
    name: mhnet-lab/debian
    tag: bookworm
    debootstrap:
      suite: bookworm
  register: base

- name: Build the nginx workload image on it, and save an archive for air-gapped engines
  lab_image:
    name: mhnet-lab/nginx
    tag: bookworm
    context: "{{ role_path }}/files/images/nginx"
    build_args:
      BASE: "{{ base.image }}"
    archive_dir: ~/.cache/mhnet-lab/archives
"""

RETURN = r"""
image:
  description: The image reference, C(NAME:TAG-DIGEST).
  returned: always
  type: str
  sample: mhnet-lab/nginx:bookworm-3f2a9c01d4e5
id:
  description: The image ID; empty in check mode when the image would be built.
  returned: always
  type: str
  sample: sha256:0b8e...
archive:
  description: Path of the saved archive, when O(archive_dir) is set.
  returned: when O(archive_dir) is set
  type: str
  sample: /root/.cache/mhnet-lab/archives/mhnet-lab-nginx-bookworm-3f2a9c01d4e5.tar
"""

import glob
import hashlib
import json
import os
import shutil
import tempfile
import traceback

from ansible.module_utils.basic import AnsibleModule


# Part of every recipe digest: bump it when the way images are built changes, so old images are not reused.
BUILD_LOGIC_VERSION = 2


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


class LabImageBuilder:
    """Find or build one image; every write is guarded by check mode."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.docker = module.get_bin_path("docker", required=True)

    def _run(self, args, cwd=None):
        rc, out, err = self.module.run_command(args, cwd=cwd)
        if rc != 0:
            self.module.fail_json(msg="`%s` failed (exit %d): %s" % (" ".join(args), rc, (err or out).strip()[-2000:]))
        return out.strip()

    def _image_id(self, ref):
        rc, out, dummy = self.module.run_command([self.docker, "image", "inspect", "--format", "{{.Id}}", ref])
        return out.strip() if rc == 0 else None

    def _files(self):
        return dict((dest, src) for dest, src in self.params["files"].items() if os.path.exists(src))

    def reference(self):
        p = self.params
        if p["debootstrap"]:
            recipe = {"debootstrap": p["debootstrap"], "logic": BUILD_LOGIC_VERSION}
            digest = recipe_digest(recipe)
        else:
            files = self._files()
            recipe = {"build_args": p["build_args"], "files": sorted(files), "logic": BUILD_LOGIC_VERSION}
            digest = recipe_digest(recipe, p["context"], files)
        return "%s:%s-%s" % (p["name"], p["tag"], digest[:12])

    def run(self):
        ref = self.reference()
        image_id = self._image_id(ref)
        archive = None
        if self.params["archive_dir"]:
            archive = os.path.join(self.params["archive_dir"], ref.replace("/", "-").replace(":", "-") + ".tar")
        build = image_id is None
        save = archive is not None and (build or not os.path.exists(archive))
        result = dict(changed=build or save, image=ref, id=image_id or "")
        if archive:
            result["archive"] = archive
        if self.module._diff:
            result["diff"] = dict(
                before=dict(image=ref if image_id else None, archive=archive if archive and not save else None),
                after=dict(image=ref, archive=archive),
            )
        if self.module.check_mode:
            return result
        if build:
            if self.params["debootstrap"]:
                self._debootstrap(ref)
            else:
                self._docker_build(ref)
            result["id"] = self._image_id(ref) or ""
        if save:
            os.makedirs(self.params["archive_dir"], exist_ok=True)
            partial = archive + ".partial"
            self._run([self.docker, "save", "-o", partial, ref])
            os.replace(partial, archive)
        return result

    def _debootstrap(self, ref):
        spec = self.params["debootstrap"]
        debootstrap = self.module.get_bin_path("debootstrap", required=True)
        if os.geteuid() != 0:
            self.module.fail_json(msg="building %s with debootstrap needs root: run the lab as root" % ref)
        work = tempfile.mkdtemp(prefix="mhnet-rootfs-", dir=self.params["work_dir"])
        try:
            rootfs = os.path.join(work, "rootfs")
            args = [debootstrap, "--variant=minbase"]
            if spec["include"]:
                args.append("--include=" + ",".join(spec["include"]))
            self._run(args + [spec["suite"], rootfs, spec["mirror"]])
            # Package caches are a third of a minbase system, and every image built on it fetches its own.
            for pattern in ("var/cache/apt/*.bin", "var/cache/apt/archives/*.deb", "var/lib/apt/lists/*_*"):
                for path in glob.glob(os.path.join(rootfs, pattern)):
                    os.remove(path)
            tarball = os.path.join(work, "rootfs.tar")
            self._run(["tar", "-C", rootfs, "--numeric-owner", "-cf", tarball, "."])
            self._run([self.docker, "import", tarball, ref])
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _docker_build(self, ref):
        work = tempfile.mkdtemp(prefix="mhnet-context-", dir=self.params["work_dir"])
        try:
            context = os.path.join(work, "context")
            shutil.copytree(self.params["context"], context)
            for dest, src in self._files().items():
                shutil.copy2(src, os.path.join(context, dest))
            args = [self.docker, "build", "--tag", ref]
            for key, value in sorted(self.params["build_args"].items()):
                args += ["--build-arg", "%s=%s" % (key, value)]
            self._run(args + [context])
        finally:
            shutil.rmtree(work, ignore_errors=True)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            tag=dict(type="str", required=True),
            debootstrap=dict(
                type="dict",
                options=dict(
                    suite=dict(type="str", required=True),
                    mirror=dict(type="str", default="http://deb.debian.org/debian"),
                    include=dict(type="list", elements="str", default=[]),
                ),
            ),
            context=dict(type="path"),
            build_args=dict(type="dict", default={}),
            files=dict(type="dict", default={}),
            archive_dir=dict(type="path"),
            work_dir=dict(type="path", default="/var/tmp"),
        ),
        mutually_exclusive=[("debootstrap", "context")],
        required_one_of=[("debootstrap", "context")],
        supports_check_mode=True,
    )
    try:
        module.exit_json(**LabImageBuilder(module).run())
    except OSError as exc:
        module.fail_json(msg="building %s failed: %s" % (module.params["name"], exc), exception=traceback.format_exc())


if __name__ == "__main__":
    main()
