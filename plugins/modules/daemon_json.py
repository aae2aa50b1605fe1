#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) mhnet.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: daemon_json
short_description: Merge settings into Docker's daemon.json, keeping every other key, and restart the engine safely
version_added: 0.1.0
description:
  - Sets the given top-level keys of the engine's C(daemon.json) and removes the listed ones; every other key the
    user has stays as it is. The file keeps its owner and permissions (a new file is C(0644)).
  - Refuses a file that is not a JSON object instead of overwriting it.
  - Before it writes, checks the merged result as far as the engine allows, and refuses a result the engine would
    not start with, changing nothing. A key that the engine's systemd unit also gives C(dockerd) as a flag is refused
    (for example C(hosts) while C(ExecStart) has C(-H fd://)); the unit is read with C(systemctl show), its
    environment files expanded. Where C(dockerd --validate) exists (Docker 23.0 and later), the whole merged file is
    validated with the unit's flags; older engines have no such check, and it is skipped.
  - Keeps a timestamped backup of the previous file when it changes, with the original's owner and permissions, and
    removes the oldest so that at most O(backups) remain.
  - With O(restart=true), restarts the engine when the file changed (never when it did not, never in check mode),
    with C(systemctl restart) where systemd runs, else C(service SERVICE restart), then waits until the engine
    answers on its socket O(docker_host). A unit left failed, or one whose start systemd refuses because it hit its
    start limit (Debian's C(docker.service) allows 3 starts in 60 s), is cleared with C(systemctl reset-failed), with
    the units that trigger it (C(docker.socket), which systemd's retries take down too and C(dockerd -H fd://)
    needs), and the module says so in a warning.
  - If the engine does not come back within O(restart_timeout), the module puts the previous file back (or removes
    the new one), clears the start limit that the failed starts reached, restarts the engine again, waits, and fails
    saying what the engine logged (C(journalctl -u SERVICE)), that the previous file was restored, and whether the
    engine runs again.
  - "Restarting several engines a batch at a time: give each batch its own task (or play, with C(serial)) and set
    C(any_errors_fatal: true), so that no engine restarts after one failed. C(throttle) is not enough: Ansible starts
    the task on the next host as soon as one finishes, even when it failed, and applies C(any_errors_fatal) only once
    the task ran on every host. The C(mhnet.cluster.engine) role runs one task per batch."
extends_documentation_fragment:
  - mhnet.cluster.attributes
  - mhnet.cluster.attributes.full_support
attributes:
  check_mode:
    details:
      - Reads the file and the unit and validates the merged result; writes nothing, keeps no backup and restarts
        nothing.
options:
  path:
    description: The engine's configuration file.
    type: path
    default: /etc/docker/daemon.json
  settings:
    description: Top-level keys to set, with their values.
    type: dict
    default: {}
  remove:
    description: Top-level keys to remove when present.
    type: list
    elements: str
    default: []
  backup:
    description: Keep a copy of the previous file when it changes.
    type: bool
    default: true
  backups:
    description:
      - How many backups of the file to keep, the newest, counting the one just made; older ones (named as this
        module and Ansible's C(backup) name them, C(PATH.PID.YYYY-MM-DD@HH:MM:SS~)) are removed when a new one is made.
      - At least 1. O(backup=false) keeps none and removes none.
    type: int
    default: 3
  restart:
    description:
      - Restart the engine when the file changed, wait until it answers, and put the previous file back if it does
        not come back.
    type: bool
    default: false
  docker_host:
    description:
      - The engine's Unix socket on this host, asked (C(GET /_ping)) whether the engine answers after a restart.
        A path or a C(unix://) URL.
    type: str
    default: unix:///var/run/docker.sock
  restart_timeout:
    description: Seconds one restart may take, until the engine answers; after that, the previous file is restored.
    type: int
    default: 60
  service:
    description: The engine's service (systemd unit or init script).
    type: str
    default: docker
author:
  - mhnet.cluster maintainers (@mhnet-cluster)
"""

EXAMPLES = r"""
- name: Point the engine at the key-value store and restart it when the file changed
  mhnet.cluster.daemon_json:
    settings:
      cluster-store: consul://192.168.151.2:8500
      cluster-advertise: eth1:2376
    restart: true

- name: Only merge (another task restarts the engine later)
  mhnet.cluster.daemon_json:
    settings:
      log-level: warn
    remove: [debug]
"""

RETURN = r"""
config:
  description: The configuration after the change (or as it would be, in check mode).
  returned: always
  type: dict
  sample:
    cluster-advertise: eth1:2376
    cluster-store: consul://192.168.151.2:8500
    log-level: warn
backup_file:
  description: Where the previous file was copied.
  returned: when the file changed, O(backup) is true and there was a previous file
  type: str
  sample: /etc/docker/daemon.json.12345.2026-11-28@09:20:01~
restarted:
  description: The engine was restarted with the new file and answers again. Never true in check mode.
  returned: always
  type: bool
  sample: true
restored:
  description:
    - The engine did not come back with the new file, so the previous one was put back (the module then fails).
  returned: always
  type: bool
  sample: false
engine_log:
  description:
    - The engine's journal from the restart until it failed (the last 30 lines), one line each, the identifier
      (C(dockerd), C(systemd)) first.
  returned: when the engine did not come back and systemd's journal has its lines
  type: list
  elements: str
  sample:
    - "dockerd: unable to configure the Docker daemon with file /etc/docker/daemon.json: the following directives are
      specified both as a flag and in the configuration file: hosts: (from flag: [fd://], from file: [tcp://0.0.0.0:2375])"
"""

import os
import shutil
import tempfile
import time
import traceback

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mhnet.cluster.plugins.module_utils._daemon_json import (
    DaemonJsonError,
    DaemonJsonRefused,
    backup_name,
    flag_conflicts,
    flag_value,
    merged,
    read_daemon_json,
    render,
    stale_backups,
    validate_answer,
    without_flag,
)
from ansible_collections.mhnet.cluster.plugins.module_utils._engine_service import (
    EngineDown,
    EngineService,
    engine_complaints,
)
from ansible_collections.mhnet.cluster.plugins.module_utils._errors import MhnetError


class RestartError(MhnetError):
    """The engine did not come back after the file changed; `result` (restored, engine_log, ...) goes into fail_json."""

    def __init__(self, msg, **result):
        super().__init__(msg)
        self.result = result


class DaemonJson:
    """Merge, validate, back up, write and, when asked, restart the engine with the previous file as the way back."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.path = module.params["path"]
        self.service = EngineService(module, module.params["service"], module.params["docker_host"])
        if module.params["backups"] < 1:
            raise DaemonJsonError("backups is %d: keep at least 1, or set backup: false to keep none" % module.params["backups"])

    # -- before anything changes ---------------------------------------------------------------------------------

    def validate(self, wanted, unit):
        """Refuse (DaemonJsonRefused) what the engine would not start with; nothing has changed yet."""
        argv = self.service.dockerd_argv(unit)
        conflicts = flag_conflicts(wanted, argv)
        if conflicts:
            settings = self.params["settings"]
            raise DaemonJsonRefused(
                "%s would set %s, which %s also gives dockerd as %s in its ExecStart: dockerd refuses to start when an "
                "option is given both as a flag and in daemon.json. Take %s out of the task's settings%s, or drop the "
                "flag from the unit (systemctl edit %s); nothing was changed" % (
                    self.path,
                    " and ".join("'%s' (%s)" % (key, "from the task's settings" if key in settings else "already in the file")
                                 for key, dummy in conflicts),
                    self.service.unit_name, " and ".join(flag for dummy, flag in conflicts),
                    "it" if len(conflicts) == 1 else "them",
                    "" if all(key in settings for key, dummy in conflicts) else " (or list a key the file already has in remove)",
                    self.service.name))
        if self.params["restart"] and argv:
            config_file = flag_value(argv, "config-file")
            if config_file and os.path.realpath(config_file) != os.path.realpath(self.path):
                raise DaemonJsonRefused("%s starts dockerd with --config-file %s, so the engine never reads %s: set path "
                                        "to %s; nothing was changed" % (self.service.unit_name, config_file, self.path, config_file))
        self.dockerd_validate(wanted, argv)

    def dockerd_validate(self, wanted, argv):
        """dockerd --validate on the merged file, with the unit's flags (Docker 23.0 and later; skipped before)."""
        dockerd = self.module.get_bin_path("dockerd", opt_dirs=[os.path.dirname(argv[0])] if argv else ["/usr/sbin", "/usr/bin"])
        if not dockerd:
            return
        try:
            fd, staged = tempfile.mkstemp(prefix="mhnet-daemon-json-", suffix=".json")
            with os.fdopen(fd, "w") as handle:
                handle.write(render(wanted))
        except OSError as exc:
            raise DaemonJsonError("cannot write a copy of the merged %s to validate (%s): fix the temporary directory's "
                                  "permissions or space" % (self.path, exc)) from exc
        try:
            rc, out, err = self.service.run([dockerd] + without_flag(argv[1:], "config-file") + ["--validate", "--config-file", staged])
        finally:
            os.unlink(staged)
        accepted, why = validate_answer(rc, out, err)
        if accepted is False:
            raise DaemonJsonRefused("dockerd --validate refuses the merged %s: %s: fix the task's settings (or the "
                                    "file's other keys); nothing was changed" % (self.path, why.replace(staged, self.path)))

    # -- changes -------------------------------------------------------------------------------------------------

    def backup(self):
        """Copy the file (owner, permissions and times kept), then remove backups beyond the newest `backups`."""
        destination = backup_name(self.path, os.getpid(), time.localtime())
        directory, basename = os.path.split(self.path)
        try:
            self.module.preserved_copy(self.path, destination)
            entries = [(entry.name, entry.stat().st_mtime) for entry in os.scandir(directory)]
            for name in stale_backups(basename, entries, self.params["backups"]):
                os.unlink(os.path.join(directory, name))
        except (OSError, shutil.Error) as exc:
            raise DaemonJsonError("cannot back up %s (%s): run the task with become, or fix the directory's "
                                  "permissions" % (self.path, exc)) from exc
        return destination

    def write(self, text):
        """Replace the file with text atomically (its owner and mode kept; 0644 when new), or remove it for None."""
        directory = os.path.dirname(self.path)
        try:
            if text is None:
                os.unlink(self.path)
                return
            if not os.path.isdir(directory):
                os.makedirs(directory, 0o755)
            fd, staged = tempfile.mkstemp(prefix=".daemon.json.", dir=directory)
            with os.fdopen(fd, "w") as handle:
                handle.write(text)
            os.chmod(staged, 0o644)
        except OSError as exc:
            raise DaemonJsonError("cannot write %s (%s): run the task with become, or fix the directory's permissions"
                                  % (self.path, exc)) from exc
        self.module.atomic_move(staged, self.path)

    def restart_or_restore(self, previous_text, result):
        """Restart; if the engine does not come back, restore the previous file, restart again and fail saying so."""
        timeout = self.params["restart_timeout"]
        started = time.time()
        try:
            self.service.restart(timeout)
            result["restarted"] = True
            return
        except EngineDown as exc:
            failure = str(exc)
        failed = time.time()
        self.write(previous_text)
        result["restored"] = True
        notes = []
        if self.service.systemctl:
            # The failed start, and systemd's own retries of it (Restart=on-failure), count against the start limit.
            units = self.service.reset_failed(self.service.show())
            notes.append("the failed starts were cleared with systemctl reset-failed %s" % " ".join(units))
        try:
            self.service.restart(timeout)
            outcome = "and Docker runs again with it"
        except EngineDown as exc:
            outcome = "but Docker does not run with it either (%s): see journalctl -u %s" % (exc, self.service.unit_name)
        # Read once the engine restarted again: journald has every line dockerd wrote before it stopped by then.
        entries = self.service.journal(started, failed)
        complaints = engine_complaints(entries)
        said = ("dockerd said: %s. " % " | ".join(complaints) if complaints else
                "The engine's journal since the restart is in engine_log. " if entries else "")
        restored = ("The previous %s was restored" % self.path if previous_text is not None else
                    "%s, which did not exist before, was removed" % self.path)
        raise RestartError(
            "Docker did not come back after %s changed (%s). %s%s %s%s. Fix the settings the engine refused and run "
            "again" % (self.path, failure, said, restored, outcome, "".join(" (%s)" % note for note in notes)),
            changed=True, restarted=False, restored=True, engine_log=["%s: %s" % entry for entry in entries],
            **dict((key, result[key]) for key in ("backup_file",) if key in result))

    def converge(self):
        """Merge the task's settings into the file; every write and restart is skipped in check mode."""
        previous_text, config = read_daemon_json(self.path)
        wanted = merged(config, self.params["settings"], self.params["remove"])
        changed = wanted != config
        result = dict(changed=changed, config=wanted, restarted=False, restored=False)
        if self.module._diff:
            result["diff"] = dict(before=render(config) if previous_text is not None else "", after=render(wanted),
                                  before_header=self.path, after_header=self.path)
        if not changed:
            return result
        unit = self.service.show()
        self.validate(wanted, unit)
        if self.params["restart"]:
            self.service.check_controllable(unit, instead="restart it yourself and set restart: false")
        if self.module.check_mode:
            return result
        if previous_text is not None and self.params["backup"]:
            result["backup_file"] = self.backup()
        self.write(render(wanted))
        if self.params["restart"]:
            self.restart_or_restore(previous_text, result)
        return result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", default="/etc/docker/daemon.json"),
            settings=dict(type="dict", default={}),
            remove=dict(type="list", elements="str", default=[]),
            backup=dict(type="bool", default=True),
            backups=dict(type="int", default=3),
            restart=dict(type="bool", default=False),
            restart_timeout=dict(type="int", default=60),
            service=dict(type="str", default="docker"),
            docker_host=dict(type="str", default="unix:///var/run/docker.sock"),
        ),
        supports_check_mode=True,
    )
    try:
        module.exit_json(**DaemonJson(module).converge())
    except MhnetError as exc:
        module.fail_json(msg=str(exc), exception=traceback.format_exc(), **getattr(exc, "result", {}))


if __name__ == "__main__":
    main()
