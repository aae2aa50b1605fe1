# -*- coding: utf-8 -*-
# Copyright (c) mhnet.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one engine-service layer: every path that stops, starts or restarts the Docker engine on a host goes through it.

Its unit as systemd shows it, a failed unit or a start limit cleared (with the socket that triggers it), a restart
that waits until the engine answers on its Unix socket, and what the engine's journal said when it did not. Used by
daemon_json (restart with the previous file as the way back), engine_service (restarts and upgrades), swarm_backup
(stop, copy, start) and preflight (the state of an engine that does not answer).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import time
from http.client import HTTPConnection, HTTPException

from ansible_collections.mhnet.cluster.plugins.module_utils._errors import MhnetError

POLL_INTERVAL = 0.5
PING_TIMEOUT = 5  # seconds one "does the engine answer?" may take; a wait as a whole has its own timeout
START_LIMIT_REFUSAL = "attempted too often"  # systemctl: "... failed because start of the service was attempted too often."
UNIT_PROPERTIES = ("LoadState", "ActiveState", "SubState", "Result", "ExecStart", "Environment", "EnvironmentFiles",
                   "TriggeredBy", "ExecMainStartTimestampMonotonic")


class EngineServiceError(MhnetError):
    """The engine's service could not be asked or told something (systemctl, service, the socket's path)."""


class EngineDown(MhnetError):  # noqa: N818 -- an outcome: the caller decides what it means (restore, fail)
    """A start or restart did not end with the engine answering; the message says why, in words."""


def systemd_booted():
    """True when systemd is the init system here (sd_booted(3))."""
    return os.path.isdir("/run/systemd/system")


# --- The engine's unit, as `systemctl show` prints it ---------------------------------------------------------------

def parse_systemctl_show(text):
    """{property: value} from `systemctl show -p A -p B UNIT` output (values may hold '=')."""
    properties = {}
    for line in text.splitlines():
        name, sep, value = line.partition("=")
        if sep:
            properties[name] = value
    return properties


def exec_start_argv(value):
    """The first command line of a unit's ExecStart property: '{ path=/usr/sbin/dockerd ; argv[]=/usr/sbin/dockerd -H fd://
    $DOCKER_OPTS ; ignore_errors=no ; ... }' -> ['/usr/sbin/dockerd', '-H', 'fd://', '$DOCKER_OPTS']; [] when there is none."""
    match = re.search(r"\bargv\[\]=(.*?)(?: ;|$)", value or "")
    return match.group(1).split() if match else []


def environment_files(value):
    """Paths of the EnvironmentFiles property: '/etc/default/docker (ignore_errors=yes)' -> ['/etc/default/docker']."""
    return re.findall(r"(/\S+) \(ignore_errors=(?:yes|no)\)", value or "")


def parse_environment(text):
    """{name: value} of an environment file (KEY=value lines, optional quotes, # comments) or of the Environment
    property (space-separated KEY=value words)."""
    found = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        try:
            words = shlex.split(line, comments=True)
        except ValueError:
            continue
        for word in words:
            name, sep, value = word.partition("=")
            if sep and re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
                found[name] = value
    return found


def expand_argv(argv, environment):
    """systemd's expansion of ExecStart: '$VAR' splits into words, '${VAR}' is one word; unset variables are empty."""
    expanded = []
    for word in argv:
        whole = re.match(r"^\$([A-Za-z_][A-Za-z0-9_]*)$", word)
        if whole:
            expanded.extend(environment.get(whole.group(1), "").split())
            continue
        expanded.append(re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", lambda match: environment.get(match.group(1), ""), word))
    return expanded


# --- The engine's journal -------------------------------------------------------------------------------------------

def journal_entries(text):
    """[(identifier, message)] from `journalctl -o json` output (one JSON object a line); unreadable lines are skipped."""
    entries = []
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if not isinstance(entry, dict):
            continue
        message = entry.get("MESSAGE", "")
        if isinstance(message, list):  # journald gives non-UTF-8 messages as byte arrays
            message = bytes(value for value in message if isinstance(value, int) and 0 <= value < 256).decode("utf-8", "replace")
        identifier = entry.get("SYSLOG_IDENTIFIER") or entry.get("_COMM") or ""
        entries.append((str(identifier), str(message).strip()))
    return entries


def engine_complaints(entries, limit=3):
    """What dockerd itself said about why it stopped: its error lines (logrus level error/fatal/panic, or plain lines
    such as 'unable to configure the Docker daemon ...'), each once, the last `limit` of them; [] when it said none
    (systemd refused to start it, or it was still starting)."""
    unique = []
    for identifier, message in entries:
        if identifier == "systemd" or not message or message in unique:
            continue
        if re.search(r"\blevel=(error|fatal|panic)\b", message) or "level=" not in message:
            unique.append(message)
    return unique[-limit:]


# --- The engine's API on its Unix socket ----------------------------------------------------------------------------

class UnixHTTPConnection(HTTPConnection):
    """HTTP over a Unix socket, as the engine serves its API on this host."""

    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.socket_path)


def socket_path(docker_host):
    """'unix:///var/run/docker.sock' or '/var/run/docker.sock' -> '/var/run/docker.sock'; EngineServiceError otherwise."""
    path = docker_host[len("unix://"):] if docker_host.startswith("unix://") else docker_host
    if not path.startswith("/"):
        raise EngineServiceError("docker_host is %s: give the engine's Unix socket on this host (a path or a unix:// "
                                 "URL); the engine that restarts here is asked there whether it answers" % docker_host)
    return path


def engine_request(path, method, url, timeout=PING_TIMEOUT):
    """(status, body bytes) of one request to the engine's API on its socket; OSError or HTTPException when it does
    not answer."""
    connection = UnixHTTPConnection(path, timeout)
    try:
        connection.request(method, url)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def engine_answers(path):
    """(True, '') when the engine answers GET /_ping on its socket at path, else (False, why)."""
    try:
        status, body = engine_request(path, "GET", "/_ping")
    except (OSError, HTTPException) as exc:
        return False, "%s: %s" % (path, getattr(exc, "strerror", None) or exc or exc.__class__.__name__)
    if status != 200:
        return False, "%s answered GET /_ping with HTTP %d (%s)" % (path, status, body[:100].decode("utf-8", "replace"))
    return True, ""


def refused_by_start_limit(before, after, why):
    """Whether systemd refused a start because the unit had hit its start limit, so that dockerd never ran: the unit
    failed with start-limit-hit and its main process did not start again (when dockerd itself failed, systemd's own
    retries can reach the limit too, but dockerd had started). Newer systemctl also says so in words."""
    if START_LIMIT_REFUSAL in why:
        return True
    return (after.get("Result") == "start-limit-hit"
            and after.get("ExecMainStartTimestampMonotonic") == before.get("ExecMainStartTimestampMonotonic"))


# --- The engine's service -------------------------------------------------------------------------------------------

class EngineService:
    """The engine's service on this host: its systemd unit when systemd runs, else its init script.

    `module` is the AnsibleModule (run_command, get_bin_path, warn); `docker_host` the engine's Unix socket here.
    """

    def __init__(self, module, name="docker", docker_host="unix:///var/run/docker.sock"):
        self.module = module
        self.name = name
        self.socket = socket_path(docker_host)
        self.systemctl = module.get_bin_path("systemctl") if systemd_booted() else None
        self.unit_name = name if not self.systemctl or "." in name else name + ".service"

    def run(self, argv, check=False):
        rc, out, err = self.module.run_command(argv)
        if check and rc != 0:
            raise EngineServiceError("%s failed (exit %d): %s" % (" ".join(argv), rc, (err or out).strip()[:300]))
        return rc, out, err

    def show(self):
        """The unit's properties ({} without systemd)."""
        if not self.systemctl:
            return {}
        argv = [self.systemctl, "show"] + ["--property=%s" % name for name in UNIT_PROPERTIES] + [self.unit_name]
        return parse_systemctl_show(self.run(argv, check=True)[1])

    def state(self):
        """{LoadState, ActiveState, SubState, Result} of a unit systemd has loaded; {} otherwise (no systemd, no such
        unit, or systemctl could not say)."""
        try:
            unit = self.show()
        except EngineServiceError:
            return {}
        if unit.get("LoadState") != "loaded":
            return {}
        return dict((name, unit.get(name, "")) for name in ("LoadState", "ActiveState", "SubState", "Result"))

    def dockerd_argv(self, unit):
        """The unit's dockerd command line with its environment expanded; [] when it does not start dockerd itself."""
        argv = exec_start_argv(unit.get("ExecStart"))
        if not argv or os.path.basename(argv[0]) != "dockerd":
            return []
        environment = {}
        for path in environment_files(unit.get("EnvironmentFiles")):
            try:
                with open(path) as handle:
                    environment.update(parse_environment(handle.read()))
            except OSError:
                continue  # systemd ignores a missing "-" file too
        environment.update(parse_environment(unit.get("Environment", "")))
        return expand_argv(argv, environment)

    def check_controllable(self, unit=None, instead="restart it yourself"):
        """What starting and stopping need, checked before anything changes: the unit (`unit`, as show() read it)
        when systemd runs, else the service command."""
        if not self.systemctl and not self.module.get_bin_path("service"):
            raise EngineServiceError("neither systemd nor the service command is on this host, so the engine cannot be "
                                     "restarted: %s; nothing was changed" % instead)
        if self.systemctl:
            unit = self.show() if unit is None else unit
            if unit.get("LoadState") != "loaded":
                raise EngineServiceError("systemd has no unit %s on this host (LoadState %s): set service to the engine's "
                                         "unit; nothing was changed" % (self.unit_name, unit.get("LoadState") or "unknown"))

    def reset_failed(self, unit):
        """Clear the failed state and start limit of the unit and of the units that trigger it (its socket); the
        names cleared."""
        units = [self.unit_name] + (unit.get("TriggeredBy") or "").split()
        self.run([self.systemctl, "reset-failed"] + units, check=True)
        return units

    def clear_failed(self, unit, why):
        units = self.reset_failed(unit)
        self.module.warn("%s %s; cleared with systemctl reset-failed %s" % (self.unit_name, why, " ".join(units)))

    def triggers(self, unit):
        """[(name, {ActiveState, Result})] of the units that trigger this one (docker.socket)."""
        names = (unit.get("TriggeredBy") or "").split()
        if not names:
            return []
        rc, out, dummy = self.run([self.systemctl, "show", "--property=Id", "--property=ActiveState", "--property=Result"] + names)
        states = [parse_systemctl_show(block) for block in out.split("\n\n")] if rc == 0 else []
        return [(state.get("Id"), state) for state in states if state.get("Id")]

    def daemon_reload(self):
        if self.systemctl:
            self.run([self.systemctl, "daemon-reload"], check=True)

    def _request(self, verb, timeout):
        """(rc, why) of one start or restart request; systemd's waits until the unit is started (or failed)."""
        if self.systemctl:
            argv = [self.systemctl, verb, self.unit_name]
        else:
            argv = [self.module.get_bin_path("service", required=True), self.name, verb]
        wrapper = self.module.get_bin_path("timeout")
        rc, out, err = self.run(([wrapper, str(timeout)] if wrapper else []) + argv)
        command = " ".join([os.path.basename(argv[0])] + argv[1:])
        if rc == 124 and wrapper:
            return rc, "%s did not finish within %d s" % (command, timeout)
        return rc, "%s failed (exit %d): %s" % (command, rc, " ".join((err or out).split())[:300] or "no output")

    def restart(self, timeout, verb="restart"):
        """Restart (or start) the engine and wait until it answers within timeout; EngineDown says why not.

        A unit left failed (by earlier restarts, or systemd's retries of them) may have taken its socket down with it
        (docker.socket, which dockerd -H fd:// needs) and may be at its start limit: both are cleared first, and a
        start systemd refuses for the limit is cleared and asked once more, each with a warning."""
        deadline = time.monotonic() + timeout
        before = self.show()
        if before.get("ActiveState") == "failed":
            self.clear_failed(before, "had hit systemd's start limit (too many starts in a short time)"
                              if before.get("Result") == "start-limit-hit" else "had failed (%s)" % before.get("Result"))
        rc, why = self._request(verb, timeout)
        if rc != 0 and self.systemctl:
            after = self.show()
            if refused_by_start_limit(before, after, why):
                self.clear_failed(after, "refused the %s: it had hit systemd's start limit (too many starts in a short "
                                         "time)" % verb)
                rc, why = self._request(verb, max(1, int(deadline - time.monotonic())))
                after = self.show() if rc != 0 else after
            if rc != 0:
                why = "%s; the unit's result: %s%s" % (why, after.get("Result") or "unknown", "".join(
                    "; %s is %s (%s)" % (name, state.get("ActiveState"), state.get("Result"))
                    for name, state in self.triggers(after) if state.get("ActiveState") == "failed"))
        if rc != 0:
            raise EngineDown(why)
        self.wait_until_answers(deadline, timeout)

    def start(self, timeout):
        """Start the engine (with its socket) when it does not run, and wait until it answers; EngineDown says why not."""
        self.restart(timeout, verb="start")

    def stop(self):
        """Stop the engine, and its socket too: a request on it would start the engine again."""
        if self.systemctl:
            units = [self.unit_name] + [name for name, dummy in self.triggers(self.show())]
            self.run([self.systemctl, "stop"] + units, check=True)
        else:
            self.run([self.module.get_bin_path("service", required=True), self.name, "stop"], check=True)

    def wait_until_answers(self, deadline, timeout):
        """Until the engine answers on its socket; EngineDown once its unit failed or the deadline passed."""
        while True:
            answers, why = engine_answers(self.socket)
            if answers:
                return
            if self.systemctl:
                unit = self.show()
                if unit.get("ActiveState") == "failed" or unit.get("SubState") == "auto-restart":
                    raise EngineDown("%s stopped after it started (%s)" % (self.unit_name, unit.get("Result")))
            if time.monotonic() >= deadline:
                raise EngineDown("the engine did not answer within %d s: %s" % (timeout, why))
            time.sleep(POLL_INTERVAL)

    def journal(self, since, until):
        """The unit's last journal lines between two times (epoch seconds), [] without journalctl."""
        journalctl = self.module.get_bin_path("journalctl") if self.systemctl else None
        if not journalctl:
            return []
        rc, out, dummy = self.run([journalctl, "-u", self.unit_name, "-n", "30", "--no-pager", "-o", "json",
                                   "--since", "@%.6f" % since, "--until", "@%.6f" % until])
        return journal_entries(out) if rc == 0 else []
