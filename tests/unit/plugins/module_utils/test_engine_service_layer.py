"""The engine-service layer's pure parts: the unit as `systemctl show` prints it, its ExecStart and environment
expanded as systemd does, and what the engine's journal said. Tables of texts."""

import json
import socket
import threading

import pytest

from ansible_collections.mhnet.cluster.plugins.module_utils._engine_service import (
    engine_answers,
    engine_complaints,
    environment_files,
    exec_start_argv,
    expand_argv,
    journal_entries,
    parse_environment,
    parse_systemctl_show,
    socket_path,
)

# --- the engine's unit --------------------------------------------------------------------------------------------

# `systemctl show` of Debian's docker.service (docker.io 20.10), with the properties daemon_json asks for (the
# backslash continues the ExecStart line, which is one line in systemctl's output).
SHOW = """LoadState=loaded
ActiveState=active
SubState=running
Result=success
ExecStart={ path=/usr/sbin/dockerd ; argv[]=/usr/sbin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock \
$DOCKER_OPTS ; ignore_errors=no ; start_time=[Sat 2026-11-28 09:20:01 UTC] ; stop_time=[n/a] ; pid=812 ; code=(null) ; status=0/0 }
Environment=
EnvironmentFiles=/etc/default/docker (ignore_errors=yes)
TriggeredBy=docker.socket
"""


def test_parse_systemctl_show():
    unit = parse_systemctl_show(SHOW)
    assert unit["LoadState"] == "loaded" and unit["Environment"] == "" and unit["TriggeredBy"] == "docker.socket"
    assert unit["ExecStart"].startswith("{ path=/usr/sbin/dockerd ; argv[]=")


@pytest.mark.parametrize("value, argv", [
    pytest.param(parse_systemctl_show(SHOW)["ExecStart"],
                 ["/usr/sbin/dockerd", "-H", "fd://", "--containerd=/run/containerd/containerd.sock", "$DOCKER_OPTS"], id="Debian"),
    pytest.param("{ path=/usr/bin/dockerd ; argv[]=/usr/bin/dockerd ; ignore_errors=no }", ["/usr/bin/dockerd"], id="no flags"),
    pytest.param("", [], id="no unit"),
])
def test_exec_start_argv(value, argv):
    assert exec_start_argv(value) == argv


def test_environment_files():
    assert environment_files("/etc/default/docker (ignore_errors=yes) /etc/docker/env (ignore_errors=no)") == [
        "/etc/default/docker", "/etc/docker/env"]
    assert environment_files("") == []


@pytest.mark.parametrize("text, expected", [
    pytest.param('# comment\nDOCKER_OPTS="--dns 192.0.2.53 --debug"\n', {"DOCKER_OPTS": "--dns 192.0.2.53 --debug"}, id="file"),
    pytest.param("#DOCKER_OPTS=\"--dns 8.8.8.8\"\n", {}, id="commented out, as Debian ships it"),
    pytest.param("A=1 B='two words'", {"A": "1", "B": "two words"}, id="Environment property"),
    pytest.param('BROKEN="unclosed\nC=3', {"C": "3"}, id="unparsable line skipped"),
])
def test_parse_environment(text, expected):
    assert parse_environment(text) == expected


def test_expand_argv_splits_dollar_var_and_keeps_braced_var_whole():
    argv = ["/usr/sbin/dockerd", "-H", "fd://", "$DOCKER_OPTS", "--data-root=${ROOT}", "$UNSET"]
    assert expand_argv(argv, {"DOCKER_OPTS": "--dns 192.0.2.53  --debug", "ROOT": "/srv/docker"}) == [
        "/usr/sbin/dockerd", "-H", "fd://", "--dns", "192.0.2.53", "--debug", "--data-root=/srv/docker"]


# --- the engine's journal -----------------------------------------------------------------------------------------

JOURNAL = "\n".join(json.dumps(entry) for entry in [
    {"SYSLOG_IDENTIFIER": "systemd", "MESSAGE": "Starting Docker Application Container Engine..."},
    {"SYSLOG_IDENTIFIER": "dockerd", "MESSAGE": 'time="2026-11-28T09:20:01Z" level=info msg="Starting up"'},
    {"SYSLOG_IDENTIFIER": "dockerd", "MESSAGE": "unable to configure the Docker daemon with file /etc/docker/daemon.json: hosts"},
    {"SYSLOG_IDENTIFIER": "systemd", "MESSAGE": "docker.service: Failed with result 'exit-code'."},
    {"SYSLOG_IDENTIFIER": "dockerd", "MESSAGE": 'time="2026-11-28T09:20:02Z" level=info msg="Starting up"'},
    {"SYSLOG_IDENTIFIER": "dockerd", "MESSAGE": "unable to configure the Docker daemon with file /etc/docker/daemon.json: hosts"},
    {"_COMM": "dockerd", "MESSAGE": list(b"bytes \xff")},
]) + "\nnot json\n[1]\n"


def test_journal_entries():
    entries = journal_entries(JOURNAL)
    assert len(entries) == 7
    assert entries[0] == ("systemd", "Starting Docker Application Container Engine...")
    assert entries[-1] == ("dockerd", "bytes \ufffd")


def test_engine_complaints_are_dockerds_errors_once_each():
    assert engine_complaints(journal_entries(JOURNAL)) == [
        "unable to configure the Docker daemon with file /etc/docker/daemon.json: hosts", "bytes \ufffd"]
    # a stop and a start refused by systemd: dockerd said nothing about why
    info_only = [("dockerd", 'time="x" level=info msg="Daemon shutdown complete"'), ("dockerd", 'time="x" level=warning msg="b"'),
                 ("systemd", "docker.service: Start request repeated too quickly.")]
    assert engine_complaints(info_only) == []
    assert engine_complaints([("dockerd", 'level=fatal msg="x"'), ("dockerd", 'level=info msg="y"')]) == ['level=fatal msg="x"']
    assert engine_complaints([]) == []


# --- the engine's socket ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("answer, expected", [
    pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK", (True, ""), id="answers"),
    pytest.param(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\nbusy", (False, "answered GET /_ping with HTTP 500 (busy)"),
                 id="busy"),
])
def test_engine_answers_on_its_unix_socket(tmp_path, answer, expected):
    path = str(tmp_path / "docker.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    asked = []

    def serve():
        connection, dummy = server.accept()
        asked.append(connection.recv(4096))
        connection.sendall(answer)
        connection.close()

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        answers, why = engine_answers(path)
    finally:
        thread.join(5)
        server.close()
    assert asked[0].startswith(b"GET /_ping HTTP/1.1\r\n")
    assert answers is expected[0] and why.endswith(expected[1]) and (why.startswith(path) or not why)


def test_an_engine_without_a_socket_does_not_answer(tmp_path):
    answers, why = engine_answers(str(tmp_path / "docker.sock"))
    assert answers is False and why == "%s: No such file or directory" % (tmp_path / "docker.sock")


@pytest.mark.parametrize("docker_host", ["unix:///var/run/docker.sock", "/var/run/docker.sock"])
def test_socket_path(docker_host):
    assert socket_path(docker_host) == "/var/run/docker.sock"
