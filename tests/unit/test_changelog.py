"""tools/changelog.py: the fragment check on a throwaway git history (one commit, a change with and without one)."""

import importlib.util
import os
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPEC = importlib.util.spec_from_file_location("changelog_tool", os.path.join(REPO, "tools", "changelog.py"))
changelog = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(changelog)


def commit(repo, files, message):
    for path, text in files.items():
        os.makedirs(os.path.dirname(os.path.join(repo, path)) or repo, exist_ok=True)
        with open(os.path.join(repo, path), "w", encoding="utf-8") as handle:
            handle.write(text)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", message], cwd=repo,
                   check=True)


@pytest.fixture()
def history(tmp_path, monkeypatch):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    monkeypatch.setattr(changelog, "REPO", str(tmp_path))
    monkeypatch.delenv("CHANGELOG_BASE", raising=False)
    commit(str(tmp_path), {"roles/a/tasks/main.yml": "---\n"}, "first")
    return str(tmp_path)


def test_a_clone_with_only_head_passes(history):
    problems, note = changelog.fragment_problems()
    assert problems == [] and "no parent" in note


def test_a_role_change_without_a_fragment_fails_naming_the_command(history):
    commit(history, {"roles/a/tasks/main.yml": "---\n# changed\n"}, "change")
    (problem,) = changelog.fragment_problems()[0]
    assert "roles/a/tasks/main.yml" in problem and "changelogs/fragments/" in problem and "make changelog" in problem


def test_a_plugin_change_with_a_fragment_passes(history):
    commit(history, {"plugins/modules/x.py": "", "changelogs/fragments/x.yml": "bugfixes:\n  - x\n"}, "change")
    assert changelog.fragment_problems()[0] == []


def test_a_change_elsewhere_needs_no_fragment(history):
    commit(history, {"README.md": "x\n"}, "docs")
    assert changelog.fragment_problems()[0] == []


def test_changelog_base_widens_the_range(history, monkeypatch):
    commit(history, {"roles/a/tasks/main.yml": "---\n# changed\n"}, "change")
    commit(history, {"README.md": "x\n"}, "docs")
    assert changelog.fragment_problems()[0] == []
    monkeypatch.setenv("CHANGELOG_BASE", "HEAD~2")
    assert changelog.fragment_problems()[0] != []
