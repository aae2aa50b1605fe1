"""image_archive's module against a mocked engine: loads only what the engine lacks, writes nothing in check mode.

The module is the host side of an action plugin (tests/unit/plugins/action/test_image_archive_action.py): here it is
called as the action calls it (manifests read on the controller, with or without a copy on the host), and alone with
remote_src.
"""

import io
import json
import os
import stat
import tarfile
from unittest import mock

import pytest
from ansible.module_utils._internal import _traceback
from ansible.module_utils.testing import patch_module_args
from docker.errors import APIError

from ansible_collections.mhnet.cluster.plugins.module_utils import _docker_client
from ansible_collections.mhnet.cluster.plugins.module_utils._docker_client import NotFound
from ansible_collections.mhnet.cluster.plugins.modules import image_archive

NGINX_ID = "sha256:" + "a" * 64
BUSYBOX_ID = "sha256:" + "c" * 64
OTHER_ID = "sha256:" + "b" * 64


def write_archive(path, images):
    """A `docker save` archive (legacy layout, no layers) holding images: {tag: image ID}."""
    by_id = {}
    for tag, image in images.items():
        by_id.setdefault(image, []).append(tag)
    manifest = [{"Config": image.split(":", 1)[1] + ".json", "RepoTags": tags, "Layers": []} for image, tags in by_id.items()]
    with tarfile.open(path, "w") as tar:
        data = json.dumps(manifest).encode()
        info = tarfile.TarInfo("manifest.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return str(path)


def engine(image_ids):
    """A mocked low-level client whose images are image_ids ({tag: ID}); load_image installs the streamed archive's images."""
    client = mock.Mock()

    def inspect_image(tag):
        if tag not in image_ids:
            raise NotFound("no such image")
        return {"Id": image_ids[tag]}

    def load_image(data):
        with tarfile.open(fileobj=data) as tar:
            for entry in json.load(tar.extractfile("manifest.json")):
                for tag in entry["RepoTags"]:
                    image_ids[tag] = "sha256:" + entry["Config"][: -len(".json")]
        return iter([{"stream": "Loaded image\n"}])

    client.inspect_image.side_effect = inspect_image
    client.load_image.side_effect = load_image
    return client


@pytest.fixture()
def nginx(tmp_path):
    return write_archive(tmp_path / "nginx.tar", {"nginx:lab": NGINX_ID})


@pytest.fixture()
def busybox(tmp_path):
    return write_archive(tmp_path / "busybox.tar", {"busybox:lab": BUSYBOX_ID})


@pytest.fixture(autouse=True)
def default_engine(monkeypatch):
    """The default engine, without TLS: no DOCKER_* variable of the machine running the tests leaks in."""
    for name in [name for name in os.environ if name.startswith("DOCKER_")]:
        monkeypatch.delenv(name)


def run(args, client, capsys):
    """Run the module against a mocked SDK client, through the real connect() and its error boundary; its result."""
    with patch_module_args(args), mock.patch.object(_docker_client, "APIClient", return_value=client):
        with pytest.raises(SystemExit):
            image_archive.main()
    return json.loads(capsys.readouterr().out)


def manifest(archive, images, path=None):
    """An entry of manifests as the action plugin sends it."""
    entry = dict(archive=archive, images=images)
    if path:
        entry["path"] = path
    return entry


@pytest.mark.parametrize(
    "present, check_mode, changed, loads",
    [
        pytest.param({}, False, True, True, id="missing image is loaded"),
        pytest.param({"nginx:lab": OTHER_ID}, False, True, True, id="tag on another image is reloaded"),
        pytest.param({"nginx:lab": NGINX_ID}, False, False, False, id="same image ID is not loaded again"),
        pytest.param({}, True, True, False, id="check mode reports the load and writes nothing"),
        pytest.param({"nginx:lab": NGINX_ID}, True, False, False, id="check mode with nothing to do"),
    ],
)
def test_remote_src_loads_only_what_the_engine_lacks(nginx, capsys, present, check_mode, changed, loads):
    client = engine(dict(present))
    result = run({"archives": [nginx], "remote_src": True, "_ansible_check_mode": check_mode, "_ansible_diff": True}, client, capsys)
    assert result["changed"] is changed
    assert client.load_image.called is loads
    assert result["images"] == {"nginx:lab": NGINX_ID}
    assert result["loaded"] == (["nginx:lab"] if changed else [])
    assert result["archives"] == ([nginx] if changed else [])
    assert result["diff"] == {"before": {"images": present}, "after": {"images": {"nginx:lab": NGINX_ID}}}
    assert os.path.exists(nginx), "an archive on the host is never removed"


def test_remote_src_loads_each_archive_the_engine_lacks_once(nginx, busybox, capsys):
    client = engine({"busybox:lab": BUSYBOX_ID})
    result = run({"archives": [nginx, busybox, nginx], "remote_src": True}, client, capsys)
    assert (result["changed"], result["archives"], result["loaded"]) == (True, [nginx], ["nginx:lab"])
    assert client.load_image.call_count == 1


def test_manifests_without_a_copy_are_only_compared(nginx, busybox, capsys):
    # the action's first call: the archives are on the controller; the answer says which ones to copy
    client = engine({"busybox:lab": BUSYBOX_ID})
    args = {"archives": [nginx, busybox], "manifests": [manifest(nginx, {"nginx:lab": NGINX_ID}), manifest(busybox, {"busybox:lab": BUSYBOX_ID})]}
    result = run(args, client, capsys)
    assert (result["archives"], result["loaded"], result["kept"], result["removed"]) == ([nginx], ["nginx:lab"], [], [])
    assert not client.load_image.called


def test_a_copy_is_loaded_and_left_for_the_action_to_remove(nginx, tmp_path, capsys):
    client = engine({})
    args = {"archives": [nginx], "manifests": [manifest(nginx, {"nginx:lab": NGINX_ID}, path=nginx)], "dest": str(tmp_path / "kept")}
    result = run(args, client, capsys)
    assert (result["changed"], result["loaded"], result["kept"]) == (True, ["nginx:lab"], [])
    assert client.load_image.call_count == 1
    assert os.path.exists(nginx) and not os.path.exists(tmp_path / "kept")


def test_keep_archives_moves_the_loaded_copy_to_dest(nginx, tmp_path, capsys):
    copy_path = tmp_path / "copy.tar"
    os.link(nginx, copy_path)
    dest = tmp_path / "kept"
    args = {"archives": [nginx], "keep_archives": True, "dest": str(dest),
            "manifests": [manifest(nginx, {"nginx:lab": NGINX_ID}, path=str(copy_path))]}
    result = run(args, engine({}), capsys)
    kept = str(dest / "nginx.tar")
    assert result["kept"] == [kept]
    assert not copy_path.exists()
    assert stat.S_IMODE(os.stat(kept).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o700


def test_keep_archives_in_check_mode_reports_where_and_writes_nothing(nginx, tmp_path, capsys):
    dest = tmp_path / "kept"
    args = {"archives": [nginx], "keep_archives": True, "dest": str(dest), "_ansible_check_mode": True,
            "manifests": [manifest(nginx, {"nginx:lab": NGINX_ID})]}
    result = run(args, engine({}), capsys)
    assert (result["changed"], result["kept"]) == (True, [str(dest / "nginx.tar")])
    assert not dest.exists()


@pytest.mark.parametrize(
    "keep_archives, check_mode, contents, removed",
    [
        pytest.param(False, False, {"nginx:lab": NGINX_ID}, True, id="a copy an earlier run kept is removed"),
        pytest.param(False, True, {"nginx:lab": NGINX_ID}, False, id="check mode reports it and removes nothing"),
        pytest.param(True, False, {"nginx:lab": NGINX_ID}, False, id="kept with keep_archives"),
        pytest.param(False, False, {"nginx:other": OTHER_ID}, False, id="another archive of that name is not ours"),
    ],
)
def test_copies_earlier_runs_kept_go_without_keep_archives(nginx, tmp_path, capsys, keep_archives, check_mode, contents, removed):
    dest = tmp_path / "kept"
    dest.mkdir()
    earlier = write_archive(dest / "nginx.tar", contents)
    args = {"archives": [nginx], "keep_archives": keep_archives, "dest": str(dest), "_ansible_check_mode": check_mode,
            "manifests": [manifest(nginx, {"nginx:lab": NGINX_ID})]}
    result = run(args, engine({"nginx:lab": NGINX_ID}), capsys)
    reported = not keep_archives and contents == {"nginx:lab": NGINX_ID}
    assert result["removed"] == ([earlier] if reported else [])
    assert result["changed"] is reported
    assert os.path.exists(earlier) is not removed


def test_a_tag_two_archives_give_different_ids_is_refused(nginx, tmp_path, capsys):
    other = write_archive(tmp_path / "other.tar", {"nginx:lab": OTHER_ID})
    client = engine({})
    result = run({"archives": [nginx, other], "remote_src": True}, client, capsys)
    assert result["failed"] is True
    assert result["msg"] == "nginx:lab is %s in %s but %s in %s: keep one of the archives, or tag the images apart" % (NGINX_ID, nginx, OTHER_ID, other)
    assert not client.load_image.called


def test_keep_archives_refuses_two_archives_of_one_name(nginx, tmp_path, capsys):
    (tmp_path / "b").mkdir()
    other = write_archive(tmp_path / "b" / "nginx.tar", {"nginx:other": OTHER_ID})
    args = {"archives": [nginx, other], "keep_archives": True, "dest": "/kept",
            "manifests": [manifest(nginx, {"nginx:lab": NGINX_ID}), manifest(other, {"nginx:other": OTHER_ID})]}
    result = run(args, engine({}), capsys)
    assert result["failed"] is True
    assert result["msg"] == ("with keep_archives, each archive is kept in /kept under its file name, and nginx.tar is the name of %s, %s: "
                             "rename the archives" % (nginx, other))


def test_without_the_action_or_remote_src_it_says_how_to_run_it(nginx, capsys):
    result = run({"archives": [nginx]}, engine({}), capsys)
    assert result["failed"] is True
    assert "set remote_src: true for archives that are on the host" in result["msg"]


def test_a_load_that_leaves_the_tag_elsewhere_fails(nginx, capsys):
    client = engine({})
    client.load_image.side_effect = lambda data: iter([])
    result = run({"archives": [nginx], "remote_src": True}, client, capsys)
    assert result["failed"] is True
    assert result["msg"] == "after loading %s the engine still lacks nginx:lab" % nginx


def test_an_error_event_from_the_engine_fails_with_its_message(nginx, capsys):
    client = engine({})
    client.load_image.side_effect = lambda data: iter([{"error": "no space left on device"}])
    result = run({"archives": [nginx], "remote_src": True}, client, capsys)
    assert result["failed"] is True
    assert result["msg"] == "loading %s failed: no space left on device" % nginx


def test_a_missing_archive_on_the_host_fails_naming_it(tmp_path, capsys):
    result = run({"archives": [str(tmp_path / "missing.tar")], "remote_src": True}, engine({}), capsys)
    assert result["failed"] is True
    assert result["msg"].startswith("%s is not a readable docker image archive" % (tmp_path / "missing.tar"))


def test_a_refused_load_fails_naming_the_call_and_the_engine(nginx, capsys, monkeypatch):
    client = engine({})
    client.load_image.side_effect = APIError("500 Server Error: no space left on device")
    # read _ansible_tracebacks_for afresh: ansible caches it on a module's first failure
    monkeypatch.setattr(_traceback, "_module_tracebacks_enabled_events", None)
    result = run({"archives": [nginx], "remote_src": True, "_ansible_tracebacks_for": ["error"]}, client, capsys)
    assert result["failed"] is True
    assert result["msg"] == "load_image on the Docker engine at unix:///var/run/docker.sock failed: 500 Server Error: no space left on device"
    assert "EngineError" in result["exception"]


def test_an_archive_that_cannot_be_opened_for_the_load_fails_saying_what_to_do(nginx, capsys):
    client = engine({})
    # the module's own open() (the load), not tarfile's (the manifest)
    with mock.patch.object(image_archive, "open", create=True, side_effect=PermissionError(13, "Permission denied")):
        result = run({"archives": [nginx], "remote_src": True}, client, capsys)
    assert result["failed"] is True
    assert result["msg"] == "cannot read %s ([Errno 13] Permission denied): run the task with become, or fix the file's permissions" % nginx
    assert not client.load_image.called
