"""keystore_snapshot: Consul's snapshot API through a fake opener; etcd refused before any request."""

import io
import os
import stat
from urllib.error import HTTPError, URLError

import pytest

from ansible_collections.mhnet.cluster.plugins.module_utils._store_client import StoreError
from ansible_collections.mhnet.cluster.plugins.modules.keystore_snapshot import SnapshotError, run


class Answer:
    def __init__(self, body, headers=None):
        self.body = body
        self.headers = headers or {}

    def read(self):
        return self.body

    def getcode(self):
        return 200


def params(tmp_path, **changes):
    result = dict(state="saved", path=str(tmp_path / "snap" / "consul.snap"), backend="consul", host="192.0.2.2",
                  port=8500, tls_ca=None, tls_cert=None, tls_key=None, token=None, timeout=5)
    result.update(changes)
    return result


def test_saved_writes_the_snapshot_with_mode_0600(tmp_path):
    calls = []

    def opener(url, **kwargs):
        calls.append((url, kwargs["method"], kwargs["headers"]))
        return Answer(b"SNAP", {"X-Consul-Index": "42"})

    result = run(params(tmp_path, token="t0k"), False, opener)
    assert result == dict(changed=True, size=4, index="42")
    assert calls == [("http://192.0.2.2:8500/v1/snapshot", "GET", {"X-Consul-Token": "t0k"})]
    path = tmp_path / "snap" / "consul.snap"
    assert path.read_bytes() == b"SNAP" and stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_restored_puts_the_file_over_https_with_the_client_certificate(tmp_path):
    path = tmp_path / "consul.snap"
    path.write_bytes(b"SNAP")
    calls = []

    def opener(url, **kwargs):
        calls.append((url, kwargs["method"], kwargs["data"], kwargs["client_cert"]))
        return Answer(b"")

    run(params(tmp_path, state="restored", path=str(path), port=8501, tls_ca="/ca", tls_cert="/c", tls_key="/k"), False, opener)
    assert calls == [("https://192.0.2.2:8501/v1/snapshot", "PUT", b"SNAP", "/c")]


def test_check_mode_sends_nothing(tmp_path):
    assert run(params(tmp_path), True, opener=None) == dict(changed=True)
    assert not (tmp_path / "snap").exists()


def test_etcd_is_refused_before_any_request(tmp_path):
    with pytest.raises(SnapshotError, match="Consul only"):
        run(params(tmp_path, backend="etcd"), False, opener=None)


def test_a_refused_token_says_a_management_token_is_needed(tmp_path):
    def opener(url, **kwargs):
        raise HTTPError(url, 403, "Forbidden", {}, io.BytesIO(b"Permission denied"))

    with pytest.raises(StoreError, match="consul keystore at http://192.0.2.2:8500 answered GET /v1/snapshot with "
                       "HTTP 403 .*management token"):
        run(params(tmp_path), False, opener)


def test_an_empty_snapshot_is_refused_and_nothing_written(tmp_path):
    with pytest.raises(StoreError, match="empty snapshot"):
        run(params(tmp_path), False, lambda url, **kwargs: Answer(b""))
    assert not (tmp_path / "snap").exists()


def test_no_answer_names_the_store_and_the_request(tmp_path):
    def opener(url, **kwargs):
        raise URLError(ConnectionRefusedError(111, "Connection refused"))

    with pytest.raises(StoreError, match=r"at http://192.0.2.2:8500 does not answer GET /v1/snapshot "
                                         r"\(connection refused\)"):
        run(params(tmp_path), False, opener)


def test_timeout_bounds_the_request(tmp_path):
    timeouts = []

    def opener(url, **kwargs):
        timeouts.append(kwargs["timeout"])
        return Answer(b"SNAP")

    run(params(tmp_path, timeout=30), False, opener)
    assert len(timeouts) == 1 and 29 < timeouts[0] <= 30


def test_restoring_a_missing_file_sends_nothing(tmp_path):
    with pytest.raises(SnapshotError, match="no snapshot at"):
        run(params(tmp_path, state="restored", path=str(tmp_path / "absent.snap")), False, opener=None)
