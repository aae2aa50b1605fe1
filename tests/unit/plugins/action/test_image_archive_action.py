"""image_archive's action plugin in a fake action context: copies only what the engine lacks, nothing in check mode.

The fake host has a directory of the test as its filesystem and a mocked Docker client as its engine; the module
runs for real on it, with the arguments the action sends (so they must survive JSON, as they do on a real host).
"""

import contextlib
import io
import json
import os
import tarfile
from unittest import mock

import pytest
from ansible.module_utils._internal import _traceback
from ansible.module_utils.testing import patch_module_args

from ansible_collections.mhnet.cluster.plugins.module_utils import _docker_client
from ansible_collections.mhnet.cluster.plugins.module_utils._docker_client import NotFound
from ansible_collections.mhnet.cluster.plugins.modules import image_archive

NGINX = {"nginx:lab": "sha256:" + "a" * 64}
BUSYBOX = {"busybox:lab": "sha256:" + "c" * 64}


def write_archive(path, images):
    """A `docker save` archive (legacy layout, no layers) holding images: {tag: image ID}, one image."""
    (image,) = set(images.values())
    data = json.dumps([{"Config": image.split(":", 1)[1] + ".json", "RepoTags": sorted(images), "Layers": []}]).encode()
    with tarfile.open(path, "w") as tar:
        info = tarfile.TarInfo("manifest.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return str(path)


class Host:
    """A target: its filesystem is a directory, its engine a mocked client holding images ({tag: ID})."""

    def __init__(self, root, images):
        self.root = root
        self.root.mkdir()
        self.images = dict(images)
        self.transfers = []  # (controller path, host path)
        self.calls = []  # the module's arguments, one entry per module run
        self.client = mock.Mock()
        self.client.inspect_image.side_effect = self.inspect_image
        self.client.load_image.side_effect = self.load_image

    def inspect_image(self, tag):
        if tag not in self.images:
            raise NotFound("no such image")
        return {"Id": self.images[tag]}

    def load_image(self, data):
        with tarfile.open(fileobj=data) as tar:
            for entry in json.load(tar.extractfile("manifest.json")):
                for tag in entry["RepoTags"]:
                    self.images[tag] = "sha256:" + entry["Config"][: -len(".json")]
        return iter([{"stream": "Loaded image\n"}])

    def files(self):
        return sorted(os.path.relpath(os.path.join(parent, name), self.root) for parent, dummy, names in os.walk(self.root) for name in names)


@pytest.fixture()
def action_class(monkeypatch):
    """The action plugin, imported here and not at collection: the controller's imports load its display, which makes
    the controller's traceback setting the one that every in-process module run of the session reads; monkeypatch
    puts back the module's own (`_ansible_tracebacks_for`), which the module tests check, after each test."""
    monkeypatch.setattr(_traceback, "_is_traceback_enabled", _traceback._is_traceback_enabled)
    from ansible_collections.mhnet.cluster.plugins.action.image_archive import ActionModule

    return ActionModule


@pytest.fixture(autouse=True)
def default_engine(monkeypatch):
    """The default engine, without TLS: no DOCKER_* variable of the machine running the tests leaks in."""
    for name in [name for name in os.environ if name.startswith("DOCKER_")]:
        monkeypatch.delenv(name)


@pytest.fixture()
def archives(tmp_path):
    """The controller's archives."""
    controller = tmp_path / "controller"
    controller.mkdir()
    return dict(nginx=write_archive(controller / "nginx.tar", NGINX), busybox=write_archive(controller / "busybox.tar", BUSYBOX))


def make_action(action_class, host, args, check_mode=False, diff=False, become_unprivileged=False):
    """The action plugin with a fake connection to host: temp directories, transfers and module runs go to host."""
    from ansible.errors import AnsibleFileNotFound  # with the controller's imports, inside action_class's monkeypatch

    task = mock.Mock(args=args, check_mode=check_mode, diff=diff, async_val=0, action="mhnet.cluster.image_archive")
    connection = mock.Mock()
    connection._shell.tmpdir = None
    connection._shell.join_path.side_effect = os.path.join
    action = action_class(task, connection, play_context=mock.Mock(), loader=mock.Mock(), templar=mock.Mock())

    def make_tmp_path():
        connection._shell.tmpdir = str(host.root / "ansible-tmp-1")
        os.mkdir(connection._shell.tmpdir)
        return connection._shell.tmpdir

    def remove_tmp_path(path):
        for parent, dirs, names in os.walk(path, topdown=False):
            for name in names:
                os.remove(os.path.join(parent, name))
            os.rmdir(parent)
        connection._shell.tmpdir = None

    def transfer_file(local, remote):
        host.transfers.append((local, os.path.relpath(remote, host.root)))
        with open(local, "rb") as source, open(remote, "wb") as target:
            target.write(source.read())
        return remote

    def find_needle(dirname, needle):
        if not os.path.exists(needle):
            raise AnsibleFileNotFound("Could not find or access '%s' on the Ansible Controller." % needle)
        return needle

    def execute_module(module_name, module_args=None, task_vars=None):
        assert module_name == "mhnet.cluster.image_archive"
        host.calls.append(module_args)
        out = io.StringIO()
        module_args = dict(module_args, _ansible_check_mode=check_mode, _ansible_diff=diff)
        with patch_module_args(module_args), mock.patch.object(_docker_client, "APIClient", return_value=host.client):
            with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
                image_archive.main()
        result = json.loads(out.getvalue())
        result.pop("invocation", None)
        return result

    action._make_tmp_path = make_tmp_path
    action._remove_tmp_path = remove_tmp_path
    action._transfer_file = transfer_file
    action._find_needle = find_needle
    action._execute_module = execute_module
    action._is_become_unprivileged = lambda: become_unprivileged
    action._fixup_perms2 = mock.Mock()
    return action


@pytest.fixture()
def run(action_class):
    """run(host, task args, check_mode=..., diff=...): the action's result."""
    return lambda host, args, **kwargs: make_action(action_class, host, args, **kwargs).run(task_vars={})


def test_nothing_is_copied_when_the_engine_has_every_image(tmp_path, archives, run):
    host = Host(tmp_path / "host", dict(NGINX, **BUSYBOX))
    result = run(host, {"archives": [archives["nginx"], archives["busybox"]]})
    assert (result["changed"], result["archives"], result["loaded"]) == (False, [], [])
    assert result["images"] == dict(NGINX, **BUSYBOX)
    assert host.transfers == [] and host.files() == []
    assert len(host.calls) == 1, "one module run: the comparison"
    assert not host.client.load_image.called


def test_a_missing_image_copies_and_loads_only_its_archive_then_removes_the_copy(tmp_path, archives, run):
    host = Host(tmp_path / "host", BUSYBOX)
    args = {"archives": [archives["nginx"], archives["busybox"]]}
    result = run(host, args)
    assert (result["changed"], result["archives"], result["loaded"], result["kept"]) == (True, [archives["nginx"]], ["nginx:lab"], [])
    assert result["images"] == dict(NGINX, **BUSYBOX)
    assert host.transfers == [(archives["nginx"], "ansible-tmp-1/0-nginx.tar")]
    assert host.images == dict(NGINX, **BUSYBOX)
    assert host.files() == [], "the copy goes with the temporary directory"
    # and the next run copies nothing
    host.transfers, host.calls = [], []
    again = run(host, args)
    assert (again["changed"], host.transfers, len(host.calls)) == (False, [], 1)


def test_check_mode_copies_nothing_and_reports_what_would_load(tmp_path, archives, run):
    host = Host(tmp_path / "host", {})
    result = run(host, {"archives": [archives["nginx"], archives["busybox"]]}, check_mode=True)
    assert (result["changed"], result["archives"], result["loaded"]) == (True, [archives["nginx"], archives["busybox"]], ["busybox:lab", "nginx:lab"])
    assert host.transfers == [] and host.files() == [] and len(host.calls) == 1
    assert host.images == {}


def test_diff_shows_the_engine_before_the_copies(tmp_path, archives, run):
    host = Host(tmp_path / "host", BUSYBOX)
    result = run(host, {"archives": [archives["nginx"], archives["busybox"]]}, diff=True)
    assert result["diff"] == {"before": {"images": BUSYBOX}, "after": {"images": dict(NGINX, **BUSYBOX)}}


def test_keep_archives_keeps_the_loaded_copy_in_dest(tmp_path, archives, run):
    host = Host(tmp_path / "host", BUSYBOX)
    dest = str(host.root / "kept")
    result = run(host, {"archives": [archives["nginx"], archives["busybox"]], "keep_archives": True, "dest": dest})
    assert result["kept"] == [os.path.join(dest, "nginx.tar")]
    assert host.files() == ["kept/nginx.tar"], "kept in dest, and the temporary directory removed"


def test_without_keep_archives_a_copy_an_earlier_run_kept_is_removed(tmp_path, archives, run):
    host = Host(tmp_path / "host", dict(NGINX, **BUSYBOX))
    (host.root / "kept").mkdir()
    earlier = write_archive(host.root / "kept" / "nginx.tar", NGINX)
    result = run(host, {"archives": [archives["nginx"], archives["busybox"]], "dest": str(host.root / "kept")})
    assert (result["changed"], result["removed"], result["archives"]) == (True, [earlier], [])
    assert host.files() == [] and host.transfers == []


def test_a_failed_load_still_removes_the_copies(tmp_path, archives, run):
    host = Host(tmp_path / "host", {})
    host.client.load_image.side_effect = lambda data: iter([{"error": "no space left on device"}])
    result = run(host, {"archives": [archives["nginx"]]})
    assert result["failed"] is True
    assert result["msg"] == "loading %s failed: no space left on device" % os.path.join(str(host.root), "ansible-tmp-1", "0-nginx.tar")
    assert host.files() == []


def test_archives_missing_on_the_controller_are_named_together_before_any_host_call(tmp_path, archives, run):
    host = Host(tmp_path / "host", {})
    result = run(host, {"archives": [archives["nginx"], "/nowhere/a.tar", "/nowhere/b.tar"]})
    assert result["failed"] is True
    assert result["msg"].startswith("no archive /nowhere/a.tar, /nowhere/b.tar on the controller: ")
    assert host.calls == []


def test_a_file_that_is_no_archive_is_refused_on_the_controller(tmp_path, archives, run):
    host = Host(tmp_path / "host", {})
    bad = tmp_path / "controller" / "bad.tar"
    bad.write_text("not a tar")
    result = run(host, {"archives": [str(bad)]})
    assert result["failed"] is True and result["msg"].startswith("%s is not a readable docker image archive" % bad)
    assert host.calls == []


def test_remote_src_is_one_module_run_on_the_host(tmp_path, archives, run):
    host = Host(tmp_path / "host", {})
    result = run(host, {"archives": [archives["nginx"]], "remote_src": True})
    assert (result["changed"], result["loaded"]) == (True, ["nginx:lab"])
    assert len(host.calls) == 1 and "manifests" not in host.calls[0]
    assert host.transfers == []
    assert os.path.exists(archives["nginx"]), "an archive that was on the host stays"


def test_no_archives_is_no_host_call(tmp_path, run):
    host = Host(tmp_path / "host", {})
    result = run(host, {"archives": []})
    assert result["changed"] is False and host.calls == []


def test_connection_options_reach_the_module_as_given(tmp_path, archives, run):
    # their defaults and DOCKER_* fallbacks are the host's: the controller adds none
    host = Host(tmp_path / "host", dict(NGINX))
    run(host, {"archives": [archives["nginx"]], "docker_host": "tcp://192.0.2.23:2376", "timeout": 300, "manifests": "forged"})
    (call,) = host.calls
    assert (call["docker_host"], call["timeout"]) == ("tcp://192.0.2.23:2376", 300)
    assert "tls" not in call and "dest" not in call
    assert call["manifests"] == [{"archive": archives["nginx"], "images": NGINX}]


def test_an_invalid_option_fails_before_any_host_call(tmp_path, archives, run):
    host = Host(tmp_path / "host", {})
    result = run(host, {"archives": [archives["nginx"]], "keep_archives": "perhaps"})
    assert result["failed"] is True and "keep_archives" in result["msg"]
    assert host.calls == []


def test_a_become_user_other_than_root_is_let_read_the_copies(tmp_path, archives, action_class):
    host = Host(tmp_path / "host", {})
    action = make_action(action_class, host, {"archives": [archives["nginx"]]}, become_unprivileged=True)
    action.run(task_vars={})
    tmpdir = str(host.root / "ansible-tmp-1")
    action._fixup_perms2.assert_called_once_with([tmpdir, os.path.join(tmpdir, "0-nginx.tar")], execute=False)
