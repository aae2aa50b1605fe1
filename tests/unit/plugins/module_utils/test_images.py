"""Archive manifests: pure helpers, tested as tables. (Recipe digests belong to the lab: lab/tests.)"""

import io
import json
import tarfile

import pytest

from ansible_collections.mhnet.cluster.plugins.module_utils._images import ArchiveError, archive_images


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
