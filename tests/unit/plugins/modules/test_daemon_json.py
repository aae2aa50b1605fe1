"""daemon_json on real files: merges, keeps the user's keys, backs up, refuses bad JSON, honest check mode."""

import json
from unittest import mock

import pytest
from ansible.module_utils._internal import _traceback
from ansible.module_utils.testing import patch_module_args

from ansible_collections.mhnet.cluster.plugins.modules import daemon_json

STORE = {"cluster-store": "consul://192.168.151.2:8500", "cluster-advertise": "eth1:2376"}


def run(capsys, **args):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            daemon_json.main()
    return json.loads(capsys.readouterr().out)


@pytest.fixture()
def config(tmp_path):
    path = tmp_path / "daemon.json"
    path.write_text('{"log-level": "warn", "labels": ["site=lab"]}')
    return path


def test_merge_keeps_the_users_keys_and_backs_up(config, capsys):
    result = run(capsys, path=str(config), settings=STORE)
    assert result["changed"] is True
    assert json.loads(config.read_text()) == dict(STORE, **{"log-level": "warn", "labels": ["site=lab"]})
    backup = result["backup_file"]
    assert json.loads(open(backup).read()) == {"log-level": "warn", "labels": ["site=lab"]}


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


def test_remove_drops_only_the_named_keys(config, capsys):
    run(capsys, path=str(config), settings=STORE)
    run(capsys, path=str(config), remove=["cluster-store", "cluster-advertise"])
    assert json.loads(config.read_text()) == {"log-level": "warn", "labels": ["site=lab"]}


@pytest.mark.parametrize("text, message", [
    pytest.param('{"log-level": ', "is not valid JSON (", id="invalid JSON"),
    pytest.param("[1, 2]", "holds a JSON array, not a JSON object", id="array"),
])
def test_invalid_file_is_refused_and_left_untouched(tmp_path, capsys, text, message):
    path = tmp_path / "daemon.json"
    path.write_text(text)
    result = run(capsys, path=str(path), settings=STORE)
    assert result["failed"] is True
    # the shared parser's message, as preflight reports it
    assert result["msg"].startswith("%s %s" % (path, message))
    assert result["msg"].endswith("fix it by hand; the collection does not overwrite a daemon.json it cannot read")
    assert path.read_text() == text
    assert len(list(tmp_path.iterdir())) == 1, "no backup or temporary file"


def test_an_unreadable_file_fails_saying_what_to_do(tmp_path, capsys):
    result = run(capsys, path=str(tmp_path), settings=STORE)
    assert result["failed"] is True
    assert result["msg"].startswith("cannot read %s (" % tmp_path) and "run the task with become" in result["msg"]


def test_a_failed_write_fails_saying_what_to_do(config, capsys, monkeypatch):
    before = config.read_text()
    # read _ansible_tracebacks_for afresh: ansible caches it on a module's first failure
    monkeypatch.setattr(_traceback, "_module_tracebacks_enabled_events", None)
    with mock.patch.object(daemon_json.tempfile, "mkstemp", side_effect=PermissionError(13, "Permission denied")):
        result = run(capsys, path=str(config), settings=STORE, backup=False, _ansible_tracebacks_for=["error"])
    assert result["failed"] is True
    assert result["msg"] == ("cannot write %s ([Errno 13] Permission denied): run the task with become, or fix the directory's permissions"
                             % config)
    assert "DaemonJsonError" in result["exception"] and "PermissionError" in result["exception"]
    assert config.read_text() == before
