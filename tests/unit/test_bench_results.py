"""Committed benchmark results name no machine's paths (issue 16): logs and work directories relative to the repository."""

import glob
import json
import os
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RESULTS = sorted(glob.glob(os.path.join(REPO, "bench", "results", "*.json")))


def strings(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)
    elif isinstance(value, str):
        yield value


@pytest.mark.parametrize("path", RESULTS, ids=os.path.basename)
def test_committed_results_hold_no_absolute_log_path(path):
    with open(path, encoding="utf-8") as handle:
        result = json.load(handle)
    assert [text for text in strings(result) if text.startswith("/") and (".cache/" in text or text.endswith(".log"))] == []
    assert [text for text in strings(result) if REPO + os.sep in text] == [], "a path of the machine they ran on"


def test_bench_writes_paths_in_the_repository_relative_to_it():
    sys.path.insert(0, os.path.join(REPO, "bench"))
    try:
        import run
    finally:
        sys.path.pop(0)
    result = run.repository_relative({"log": os.path.join(REPO, ".cache", "bench", "x", "001.log"), "runs": [{"work": "/elsewhere/y"}], "n": 3,
                                      "error": "failed.\nOrigin: %s/roles/probe/tasks/main.yml:3" % REPO})
    assert result == {"log": os.path.join(".cache", "bench", "x", "001.log"), "runs": [{"work": "/elsewhere/y"}], "n": 3,
                      "error": "failed.\nOrigin: roles/probe/tasks/main.yml:3"}
