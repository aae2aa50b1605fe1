"""daemon_json on real files against a simulated host (systemd, dockerd, the engine): merges, keeps the user's keys,
backs up and rotates, refuses bad JSON and what the engine would refuse, restarts only on change, restores the
previous file when the engine does not come back, clears systemd's start limit, honest check mode."""

import json
import os
import stat
import time
from unittest import mock

import pytest
from ansible.module_utils import _internal
from ansible.module_utils._internal import _traceback
from ansible.module_utils.common import warnings as ansible_warnings
from ansible.module_utils.testing import patch_module_args

from ansible_collections.mhnet.cluster.plugins.module_utils import _engine_service
from ansible_collections.mhnet.cluster.plugins.modules import daemon_json

STORE = {"cluster-store": "consul://192.168.151.2:8500", "cluster-advertise": "eth1:2376"}
USERS = {"log-level": "warn", "labels": ["site=lab"]}
DEBIAN_EXEC_START = "/usr/sbin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock $DOCKER_OPTS"
CONFLICT = ("unable to configure the Docker daemon with file /etc/docker/daemon.json: the following directives are "
            "specified both as a flag and in the configuration file: hosts: (from flag: [fd://], from file: [tcp://0.0.0.0:2375])")


class FakeHost:
    """What the module reaches through run_command and the engine's socket: systemd with Debian's docker.service
    (Restart=on-failure, 3 starts in 60 s), dockerd, journald and the engine. `refuse(config)` says why dockerd would
    exit with a daemon.json (None: it starts)."""

    BINARIES = {"systemctl": "/usr/bin/systemctl", "journalctl": "/usr/bin/journalctl", "timeout": "/usr/bin/timeout",
                "dockerd": "/usr/sbin/dockerd", "service": "/usr/sbin/service"}

    def __init__(self, path):
        self.path = path
        self.systemd = True
        self.binaries = dict(self.BINARIES)
        self.exec_start = DEBIAN_EXEC_START
        self.environment_files = "/etc/default/docker (ignore_errors=yes)"
        self.load_state = "loaded"
        self.active, self.result, self.running = "active", "success", True
        self.main_started = 1  # ExecMainStartTimestampMonotonic: when dockerd last started
        self.socket = ("active", "success")  # docker.socket, which passes dockerd its socket (-H fd://)
        self.starts = []
        self.clock = 1000.0
        self.calls = []
        self.journal = []
        self.refuse = lambda config: None
        # what systemctl restart says when the start limit refused the start (systemd 247, Debian 11)
        self.limit_refusal = 'Job for docker.service failed.\nSee "systemctl status docker.service" and "journalctl -xe" for details.\n'
        self.validate = None  # dockerd before 23.0: no --validate; else a function(config) -> (rc, out, err)
        self.answers = True  # whether a running engine answers its socket

    # --- what the module calls ---

    def run_command(self, argv, **kwargs):
        self.calls.append(list(argv))
        if argv[0] == self.binaries.get("timeout"):
            argv = argv[2:]
        command = os.path.basename(argv[0])
        if command == "systemctl":
            return getattr(self, argv[1].replace("-", "_"))(argv)
        if command == "journalctl":
            return 0, "".join(json.dumps(entry) + "\n" for entry in self.journal), ""
        if command == "dockerd":
            if self.validate is None:
                return 125, "", "unknown flag: --validate\nSee 'dockerd --help'.\n"
            with open(argv[argv.index("--config-file") + 1]) as handle:
                return self.validate(json.load(handle))
        if command == "service":
            return self.restart(argv)
        raise AssertionError("unexpected command %s" % argv)

    def get_bin_path(self, name, required=False, opt_dirs=None):
        return self.binaries.get(name)

    def show(self, argv):
        if argv[-1] == "docker.socket":
            return 0, "Id=docker.socket\nActiveState=%s\nResult=%s\n" % self.socket, ""
        if self.load_state != "loaded":
            return 0, "LoadState=%s\nActiveState=inactive\nExecStart=\n" % self.load_state, ""
        return 0, "\n".join([
            "LoadState=loaded", "ActiveState=%s" % self.active, "SubState=%s" % ("running" if self.running else "failed"),
            "Result=%s" % self.result, "ExecMainStartTimestampMonotonic=%d" % self.main_started,
            "ExecStart={ path=/usr/sbin/dockerd ; argv[]=%s ; ignore_errors=no ; start_time=[n/a] ; stop_time=[n/a] ; "
            "pid=0 ; code=(null) ; status=0/0 }" % self.exec_start,
            "Environment=", "EnvironmentFiles=%s" % self.environment_files, "TriggeredBy=docker.socket", ""]), ""

    def reset_failed(self, argv):
        self.starts = []
        if "docker.socket" in argv and self.socket[0] == "failed":
            self.socket = ("inactive", "success")  # started again with the service, which requires it
        if self.active == "failed":
            self.active, self.result = "inactive", "success"
        return 0, "", ""

    def restart(self, argv):
        self.clock += 1
        self.running = False
        if self.limited():
            return 1, "", self.limit_refusal
        if not self.start():
            return 1, "", "Job for docker.service failed because the control process exited with error code."
        return 0, "", ""

    # --- what systemd and dockerd do ---

    def start(self):
        """One start, with systemd's start limit and Restart=on-failure retries; True when dockerd runs."""
        while True:
            if self.limited():
                return False
            self.starts.append(self.clock)
            self.main_started += 1
            self.journal.append(dict(SYSLOG_IDENTIFIER="dockerd", MESSAGE='time="x" level=info msg="Starting up"'))
            why = ("no sockets found via socket activation: make sure the service was started by systemd"
                   if self.socket[0] == "failed" else self.refuse(self.config()))
            if not why:
                self.active, self.result, self.running = "active", "success", True
                self.socket = ("active", "success")
                return True
            self.journal += [dict(SYSLOG_IDENTIFIER="dockerd", MESSAGE=why),
                             dict(SYSLOG_IDENTIFIER="systemd", MESSAGE="docker.service: Failed with result 'exit-code'.")]
            self.clock += 0.1  # RestartSec: systemd tries again

    def limited(self):
        """systemd's start limit: a fourth start within 60 s is refused, and the unit fails with start-limit-hit."""
        if len([when for when in self.starts if self.clock - when < 60]) < 3:
            return False
        self.active, self.result = "failed", "start-limit-hit"
        self.socket = ("failed", "service-start-limit-hit")
        self.journal.append(dict(SYSLOG_IDENTIFIER="systemd", MESSAGE="docker.service: Start request repeated too quickly."))
        return True

    def config(self):
        try:
            with open(self.path) as handle:
                return json.load(handle)
        except FileNotFoundError:
            return {}

    def engine_answers(self, path):
        return (True, "") if self.running and self.answers else (False, "%s: connection refused" % path)

    # --- what the tests read ---

    def commands(self, verb):
        return [call for call in self.calls if verb in call]

    def restarts(self):
        return [call for call in self.calls if "restart" in call]

    def order(self):
        """The verbs asked of systemctl and service, in order: ['show', 'restart', 'show', 'reset-failed', ...]."""
        return [next(word for word in ("show", "reset-failed", "restart") if word in call)
                for call in self.calls if "show" in call or "reset-failed" in call or "restart" in call]


class FakeTime:
    """The module's clock: sleeping advances it."""

    def __init__(self):
        self.now = 0.0

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds

    def time(self):
        return 1795860000.0 + self.now

    def localtime(self):
        return time.localtime(self.time())


@pytest.fixture()
def config(tmp_path):
    path = tmp_path / "daemon.json"
    path.write_text(json.dumps(USERS))
    return path


@pytest.fixture(autouse=True)
def host(tmp_path, monkeypatch):
    fake = FakeHost(str(tmp_path / "daemon.json"))
    clock = FakeTime()
    monkeypatch.setattr(_engine_service, "systemd_booted", lambda: fake.systemd)
    monkeypatch.setattr(_engine_service, "engine_answers", fake.engine_answers)
    monkeypatch.setattr(_engine_service, "time", clock)
    monkeypatch.setattr(daemon_json, "time", clock)
    monkeypatch.setattr(daemon_json.AnsibleModule, "run_command", lambda module, argv, **kwargs: fake.run_command(argv, **kwargs))
    monkeypatch.setattr(daemon_json.AnsibleModule, "get_bin_path", lambda module, name, *args, **kwargs: fake.get_bin_path(name))
    # read _ansible_tracebacks_for afresh: ansible caches it on a module's first failure
    monkeypatch.setattr(_traceback, "_module_tracebacks_enabled_events", None)
    # and collect warnings into the result, from none: ansible keeps them for the whole process, and once a test has
    # imported the controller's display (the action plugin tests), it would print them instead
    monkeypatch.setattr(ansible_warnings, "_global_warnings", {})
    monkeypatch.setattr(_internal, "is_controller", False)
    return fake


def run(capsys, **args):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            daemon_json.main()
    return json.loads(capsys.readouterr().out)


def warnings(result):
    return [warning["event"]["msg"] if isinstance(warning, dict) else warning for warning in result.get("warnings", [])]


def backups_of(path):
    return sorted(name for name in os.listdir(path.parent) if name.startswith(path.name + ".") and name.endswith("~"))


# --- merging, as before ------------------------------------------------------------------------------------------

def test_merge_keeps_the_users_keys_and_backs_up(config, capsys, host):
    result = run(capsys, path=str(config), settings=STORE)
    assert result["changed"] is True
    assert json.loads(config.read_text()) == dict(STORE, **USERS)
    assert json.loads(open(result["backup_file"]).read()) == USERS
    assert (result["restarted"], result["restored"]) == (False, False)
    assert host.restarts() == [], "restart defaults to false"


def test_second_run_changes_nothing(config, capsys):
    run(capsys, path=str(config), settings=STORE)
    before = config.read_text()
    result = run(capsys, path=str(config), settings=STORE)
    assert result["changed"] is False
    assert config.read_text() == before


def test_check_mode_writes_nothing_and_shows_the_diff(config, capsys):
    before = config.read_text()
    result = run(capsys, path=str(config), settings=STORE, _ansible_check_mode=True, _ansible_diff=True)
    assert result["changed"] is True
    assert config.read_text() == before
    assert '"cluster-store": "consul://192.168.151.2:8500"' in result["diff"]["after"]
    assert "cluster-store" not in result["diff"]["before"]
    assert len(list(config.parent.iterdir())) == 1, "no backup or temporary file in check mode"


def test_missing_file_is_created(tmp_path, capsys):
    path = tmp_path / "docker" / "daemon.json"
    result = run(capsys, path=str(path), settings=STORE)
    assert result["changed"] is True and "backup_file" not in result
    assert json.loads(path.read_text()) == STORE
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_remove_drops_only_the_named_keys(config, capsys):
    run(capsys, path=str(config), settings=STORE)
    run(capsys, path=str(config), remove=["cluster-store", "cluster-advertise"])
    assert json.loads(config.read_text()) == USERS


@pytest.mark.parametrize("text, message", [
    pytest.param('{"log-level": ', "is not valid JSON (", id="invalid JSON"),
    pytest.param("[1, 2]", "holds a JSON array, not a JSON object", id="array"),
])
def test_invalid_file_is_refused_and_left_untouched(tmp_path, capsys, text, message, host):
    path = tmp_path / "daemon.json"
    path.write_text(text)
    result = run(capsys, path=str(path), settings=STORE, restart=True)
    assert result["failed"] is True
    # the shared parser's message, as preflight reports it
    assert result["msg"].startswith("%s %s" % (path, message))
    assert result["msg"].endswith("fix it by hand; the collection does not overwrite a daemon.json it cannot read")
    assert path.read_text() == text
    assert len(list(tmp_path.iterdir())) == 1, "no backup or temporary file"
    assert host.restarts() == []


def test_an_unreadable_file_fails_saying_what_to_do(tmp_path, capsys):
    result = run(capsys, path=str(tmp_path), settings=STORE)
    assert result["failed"] is True
    assert result["msg"].startswith("cannot read %s (" % tmp_path) and "run the task with become" in result["msg"]


def test_a_failed_write_fails_saying_what_to_do(config, capsys, host):
    before = config.read_text()
    del host.binaries["dockerd"]  # no validation copy either
    with mock.patch.object(daemon_json.tempfile, "mkstemp", side_effect=PermissionError(13, "Permission denied")):
        result = run(capsys, path=str(config), settings=STORE, backup=False, restart=True, _ansible_tracebacks_for=["error"])
    assert result["failed"] is True
    assert result["msg"] == ("cannot write %s ([Errno 13] Permission denied): run the task with become, or fix the directory's permissions"
                             % config)
    assert "DaemonJsonError" in result["exception"] and "PermissionError" in result["exception"]
    assert config.read_text() == before
    assert host.restarts() == [], "nothing written, nothing restarted"


# --- restart ------------------------------------------------------------------------------------------------------

def test_a_change_restarts_the_engine_once_and_waits_for_it(config, capsys, host):
    result = run(capsys, path=str(config), settings=STORE, restart=True, restart_timeout=30)
    assert (result["changed"], result["restarted"], result["restored"]) == (True, True, False)
    assert host.restarts() == [["/usr/bin/timeout", "30", "/usr/bin/systemctl", "restart", "docker.service"]]
    assert host.running and host.config() == dict(STORE, **USERS)
    assert warnings(result) == []


def test_no_restart_when_nothing_changes(config, capsys, host):
    run(capsys, path=str(config), settings=STORE, restart=True)
    host.calls = []
    result = run(capsys, path=str(config), settings=STORE, restart=True)
    assert (result["changed"], result["restarted"]) == (False, False)
    assert host.calls == [], "an unchanged file asks nothing of the host"


def test_check_mode_validates_but_neither_writes_nor_restarts(config, capsys, host):
    before = config.read_text()
    result = run(capsys, path=str(config), settings=STORE, restart=True, _ansible_check_mode=True)
    assert (result["changed"], result["restarted"], result["restored"]) == (True, False, False)
    assert config.read_text() == before
    assert host.restarts() == [] and host.commands("reset-failed") == []
    assert host.commands("show") and host.commands("--validate"), "the unit and dockerd are asked, read-only"
    assert len(list(config.parent.iterdir())) == 1


def test_without_systemd_the_service_command_restarts_the_engine(config, capsys, host):
    host.systemd = False
    result = run(capsys, path=str(config), settings=STORE, restart=True)
    assert result["restarted"] is True
    assert host.restarts() == [["/usr/bin/timeout", "60", "/usr/sbin/service", "docker", "restart"]]
    assert host.commands("show") == []


def test_without_systemd_or_service_nothing_changes(config, capsys, host):
    host.systemd = False
    del host.binaries["service"]
    before = config.read_text()
    result = run(capsys, path=str(config), settings=STORE, restart=True)
    assert result["failed"] is True
    assert result["msg"].startswith("neither systemd nor the service command is on this host")
    assert result["msg"].endswith("nothing was changed") and config.read_text() == before


def test_an_unknown_unit_is_refused_before_any_change(config, capsys, host):
    host.load_state = "not-found"
    before = config.read_text()
    result = run(capsys, path=str(config), settings=STORE, restart=True, service="dockerd")
    assert result["failed"] is True
    assert result["msg"] == ("systemd has no unit dockerd.service on this host (LoadState not-found): set service to the "
                             "engine's unit; nothing was changed")
    assert config.read_text() == before


def test_an_engine_that_never_answers_is_given_restart_timeout(config, capsys, host):
    host.answers = False
    result = run(capsys, path=str(config), settings=STORE, restart=True, restart_timeout=5)
    assert result["failed"] is True and result["restored"] is True
    assert "the engine did not answer within 5 s: " in result["msg"] and "connection refused" in result["msg"]
    assert daemon_json.time.monotonic() >= 10, "two restarts, each given its 5 s"
    assert "dockerd said" not in result["msg"] and "The engine's journal since the restart is in engine_log." in result["msg"]
    assert json.loads(config.read_text()) == USERS


# --- the engine refuses the merged file: restored, restarted, said ------------------------------------------------

def test_a_refused_file_is_restored_and_the_engine_restarted_with_it(config, capsys, host):
    host.refuse = lambda config: "failed to start daemon: bad bip" if config.get("bip") == "nonsense" else None
    before = config.read_text()
    result = run(capsys, path=str(config), settings={"bip": "nonsense"}, restart=True)
    assert result["failed"] is True
    assert (result["restored"], result["restarted"]) == (True, False)
    assert config.read_text() == before, "the previous file, byte for byte"
    assert host.running and host.config() == USERS
    # the failed restart: dockerd ran and failed, systemd retried it until its start limit (so not a start the limit
    # refused, which would be cleared and tried again; the socket's state is read for the message), cleared before
    # the restart with the previous file
    assert host.order() == ["show", "show", "restart", "show", "show", "show", "reset-failed", "show", "restart"]
    assert host.commands("reset-failed") == [["/usr/bin/systemctl", "reset-failed", "docker.service", "docker.socket"]]
    assert result["msg"] == (
        "Docker did not come back after %s changed (systemctl restart docker.service failed (exit 1): Job for "
        "docker.service failed because the control process exited with error code.; the unit's result: "
        "start-limit-hit; docker.socket is failed (service-start-limit-hit)). dockerd said: failed to start "
        "daemon: bad bip. The previous %s was restored and Docker runs again with it (the failed starts were cleared "
        "with systemctl reset-failed docker.service docker.socket). Fix the settings the engine refused and run again" % (config, config))
    assert "dockerd: failed to start daemon: bad bip" in result["engine_log"]
    # read once the engine runs again, for the time from the first restart until it failed
    journal = next(index for index, call in enumerate(host.calls) if call[0].endswith("journalctl"))
    assert journal > max(index for index, call in enumerate(host.calls) if "restart" in call)
    assert host.calls[journal][-4:-3] == ["--since"] and host.calls[journal][-2:-1] == ["--until"]
    assert json.loads(open(result["backup_file"]).read()) == USERS


def test_a_refused_new_file_is_removed_again(tmp_path, capsys, host):
    path = tmp_path / "daemon.json"
    host.refuse = lambda config: "failed to start daemon: bad bip" if config else None
    result = run(capsys, path=str(path), settings={"bip": "nonsense"}, restart=True)
    assert result["failed"] is True and result["restored"] is True
    assert not path.exists() and host.running
    assert "%s, which did not exist before, was removed and Docker runs again with it" % path in result["msg"]


def test_an_engine_that_runs_with_neither_file_is_said_to_be_down(config, capsys, host):
    host.refuse = lambda config: "failed to start daemon: error initializing graphdriver"
    result = run(capsys, path=str(config), settings=STORE, restart=True)
    assert result["failed"] is True and result["restored"] is True
    assert json.loads(config.read_text()) == USERS
    assert not host.running
    assert ("The previous %s was restored but Docker does not run with it either (systemctl restart docker.service "
            "failed (exit 1)" % config) in result["msg"]
    assert "see journalctl -u docker.service" in result["msg"]


# --- systemd's start limit ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("refusal", [
    pytest.param('Job for docker.service failed.\nSee "systemctl status docker.service" and "journalctl -xe" for details.\n',
                 id="systemd 247"),
    pytest.param("Job for docker.service failed because start of the service was attempted too often.\n", id="newer systemd"),
])
def test_a_restart_refused_by_the_start_limit_is_cleared_and_retried(config, capsys, host, refusal):
    host.starts = [host.clock - 20, host.clock - 10, host.clock - 5]  # three quick runs before this one
    host.limit_refusal = refusal
    result = run(capsys, path=str(config), settings=STORE, restart=True)
    assert (result["restarted"], result["restored"]) == (True, False)
    assert host.running
    assert host.order() == ["show", "show", "restart", "show", "reset-failed", "restart"]
    assert warnings(result) == [
        "docker.service refused the restart: it had hit systemd's start limit (too many starts in a short time); "
        "cleared with systemctl reset-failed docker.service docker.socket"]


def test_an_engine_left_in_the_start_limit_is_cleared_before_the_restart(config, capsys, host):
    host.starts = [host.clock - 3] * 3
    host.active, host.result, host.running = "failed", "start-limit-hit", False
    result = run(capsys, path=str(config), settings=STORE, restart=True)
    assert result["restarted"] is True and host.running
    assert host.order() == ["show", "show", "reset-failed", "restart"]
    assert warnings(result) == ["docker.service had hit systemd's start limit (too many starts in a short time); "
                                "cleared with systemctl reset-failed docker.service docker.socket"]


def test_an_engine_left_failed_without_its_socket_is_cleared_before_the_restart(config, capsys, host):
    # what an earlier failed start leaves: systemd's retries hit the start limit and took docker.socket down with them
    host.active, host.result, host.running = "failed", "exit-code", False
    host.socket = ("failed", "service-start-limit-hit")
    result = run(capsys, path=str(config), settings=STORE, restart=True)
    assert (result["restarted"], result["restored"]) == (True, False) and host.running
    assert host.order() == ["show", "show", "reset-failed", "restart"]
    assert warnings(result) == ["docker.service had failed (exit-code); cleared with systemctl reset-failed docker.service "
                                "docker.socket"]


def test_a_failed_socket_is_named_when_the_engine_stays_down(config, capsys, host):
    host.refuse = lambda config: "failed to start daemon: error initializing graphdriver"
    result = run(capsys, path=str(config), settings=STORE, restart=True)
    assert "; the unit's result: start-limit-hit; docker.socket is failed (service-start-limit-hit)" in result["msg"]


def test_four_quick_runs_leave_the_engine_up(config, capsys, host):
    for number in range(4):
        result = run(capsys, path=str(config), settings={"labels": ["run=%d" % number]}, restart=True)
        assert result["restarted"] is True and host.running, number
        host.clock += 2
    assert len(host.commands("reset-failed")) == 1, "only the fourth start hit the limit"


# --- refused before any change ------------------------------------------------------------------------------------

def test_a_key_the_unit_also_passes_as_a_flag_is_refused(config, capsys, host):
    before = config.read_text()
    result = run(capsys, path=str(config), settings={"hosts": ["tcp://0.0.0.0:2375"]}, restart=True)
    assert result["failed"] is True
    assert result["msg"] == (
        "%s would set 'hosts' (from the task's settings), which docker.service also gives dockerd as -H fd:// in its "
        "ExecStart: dockerd refuses to start when an option is given both as a flag and in daemon.json. Take it out of "
        "the task's settings, or drop the flag from the unit (systemctl edit docker); nothing was changed" % config)
    assert config.read_text() == before and backups_of(config) == []
    assert host.restarts() == [] and host.running


def test_a_conflicting_key_already_in_the_file_is_named(config, capsys):
    config.write_text(json.dumps(dict(USERS, containerd="/run/other.sock")))
    result = run(capsys, path=str(config), settings=STORE)
    assert result["failed"] is True
    assert ("would set 'containerd' (already in the file), which docker.service also gives dockerd as "
            "--containerd=/run/containerd/containerd.sock in its ExecStart") in result["msg"]
    assert "(or list a key the file already has in remove)" in result["msg"]


def test_flags_from_the_units_environment_file_count(config, capsys, host, tmp_path):
    defaults = tmp_path / "default-docker"
    defaults.write_text('# Debian\'s /etc/default/docker\nDOCKER_OPTS="--dns 192.0.2.53 --debug"\n')
    host.environment_files = "%s (ignore_errors=yes)" % defaults
    result = run(capsys, path=str(config), settings={"debug": True})
    assert result["failed"] is True
    assert "would set 'debug' (from the task's settings), which docker.service also gives dockerd as --debug" in result["msg"]


def test_an_unchanged_file_is_not_judged(config, capsys):
    config.write_text(json.dumps(dict(STORE, hosts=["unix:///run/x.sock"])))
    result = run(capsys, path=str(config), settings=STORE, restart=True)
    assert result["changed"] is False and "failed" not in result


def test_dockerd_validate_refusal_is_said_with_the_files_path(config, capsys, host):
    def validate(merged):
        assert merged == dict(STORE, **USERS)
        return 1, "", ("unable to configure the Docker daemon with file %s: the following directives don't match any "
                       "configuration option: cluster-advertise, cluster-store\n" % host.calls[-1][-1])
    host.validate = validate
    before = config.read_text()
    result = run(capsys, path=str(config), settings=STORE, restart=True)
    assert result["failed"] is True
    assert result["msg"] == (
        "dockerd --validate refuses the merged %s: unable to configure the Docker daemon with file %s: the following "
        "directives don't match any configuration option: cluster-advertise, cluster-store: fix the task's settings (or "
        "the file's other keys); nothing was changed" % (config, config))
    assert config.read_text() == before and host.restarts() == []
    validate_call = host.commands("--validate")[0]
    assert validate_call[:5] == ["/usr/sbin/dockerd", "-H", "fd://", "--containerd=/run/containerd/containerd.sock", "--validate"]
    assert not os.path.exists(validate_call[-1]), "the copy to validate is removed"


def test_dockerd_validate_acceptance_lets_the_change_through(config, capsys, host):
    host.validate = lambda merged: (0, "", "configuration OK\n")
    assert run(capsys, path=str(config), settings=STORE, restart=True)["restarted"] is True


def test_a_unit_reading_another_file_is_refused_when_restarting(config, capsys, host):
    host.exec_start = "/usr/sbin/dockerd -H fd:// --config-file /etc/docker/other.json"
    result = run(capsys, path=str(config), settings=STORE, restart=True)
    assert result["failed"] is True
    assert result["msg"] == ("docker.service starts dockerd with --config-file /etc/docker/other.json, so the engine never "
                             "reads %s: set path to /etc/docker/other.json; nothing was changed" % config)


# --- backups ------------------------------------------------------------------------------------------------------

def test_backups_keep_the_originals_permissions(config, capsys):
    config.chmod(0o600)
    result = run(capsys, path=str(config), settings=STORE)
    assert stat.S_IMODE(os.stat(result["backup_file"]).st_mode) == 0o600
    assert stat.S_IMODE(config.stat().st_mode) == 0o600, "the new file is no wider than the original either"


def test_only_the_newest_backups_are_kept(config, capsys):
    for day in range(1, 6):
        (config.parent / ("daemon.json.%d.2026-01-0%d@10:00:00~" % (100 + day, day))).write_text("{}")
    others = ["daemon.json.bak", "daemon.json.7.garbage~", "other.json.1.2026-01-01@10:00:00~"]
    for name in others:
        (config.parent / name).write_text("{}")
    result = run(capsys, path=str(config), settings=STORE, backups=3)
    assert backups_of(config) == sorted([os.path.basename(result["backup_file"]), "daemon.json.104.2026-01-04@10:00:00~",
                                         "daemon.json.105.2026-01-05@10:00:00~"] + others[1:2])
    for name in others:
        assert (config.parent / name).exists(), "files that are not this module's backups stay"


def test_no_backup_keeps_every_old_one(config, capsys):
    old = config.parent / "daemon.json.1.2020-01-01@10:00:00~"
    old.write_text("{}")
    result = run(capsys, path=str(config), settings=STORE, backup=False, backups=1)
    assert "backup_file" not in result and old.exists()


@pytest.mark.parametrize("args, message", [
    pytest.param(dict(backups=0), "backups is 0: keep at least 1, or set backup: false to keep none", id="no backups"),
    pytest.param(dict(docker_host="tcp://192.0.2.1:2375"),
                 "docker_host is tcp://192.0.2.1:2375: give the engine's Unix socket on this host (a path or a unix:// URL); "
                 "the engine that restarts here is asked there whether it answers", id="TCP engine"),
])
def test_bad_options_are_refused(config, capsys, args, message):
    result = run(capsys, path=str(config), settings=STORE, **args)
    assert result["failed"] is True and result["msg"] == message
    assert json.loads(config.read_text()) == USERS
