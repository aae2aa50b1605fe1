"""image_archive against a mocked engine: loads only what the engine lacks, writes nothing in check mode."""

import io
import json
import os
import tarfile
from unittest import mock

import pytest
from ansible.module_utils._internal import _traceback
from ansible.module_utils.testing import patch_module_args
from docker.errors import APIError

from ansible_collections.mhnet.cluster.plugins.module_utils import _docker_client
from ansible_collections.mhnet.cluster.plugins.module_utils._docker_client import NotFound
from ansible_collections.mhnet.cluster.plugins.modules import image_archive

ARCHIVE_ID = "sha256:" + "a" * 64


@pytest.fixture()
def archive(tmp_path):
    path = tmp_path / "nginx.tar"
    with tarfile.open(path, "w") as tar:
        data = json.dumps([{"Config": "a" * 64 + ".json", "RepoTags": ["nginx:lab"], "Layers": []}]).encode()
        info = tarfile.TarInfo("manifest.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return str(path)


def engine(image_ids):
    """A mocked low-level client whose images are {tag: id}; load_image installs the archive's image."""
    client = mock.Mock()

    def inspect_image(tag):
        if tag not in image_ids:
            raise NotFound("no such image")
        return {"Id": image_ids[tag]}

    def load_image(data):
        image_ids["nginx:lab"] = ARCHIVE_ID
        return iter([{"stream": "Loaded image: nginx:lab\n"}])

    client.inspect_image.side_effect = inspect_image
    client.load_image.side_effect = load_image
    return client


@pytest.fixture(autouse=True)
def default_engine(monkeypatch):
    """The default engine, without TLS: no DOCKER_* variable of the machine running the tests leaks in."""
    for name in [name for name in os.environ if name.startswith("DOCKER_")]:
        monkeypatch.delenv(name)


def run(args, client):
    """Run the module against a mocked SDK client, through the real connect() and its error boundary."""
    with patch_module_args(args), mock.patch.object(_docker_client, "APIClient", return_value=client):
        with pytest.raises(SystemExit):
            image_archive.main()


@pytest.mark.parametrize(
    "present, check_mode, changed, loads",
    [
        pytest.param({}, False, True, True, id="missing image is loaded"),
        pytest.param({"nginx:lab": "sha256:" + "b" * 64}, False, True, True, id="tag on another image is reloaded"),
        pytest.param({"nginx:lab": ARCHIVE_ID}, False, False, False, id="same image ID is not loaded again"),
        pytest.param({}, True, True, False, id="check mode reports the load and writes nothing"),
        pytest.param({"nginx:lab": ARCHIVE_ID}, True, False, False, id="check mode with nothing to do"),
    ],
)
def test_loads_only_what_the_engine_lacks(archive, capsys, present, check_mode, changed, loads):
    client = engine(dict(present))
    run({"path": archive, "_ansible_check_mode": check_mode, "_ansible_diff": True}, client)
    result = json.loads(capsys.readouterr().out)
    assert result["changed"] is changed
    assert client.load_image.called is loads
    assert result["images"] == {"nginx:lab": ARCHIVE_ID}
    assert result["loaded"] == (["nginx:lab"] if changed else [])
    assert result["diff"]["after"] == {"images": {"nginx:lab": ARCHIVE_ID}}


def test_a_load_that_leaves_the_tag_elsewhere_fails(archive, capsys):
    client = engine({})
    client.load_image.side_effect = lambda data: iter([])
    run({"path": archive}, client)
    result = json.loads(capsys.readouterr().out)
    assert result["failed"] is True
    assert "still lacks nginx:lab" in result["msg"]


def test_an_error_event_from_the_engine_fails_with_its_message(archive, capsys):
    client = engine({})
    client.load_image.side_effect = lambda data: iter([{"error": "no space left on device"}])
    run({"path": archive}, client)
    result = json.loads(capsys.readouterr().out)
    assert result["failed"] is True
    assert "no space left on device" in result["msg"]


def test_check_mode_without_the_archive_reports_the_load(tmp_path, capsys):
    # In check mode the copy task before this one did not put the archive on the host.
    client = engine({})
    run({"path": str(tmp_path / "not-copied.tar"), "_ansible_check_mode": True}, client)
    result = json.loads(capsys.readouterr().out)
    assert result["changed"] is True
    assert not client.load_image.called and not client.inspect_image.called


def test_a_missing_archive_fails_outside_check_mode(tmp_path, capsys):
    run({"path": str(tmp_path / "missing.tar")}, engine({}))
    result = json.loads(capsys.readouterr().out)
    assert result["failed"] is True and "missing.tar" in result["msg"]


def test_a_refused_load_fails_naming_the_call_and_the_engine(archive, capsys, monkeypatch):
    client = engine({})
    client.load_image.side_effect = APIError("500 Server Error: no space left on device")
    # read _ansible_tracebacks_for afresh: ansible caches it on a module's first failure
    monkeypatch.setattr(_traceback, "_module_tracebacks_enabled_events", None)
    run({"path": archive, "_ansible_tracebacks_for": ["error"]}, client)
    result = json.loads(capsys.readouterr().out)
    assert result["failed"] is True
    assert result["msg"] == "load_image on the Docker engine at unix:///var/run/docker.sock failed: 500 Server Error: no space left on device"
    assert "EngineError" in result["exception"]


def test_an_archive_that_cannot_be_opened_for_the_load_fails_saying_what_to_do(archive, capsys):
    client = engine({})
    # the module's own open() (the load), not tarfile's (the manifest)
    with mock.patch.object(image_archive, "open", create=True, side_effect=PermissionError(13, "Permission denied")):
        run({"path": archive}, client)
    result = json.loads(capsys.readouterr().out)
    assert result["failed"] is True
    assert result["msg"] == "cannot read %s ([Errno 13] Permission denied): run the task with become, or fix the file's permissions" % archive
    assert not client.load_image.called
