"""The lab's lab_image module (lab/roles/lab/library, not a collection module): recipe digests and check mode."""

import importlib.util
import json
import os
from unittest import mock

import pytest
from ansible.module_utils.testing import patch_module_args

LIBRARY = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "roles", "lab", "library")
_spec = importlib.util.spec_from_file_location("lab_image", os.path.join(LIBRARY, "lab_image.py"))
lab_image = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lab_image)


def test_recipe_digest_is_stable_and_follows_every_input(tmp_path):
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM scratch\n")
    extra = tmp_path / "extra.deb"
    extra.write_bytes(b"deb")

    def digest(recipe=None):
        return lab_image.recipe_digest(recipe or {"BASE": "x"}, str(context), {"extra.deb": str(extra)})

    first = digest()
    assert first == digest(), "same inputs, same digest"
    assert digest({"BASE": "y"}) != first, "a parameter changed"
    (context / "Dockerfile").write_text("FROM scratch\nCMD [\"sh\"]\n")
    second = digest()
    assert second != first, "a context file changed"
    extra.write_bytes(b"other deb")
    third = digest()
    assert third != second, "an extra file changed"
    (context / "new-file").write_text("x")
    assert digest() != third, "a file was added to the context"


def test_a_debootstrap_recipe_keeps_its_digest():
    # The tag of an image the lab has built (mhnet-lab/debian:bookworm-4fdb990e2aaf): while the digest stays the
    # same, images already built are found again instead of rebuilt.
    recipe = {"debootstrap": {"suite": "bookworm", "mirror": "http://deb.debian.org/debian", "include": []},
              "logic": lab_image.BUILD_LOGIC_VERSION}
    assert lab_image.recipe_digest(recipe)[:12] == "4fdb990e2aaf"


def run(capsys, args, present):
    """Run the module with a mocked docker CLI; return (result, every command it ran)."""
    commands = []

    def run_command(self, argv, cwd=None):
        commands.append(list(argv))
        if argv[1:3] == ["image", "inspect"]:
            return (0, "sha256:" + "a" * 64 + "\n", "") if present else (1, "", "No such image")
        return 0, "", ""

    with patch_module_args(args), \
            mock.patch.object(lab_image.AnsibleModule, "get_bin_path", lambda self, name, **kw: "/usr/bin/" + name), \
            mock.patch.object(lab_image.AnsibleModule, "run_command", run_command):
        with pytest.raises(SystemExit):
            lab_image.main()
    return json.loads(capsys.readouterr().out), commands


@pytest.fixture()
def context(tmp_path):
    path = tmp_path / "nginx"
    path.mkdir()
    (path / "Dockerfile").write_text("ARG BASE\nFROM $BASE\n")
    return str(path)


@pytest.mark.parametrize(
    "present, check_mode, changed, builds",
    [
        pytest.param(False, False, True, True, id="missing image is built"),
        pytest.param(True, False, False, False, id="an unchanged recipe finds its image"),
        pytest.param(False, True, True, False, id="check mode reports the build and runs none"),
        pytest.param(True, True, False, False, id="check mode with nothing to do"),
    ],
)
def test_builds_only_what_is_missing(tmp_path, capsys, context, present, check_mode, changed, builds):
    args = {"name": "mhnet-lab/nginx", "tag": "bookworm", "context": context, "build_args": {"BASE": "b"},
            "work_dir": str(tmp_path), "_ansible_check_mode": check_mode, "_ansible_diff": True}
    result, commands = run(capsys, args, present)
    assert result["changed"] is changed
    assert any(argv[1] == "build" for argv in commands) is builds
    assert result["image"].startswith("mhnet-lab/nginx:bookworm-")
    assert len(result["image"].rsplit("-", 1)[1]) == 12
    assert result["diff"]["after"]["image"] == result["image"]
    # The same recipe gives the same tag, run after run.
    again, dummy = run(capsys, args, present)
    assert again["image"] == result["image"]
