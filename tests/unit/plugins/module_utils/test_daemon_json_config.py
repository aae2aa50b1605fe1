"""The one daemon.json parser that preflight and daemon_json share, and what daemon_json judges a change by: tables
of texts and files."""

import json
import re
import time

import pytest

from ansible_collections.mhnet.cluster.plugins.module_utils._daemon_json import (
    DaemonJsonError,
    DaemonJsonRefused,
    backup_name,
    flag_conflicts,
    flag_settings,
    flag_value,
    json_name,
    merged,
    parse_daemon_json,
    read_daemon_json,
    render,
    stale_backups,
    validate_answer,
    without_flag,
)
from ansible_collections.mhnet.cluster.plugins.module_utils._errors import MhnetError

PATH = "/etc/docker/daemon.json"
UNTOUCHED = "fix it by hand; the collection does not overwrite a daemon.json it cannot read"


@pytest.mark.parametrize("text, expected", [
    pytest.param(None, {}, id="no file"),
    pytest.param("", {}, id="empty file"),
    pytest.param(" \n\t", {}, id="only whitespace"),
    pytest.param('{"log-level": "warn"}', {"log-level": "warn"}, id="object"),
    pytest.param('{"labels": ["site=lab"], "mtu": 1450, "debug": true}', {"labels": ["site=lab"], "mtu": 1450, "debug": True},
                 id="nested values"),
])
def test_parse_accepts_an_object_or_nothing(text, expected):
    assert parse_daemon_json(text, PATH) == expected


@pytest.mark.parametrize("text, message", [
    pytest.param('{"log-level": ', "/etc/docker/daemon.json is not valid JSON (Expecting value: line 1 column 15 (char 14)): " + UNTOUCHED,
                 id="truncated"),
    pytest.param("log-level: warn", "/etc/docker/daemon.json is not valid JSON (Expecting value: line 1 column 1 (char 0)): " + UNTOUCHED,
                 id="YAML, not JSON"),
    pytest.param('["a"]', "/etc/docker/daemon.json holds a JSON array, not a JSON object: " + UNTOUCHED, id="array"),
    pytest.param('"text"', "/etc/docker/daemon.json holds a JSON string, not a JSON object: " + UNTOUCHED, id="string"),
    pytest.param("42", "/etc/docker/daemon.json holds a JSON number, not a JSON object: " + UNTOUCHED, id="number"),
    pytest.param("true", "/etc/docker/daemon.json holds a JSON boolean, not a JSON object: " + UNTOUCHED, id="boolean"),
    pytest.param("null", "/etc/docker/daemon.json holds a JSON null, not a JSON object: " + UNTOUCHED, id="null"),
])
def test_parse_refuses_anything_else_saying_what_to_do(text, message):
    with pytest.raises(DaemonJsonError) as raised:
        parse_daemon_json(text, PATH)
    assert str(raised.value) == message
    assert isinstance(raised.value, MhnetError)


@pytest.mark.parametrize("value, name", [([], "array"), ("", "string"), (1, "number"), (1.5, "number"), (False, "boolean"),
                                         (None, "null")])
def test_json_name(value, name):
    assert json_name(value) == name


def test_read_a_missing_file(tmp_path):
    assert read_daemon_json(str(tmp_path / "daemon.json")) == (None, {})


def test_read_returns_the_text_and_the_settings(tmp_path):
    path = tmp_path / "daemon.json"
    path.write_text('{"log-level": "warn"}\n')
    assert read_daemon_json(str(path)) == ('{"log-level": "warn"}\n', {"log-level": "warn"})


@pytest.mark.parametrize("content, message", [
    pytest.param(b'{"a": ', "is not valid JSON", id="invalid JSON"),
    pytest.param(b"\xff\xfe{}", "is not valid JSON ('utf-8' codec can't decode", id="not UTF-8"),
    pytest.param(b"[]", "holds a JSON array, not a JSON object", id="array"),
])
def test_read_refuses_a_file_that_is_not_an_object(tmp_path, content, message):
    path = tmp_path / "daemon.json"
    path.write_bytes(content)
    with pytest.raises(DaemonJsonError, match="^%s %s" % (re.escape(str(path)), re.escape(message))):
        read_daemon_json(str(path))


def test_read_refuses_what_it_cannot_read(tmp_path):
    with pytest.raises(DaemonJsonError, match=r"^cannot read %s \(.*Is a directory.*\): run the task with become" % re.escape(str(tmp_path))):
        read_daemon_json(str(tmp_path))


# --- merge and text -----------------------------------------------------------------------------------------------

def test_merged_sets_removes_and_keeps_the_rest():
    config = {"log-level": "warn", "debug": True, "cluster-store": "consul://old:8500"}
    assert merged(config, {"cluster-store": "consul://new:8500"}, ["debug"]) == {"log-level": "warn", "cluster-store": "consul://new:8500"}
    assert config["debug"] is True, "the file's settings are not changed in place"


def test_render_is_sorted_and_ends_with_a_newline():
    assert render({"b": 1, "a": [1]}) == '{\n  "a": [\n    1\n  ],\n  "b": 1\n}\n'
    assert json.loads(render({"b": 1})) == {"b": 1}


def test_a_refusal_is_a_daemon_json_error():
    assert issubclass(DaemonJsonRefused, DaemonJsonError) and issubclass(DaemonJsonRefused, MhnetError)


@pytest.mark.parametrize("argv, expected", [
    pytest.param(["dockerd", "-H", "fd://", "--containerd=/run/c.sock"], {"hosts": "-H fd://", "containerd": "--containerd=/run/c.sock"},
                 id="Debian's unit"),
    pytest.param(["dockerd", "-Hunix:///x.sock", "--host", "tcp://127.0.0.1:2375"], {"hosts": "-Hunix:///x.sock"}, id="the first of a repeated flag"),
    pytest.param(["dockerd", "--label", "a=b", "--log-opt", "max-size=1m", "--insecure-registry=r:5000"],
                 {"labels": "--label a=b", "log-opts": "--log-opt max-size=1m", "insecure-registries": "--insecure-registry=r:5000"},
                 id="named options"),
    pytest.param(["dockerd", "-D", "--tls", "-l", "warn"], {"debug": "-D", "tls": "--tls", "log-level": "-l warn"}, id="booleans and short flags"),
    pytest.param(["dockerd", "--add-runtime", "r=/bin/r", "--config-file", "/x.json", "--validate"], {}, id="never conflicting"),
])
def test_flag_settings(argv, expected):
    assert flag_settings(argv) == expected


def test_flag_conflicts_name_each_key_given_both_ways():
    argv = ["/usr/sbin/dockerd", "-H", "fd://", "--label", "x=y"]
    assert flag_conflicts({"hosts": ["tcp://0.0.0.0:2375"], "labels": [], "log-level": "warn"}, argv) == [
        ("hosts", "-H fd://"), ("labels", "--label x=y")]
    assert flag_conflicts({"hosts": []}, []) == []


def test_flag_value_and_without_flag():
    argv = ["--config-file", "/a.json", "-H", "fd://", "--config-file=/b.json"]
    assert flag_value(argv, "config-file") == "/a.json"
    assert flag_value(["--config-file=/b.json"], "config-file") == "/b.json"
    assert flag_value(["-H", "fd://"], "config-file") is None
    assert without_flag(argv, "config-file") == ["-H", "fd://"]


@pytest.mark.parametrize("rc, stdout, stderr, expected", [
    pytest.param(0, "", "configuration OK\n", (True, ""), id="23.0 and later, accepted"),
    pytest.param(1, "", "unable to configure the Docker daemon with file /tmp/x.json: the following directives don't match any "
                 "configuration option: cluster-store\n",
                 (False, "unable to configure the Docker daemon with file /tmp/x.json: the following directives don't match any "
                  "configuration option: cluster-store"), id="refused"),
    pytest.param(125, "", "unknown flag: --validate\nSee 'dockerd --help'.\n",
                 (None, "unknown flag: --validate See 'dockerd --help'."), id="20.10 cannot validate"),
    pytest.param(2, "", "", (False, "exit status 2"), id="silent failure"),
])
def test_validate_answer(rc, stdout, stderr, expected):
    assert validate_answer(rc, stdout, stderr) == expected


# --- backups ------------------------------------------------------------------------------------------------------

def test_backup_name_is_ansibles():
    assert backup_name("/etc/docker/daemon.json", 42, time.strptime("2026-11-28 09:20:01", "%Y-%m-%d %H:%M:%S")) == (
        "/etc/docker/daemon.json.42.2026-11-28@09:20:01~")


def test_stale_backups_are_the_oldest_beyond_keep():
    entries = [("daemon.json.9.2026-01-03@10:00:00~", 5), ("daemon.json.7.2026-01-01@10:00:00~", 9),
               ("daemon.json.8.2026-01-02@10:00:00~", 1), ("daemon.json.6.2026-01-02@10:00:00~", 2),
               ("daemon.json", 0), ("daemon.json.bak", 0), ("other.json.1.2026-01-01@10:00:00~", 0), ("daemon.json.1.x~", 0)]
    # the stamp in the name orders them; the file's time only breaks a tie within one second
    assert stale_backups("daemon.json", entries, 2) == ["daemon.json.7.2026-01-01@10:00:00~", "daemon.json.8.2026-01-02@10:00:00~"]
    assert stale_backups("daemon.json", entries, 10) == []
