"""Archive manifests and which archives an engine needs: pure helpers, tested as tables. (Recipe digests belong to the lab: lab/tests.)"""

import io
import json
import tarfile

import pytest

from ansible_collections.mhnet.cluster.plugins.module_utils._images import (
    ArchiveError,
    all_images,
    archive_images,
    archives_to_load,
    duplicate_names,
    kept_path,
    missing_tags,
)


def write_archive(path, manifest):
    with tarfile.open(path, "w") as archive:
        data = json.dumps(manifest).encode()
        info = tarfile.TarInfo("manifest.json")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return str(path)


@pytest.mark.parametrize(
    "manifest, expected",
    [
        pytest.param(
            [{"Config": "0b8e1c.json", "RepoTags": ["nginx:1", "nginx:latest"], "Layers": []}],
            {"nginx:1": "sha256:0b8e1c", "nginx:latest": "sha256:0b8e1c"},
            id="legacy layout, two tags",
        ),
        pytest.param(
            [{"Config": "blobs/sha256/77aa", "RepoTags": ["busybox:trixie"], "Layers": []}],
            {"busybox:trixie": "sha256:77aa"},
            id="OCI layout (Docker 25+)",
        ),
        pytest.param(
            [
                {"Config": "aa.json", "RepoTags": ["a:1"], "Layers": []},
                {"Config": "bb.json", "RepoTags": ["b:1"], "Layers": []},
            ],
            {"a:1": "sha256:aa", "b:1": "sha256:bb"},
            id="two images",
        ),
    ],
)
def test_archive_images_reads_tags_and_ids(tmp_path, manifest, expected):
    assert archive_images(write_archive(tmp_path / "a.tar", manifest)) == expected


def test_archive_without_tags_is_refused(tmp_path):
    path = write_archive(tmp_path / "a.tar", [{"Config": "aa.json", "RepoTags": None, "Layers": []}])
    with pytest.raises(ArchiveError, match="no tagged image"):
        archive_images(path)


def test_a_file_that_is_not_an_archive_is_refused(tmp_path):
    path = tmp_path / "not.tar"
    path.write_text("hello")
    with pytest.raises(ArchiveError, match="not a readable docker image archive"):
        archive_images(str(path))


def test_a_compressed_archive_is_read(tmp_path):
    path = tmp_path / "a.tar.gz"
    data = json.dumps([{"Config": "aa.json", "RepoTags": ["a:1"], "Layers": []}]).encode()
    with tarfile.open(path, "w:gz") as archive:
        info = tarfile.TarInfo("manifest.json")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    assert archive_images(str(path)) == {"a:1": "sha256:aa"}


NGINX = {"archive": "/a/nginx.tar", "images": {"nginx:1": "sha256:aa", "nginx:latest": "sha256:aa"}}
BUSYBOX = {"archive": "/a/busybox.tar", "images": {"busybox:1": "sha256:bb"}}
NGINX_AGAIN = {"archive": "/b/nginx-copy.tar", "images": {"nginx:1": "sha256:aa"}}


@pytest.mark.parametrize(
    "manifests, expected",
    [
        pytest.param([], {}, id="none"),
        pytest.param([NGINX, BUSYBOX], {"nginx:1": "sha256:aa", "nginx:latest": "sha256:aa", "busybox:1": "sha256:bb"}, id="two archives"),
        pytest.param([NGINX, NGINX_AGAIN], NGINX["images"], id="a tag in two archives with one ID"),
    ],
)
def test_all_images_merges_the_archives(manifests, expected):
    assert all_images(manifests) == expected


def test_all_images_refuses_a_tag_with_two_ids():
    other = {"archive": "/b/nginx.tar", "images": {"nginx:1": "sha256:cc"}}
    with pytest.raises(ArchiveError, match=r"^nginx:1 is sha256:aa in /a/nginx.tar but sha256:cc in /b/nginx.tar: keep one"):
        all_images([NGINX, other])


@pytest.mark.parametrize(
    "wanted, present, expected",
    [
        pytest.param({"a:1": "sha256:aa"}, {"a:1": "sha256:aa"}, [], id="same ID"),
        pytest.param({"a:1": "sha256:aa"}, {"a:1": None}, ["a:1"], id="missing"),
        pytest.param({"a:1": "sha256:aa"}, {}, ["a:1"], id="not inspected"),
        pytest.param({"a:1": "sha256:aa", "b:1": "sha256:bb"}, {"a:1": "sha256:cc", "b:1": "sha256:bb"}, ["a:1"], id="tag on another image"),
    ],
)
def test_missing_tags(wanted, present, expected):
    assert missing_tags(wanted, present) == expected


@pytest.mark.parametrize(
    "manifests, present, expected",
    [
        pytest.param([NGINX, BUSYBOX], {"nginx:1": "sha256:aa", "nginx:latest": "sha256:aa", "busybox:1": "sha256:bb"}, [], id="engine has all"),
        pytest.param([NGINX, BUSYBOX], {"nginx:1": "sha256:aa", "nginx:latest": None, "busybox:1": "sha256:bb"},
                     [("/a/nginx.tar", ["nginx:latest"])], id="one tag missing loads its archive only"),
        pytest.param([NGINX, BUSYBOX], {}, [("/a/nginx.tar", ["nginx:1", "nginx:latest"]), ("/a/busybox.tar", ["busybox:1"])],
                     id="blank engine, in the given order"),
        pytest.param([NGINX, NGINX_AGAIN], {}, [("/a/nginx.tar", ["nginx:1", "nginx:latest"])], id="a later archive an earlier one covers"),
    ],
)
def test_archives_to_load(manifests, present, expected):
    assert [(manifest["archive"], missing) for manifest, missing in archives_to_load(manifests, present)] == expected


@pytest.mark.parametrize(
    "archives, expected",
    [
        pytest.param(["/a/x.tar", "/a/y.tar"], {}, id="distinct"),
        pytest.param(["/a/x.tar", "/b/x.tar", "/a/y.tar"], {"x.tar": ["/a/x.tar", "/b/x.tar"]}, id="one name twice"),
    ],
)
def test_duplicate_names(archives, expected):
    assert duplicate_names(archives) == expected


def test_kept_path_is_the_archive_name_in_dest():
    assert kept_path("/var/cache/mhnet/images", "/home/u/archives/nginx.tar") == "/var/cache/mhnet/images/nginx.tar"
