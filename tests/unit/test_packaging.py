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


def test_every_role_claims_the_collection_s_oldest_ansible_core():
    """Each role's min_ansible_version is the lower bound of meta/runtime.yml's requires_ansible (one claim)."""
    oldest = load("meta/runtime.yml")["requires_ansible"].split(",")[0].strip()
    assert oldest.startswith(">=")
    claims = {role: load(os.path.join("roles", role, "meta", "main.yml"))["galaxy_info"]["min_ansible_version"]
              for role in sorted(os.listdir(os.path.join(REPO, "roles")))}
    assert claims == dict.fromkeys(claims, ".".join(oldest[2:].split(".")[:2]))  # ">=2.17.0" -> "2.17"
