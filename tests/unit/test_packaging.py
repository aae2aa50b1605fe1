"""Packaging metadata agrees with itself: requirements.yml and galaxy.yml name the same collections and ranges."""

import os

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load(path):
    with open(os.path.join(REPO, path), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def test_requirements_yml_matches_galaxy_dependencies():
    requirements = {entry["name"]: entry["version"] for entry in load("requirements.yml")["collections"]}
    assert requirements == load("galaxy.yml")["dependencies"]


def test_community_docker_range_is_bounded_by_tried_versions():
    """The range names the two versions tried (README "Supported versions"): no open upper end."""
    spec = load("galaxy.yml")["dependencies"]["community.docker"]
    parts = [part.strip() for part in spec.split(",")]
    assert any(part.startswith(">=") for part in parts) and any(part.startswith(("<=", "<")) for part in parts)
