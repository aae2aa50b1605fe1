"""daemon_json on real files: merges, keeps the user's keys, backs up, refuses bad JSON, honest check mode."""

import json

import pytest
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


@pytest.mark.parametrize("text, message", [('{"log-level": ', "is not valid JSON"), ("[1, 2]", "not an object")])
def test_invalid_file_is_refused_and_left_untouched(tmp_path, capsys, text, message):
    path = tmp_path / "daemon.json"
    path.write_text(text)
    result = run(capsys, path=str(path), settings=STORE)
    assert result["failed"] is True and message in result["msg"]
    assert path.read_text() == text
