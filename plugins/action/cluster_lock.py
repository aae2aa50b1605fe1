# -*- coding: utf-8 -*-
# Copyright (c) mhnet.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Controller side of mhnet.cluster.cluster_lock: one run at a time on a host, for the whole run.

Each play host has a lock file on the controller, locked with flock(2). A small process started here keeps the
locked descriptors open until the ansible-playbook process (the parent of this task's worker) has exited; the kernel
frees a flock lock with its last descriptor, so a run that ends, fails, is interrupted or killed releases its hosts,
and no lock file ever goes stale.
"""

from __future__ import annotations

import datetime
import errno
import fcntl
import getpass
import hashlib
import inspect
import json
import os
import re
import socket
import subprocess
import sys
import time

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

display = Display()

ARGUMENT_SPEC = dict(
    wait=dict(type="float", default=0),
    lock_dir=dict(type="path"),
)

LOCK_DIR = "~/.ansible/mhnet_locks"
# How long a lock may outlive its run: its holder checks twice a second whether the run has exited.
HOLDER_GRACE = 5.0
RETRY_INTERVAL = 1.0


def lock_key(name, hostvars):
    """What identifies a host across inventories: the address Ansible connects to, else its inventory name."""
    return str(hostvars.get("ansible_host") or name)


def lock_path(lock_dir, key):
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", key)[:64]
    return os.path.join(lock_dir, "%s-%s.lock" % (safe, hashlib.sha256(key.encode()).hexdigest()[:8]))


def current_run():
    """The PID of the run: the worker running the task is a fork of the ansible-playbook process."""
    return os.getppid()


def process_alive(pid):
    """Whether the process runs (a zombie has ended: its parent has yet to collect it)."""
    try:
        with open("/proc/%d/stat" % pid) as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


# The holder: keeps the descriptors it inherited until the run whose PID it is given has ended.
HOLDER = "import os\n" + inspect.getsource(process_alive) + """
import sys, time
while process_alive(int(sys.argv[1])):
    time.sleep(0.5)
"""


def run_command(pid):
    """The command line of the run holding a lock, as the other run's message shows it."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode(errors="replace").strip()[:300]
    except OSError:
        return ""


def holder_record(run_pid):
    return dict(pid=run_pid, user=getpass.getuser(), controller=socket.gethostname(), command=run_command(run_pid),
                since=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))


def read_record(descriptor):
    try:
        return json.loads(os.pread(descriptor, 4096, 0).decode() or "{}")
    except (OSError, ValueError):
        return {}


def try_lock(paths, run_pid):
    """Locks every path or none. Returns (descriptors locked now, {path: holder record} of the paths another run
    holds). A path this run already holds (an earlier play of the same run) is neither."""
    locked, busy = [], {}
    for path in sorted(paths):
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.EACCES):
                os.close(descriptor)
                raise
            record = read_record(descriptor)
            os.close(descriptor)
            if record.get("pid") != run_pid:
                busy[path] = record
            continue
        locked.append(descriptor)
    if busy:
        # All or none: two runs that each hold part of the hosts would otherwise wait for each other.
        for descriptor in locked:
            os.close(descriptor)
        return [], busy
    record = json.dumps(holder_record(run_pid)).encode()
    for descriptor in locked:
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, record, 0)
    return locked, {}


def hold(descriptors, run_pid):
    """Hands the locked descriptors to a holder that outlives this worker and exits with the run."""
    subprocess.Popen([sys.executable, "-c", HOLDER, str(run_pid)], pass_fds=descriptors, start_new_session=True,
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for descriptor in descriptors:
        os.close(descriptor)


def describe_holders(busy, hosts_by_path):
    """One line per run holding hosts: which hosts, its PID, user, controller, since when and its command."""
    runs = {}
    for path, record in sorted(busy.items()):
        runs.setdefault(json.dumps(record, sort_keys=True), []).append(hosts_by_path[path])
    lines = []
    for record, hosts in runs.items():
        record = json.loads(record)
        if record.get("pid"):
            who = "run %s of %s@%s since %s" % (
                record["pid"], record.get("user", "?"), record.get("controller", "?"), record.get("since", "?"))
            if record.get("command"):
                who += " (%s)" % record["command"]
        else:
            who = "a run that is taking its lock"
        lines.append("%s: held by %s" % (", ".join(sorted(hosts)), who))
    return lines


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        dummy, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        lock_dir = os.path.expanduser(args["lock_dir"] or LOCK_DIR)
        hostvars = task_vars["hostvars"]
        hosts_by_path = {}
        for name in task_vars["ansible_play_hosts_all"]:
            hosts_by_path[lock_path(lock_dir, lock_key(name, hostvars[name]))] = name
        try:
            os.makedirs(lock_dir, exist_ok=True)
        except OSError as error:
            result.update(failed=True, msg="cannot make the run lock directory %s on the controller (%s); nothing was "
                                           "changed. Set mhnet_lock_dir to a directory this user can write." % (lock_dir, error))
            return result
        run_pid = current_run()
        started, announced = time.monotonic(), False
        while True:
            locked, busy = try_lock(hosts_by_path, run_pid)
            if not busy:
                break
            waited = time.monotonic() - started
            # A holder whose run has exited lets go within a second: that is not a run to wait for.
            finishing = all(record.get("pid") and not process_alive(record["pid"]) for record in busy.values())
            if waited >= args["wait"] and not (finishing and waited < HOLDER_GRACE):
                result.update(failed=True, waited=round(waited, 1), msg=(
                    "another run is changing %d of this play's host(s); nothing was changed:\n- %s\nLet it finish, or "
                    "set mhnet_lock_wait to the seconds this run may wait for it (%g now)."
                    % (len(busy), "\n- ".join(describe_holders(busy, hosts_by_path)), args["wait"])))
                return result
            if not announced and not finishing:
                # One line when the wait starts and one when it ends, not one per try.
                display.display("cluster_lock: waiting up to %g s for another run:\n- %s"
                                % (args["wait"], "\n- ".join(describe_holders(busy, hosts_by_path))))
                announced = True
            time.sleep(RETRY_INTERVAL)
        waited = round(time.monotonic() - started, 1)
        if announced:
            display.display("cluster_lock: the other run has ended; this run holds its hosts after %g s" % waited)
        if locked:
            hold(locked, run_pid)
        result.update(changed=False, locked=sorted(hosts_by_path.values()), lock_dir=lock_dir, waited=waited)
        return result
