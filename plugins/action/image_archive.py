# -*- coding: utf-8 -*-
# Copyright (c) mhnet.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Controller side of mhnet.cluster.image_archive: read the archives here, copy to a host only what its engine lacks.

One task, at most two module calls per host: the first compares the archives' image IDs with the engine (and
removes copies earlier runs kept, unless keep_archives); it is the whole task when the engine has every image, and
in check mode. Only then are the archives the engine lacks copied into the connection's temporary directory, loaded
by the second call, and removed with that directory (or moved to dest by the module, with keep_archives).
"""

from __future__ import annotations

import os

from ansible.errors import AnsibleError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase

from ansible_collections.mhnet.cluster.plugins.module_utils._errors import MhnetError
from ansible_collections.mhnet.cluster.plugins.module_utils._images import ArchiveError, archive_images

MODULE = "mhnet.cluster.image_archive"

# The options read here. Everything else (the engine's connection options) goes to the module as the task gave it,
# so that defaults and DOCKER_* fallbacks are the host's, and the module's argument spec checks it. dest is a path
# on the host: the module expands it there.
ARGUMENT_SPEC = dict(
    archives=dict(type="list", elements="str", required=True),
    remote_src=dict(type="bool", default=False),
    keep_archives=dict(type="bool", default=False),
    dest=dict(type="str"),
)


class ActionModule(ActionBase):
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        passed = dict(self._task.args)
        own = dict((key, passed.pop(key)) for key in list(passed) if key in ARGUMENT_SPEC)
        passed.pop("manifests", None)  # the module's input from this side, never the user's
        validated = ArgumentSpecValidator(ARGUMENT_SPEC).validate(own)
        if validated.error_messages:
            result.update(failed=True, msg="mhnet.cluster.image_archive: %s" % "; ".join(validated.error_messages))
            return result
        params = validated.validated_parameters
        module_args = dict(passed, archives=list(dict.fromkeys(params["archives"])), remote_src=params["remote_src"],
                           keep_archives=params["keep_archives"])
        if params["dest"] is not None:
            module_args["dest"] = params["dest"]

        if params["remote_src"]:
            # the archives are on the host: the module reads and loads them there in one call
            result.update(self._execute_module(MODULE, module_args=module_args, task_vars=task_vars))
            return result
        if not module_args["archives"]:
            result.update(changed=False, images={}, loaded=[], archives=[], kept=[], removed=[])
            return result
        try:
            sources = self._sources(module_args["archives"])
            manifests = [dict(archive=archive, images=archive_images(sources[archive])) for archive in module_args["archives"]]
        except MhnetError as exc:
            result.update(failed=True, msg=str(exc))
            return result

        compared = self._execute_module(MODULE, module_args=dict(module_args, manifests=manifests), task_vars=task_vars)
        if compared.get("failed") or not compared.get("archives") or self._task.check_mode:
            result.update(compared)
            return result

        needed = [dict(manifest) for manifest in manifests if manifest["archive"] in compared["archives"]]
        loaded = self._load_copies(needed, sources, module_args, task_vars)
        result.update(loaded)
        if not loaded.get("failed"):
            # every archive's images, the engine before the copies, and earlier copies removed: from the comparison
            result.update(changed=loaded["changed"] or bool(compared["removed"]), images=compared["images"], removed=compared["removed"])
            if "diff" in compared:
                result["diff"] = compared["diff"]
        return result

    def _sources(self, archives):
        """{archive: its file on the controller}, looked up as the copy module looks up src; every missing one at once."""
        sources, missing = {}, []
        for archive in archives:
            try:
                sources[archive] = self._find_needle("files", os.path.expanduser(archive))
            except AnsibleError:
                missing.append(archive)
        if missing:
            raise ArchiveError(
                "no archive %s on the controller: give paths of `docker save` files on the controller "
                "(relative ones are looked up in the role's or the playbook's files/), or set remote_src: true "
                "for archives that are on the host" % ", ".join(missing)
            )
        return sources

    def _load_copies(self, needed, sources, module_args, task_vars):
        """Copy the archives the engine lacks into the temporary directory, load them, and remove the directory."""
        tmpdir = self._connection._shell.tmpdir or self._make_tmp_path()
        try:
            for index, manifest in enumerate(needed):
                name = "%d-%s" % (index, os.path.basename(manifest["archive"]))
                manifest["path"] = self._connection._shell.join_path(tmpdir, name)
                self._transfer_file(sources[manifest["archive"]], manifest["path"])
            if self._is_become_unprivileged():
                # the copies belong to the connection's user: let the become user read them
                self._fixup_perms2([tmpdir] + [manifest["path"] for manifest in needed], execute=False)
            return self._execute_module(MODULE, module_args=dict(module_args, manifests=needed), task_vars=task_vars)
        finally:
            # with keep_archives the module has moved the loaded copies out already
            self._remove_tmp_path(tmpdir)
