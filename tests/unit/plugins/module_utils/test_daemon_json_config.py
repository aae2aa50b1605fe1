"""The one daemon.json parser that preflight and daemon_json share: tables of texts and files."""

import re

import pytest

from ansible_collections.mhnet.cluster.plugins.module_utils._daemon_json import (
    DaemonJsonError,
    json_name,
    parse_daemon_json,
    read_daemon_json,
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
