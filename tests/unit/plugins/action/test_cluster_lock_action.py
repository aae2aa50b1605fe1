"""cluster_lock's action plugin with real locks: runs are real processes (sleep), holders the plugin's own.

A "run" here is a process whose PID the plugin takes for the ansible-playbook process; killing it ends the run.
"""

import json
import os
import subprocess
import time
from unittest import mock

import pytest
from ansible.module_utils._internal import _traceback

HOSTS = {"mh-keystore": "lab-keystore", "mhs-demo0": "lab-demo0", "mhs-demo1": "lab-demo1"}


def task_vars(hosts):
    return dict(hostvars=dict((name, dict(ansible_host=address)) for name, address in hosts.items()),
                ansible_play_hosts_all=sorted(hosts))


@pytest.fixture()
def plugin(monkeypatch):
    monkeypatch.setattr(_traceback, "_is_traceback_enabled", _traceback._is_traceback_enabled)
    from ansible_collections.mhnet.cluster.plugins.action import cluster_lock
    return cluster_lock


def wait_until(condition, timeout=10):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "not within %d s" % timeout
        time.sleep(0.05)


@pytest.fixture()
def runs():
    """runs() -> a new run (a process); every run still going is ended after the test."""
    started = []

    def start():
        process = subprocess.Popen(["sleep", "120"])
        started.append(process)
        # As a real run's would be by its first task: the new program's command line in place.
        wait_until(lambda: b"sleep" in open("/proc/%d/cmdline" % process.pid, "rb").read())
        return process
    yield start
    for process in started:
        process.kill()
        process.wait()


@pytest.fixture()
def lock(plugin, monkeypatch, tmp_path):
    """lock(run, wait=0, hosts=HOSTS) -> the plugin's result for a task of that run."""
    def run_task(run, wait=0, hosts=None, lock_dir=str(tmp_path / "locks")):
        monkeypatch.setattr(plugin, "current_run", lambda: run.pid)
        task = mock.Mock(args=dict(wait=wait, lock_dir=lock_dir), check_mode=False, diff=False, async_val=0,
                         action="mhnet.cluster.cluster_lock")
        action = plugin.ActionModule(task, mock.Mock(), play_context=mock.Mock(), loader=mock.Mock(), templar=mock.Mock())
        return action.run(task_vars=task_vars(hosts or HOSTS))
    return run_task


def test_a_run_holds_every_play_host_and_a_second_run_is_refused_naming_the_first(lock, runs):
    first, second = runs(), runs()
    result = lock(first)
    assert not result.get("failed") and result["changed"] is False
    assert result["locked"] == ["mh-keystore", "mhs-demo0", "mhs-demo1"]
    refused = lock(second)
    assert refused["failed"] is True
    assert "another run is changing 3 of this play's host(s); nothing was changed" in refused["msg"]
    assert "mh-keystore, mhs-demo0, mhs-demo1: held by run %d of " % first.pid in refused["msg"]
    assert "sleep 120" in refused["msg"] and "mhnet_lock_wait" in refused["msg"]


def test_the_same_run_takes_its_hosts_again_in_a_later_play(lock, runs):
    run = runs()
    assert lock(run)["locked"] == sorted(HOSTS)
    again = lock(run, hosts={"mhs-demo0": "lab-demo0"})
    assert not again.get("failed") and again["locked"] == ["mhs-demo0"]


def test_runs_that_share_no_host_do_not_wait_for_each_other(lock, runs):
    assert not lock(runs(), hosts={"mhs-demo0": "lab-demo0"}).get("failed")
    assert not lock(runs(), hosts={"mhs-demo1": "lab-demo1"}).get("failed")


def test_a_refused_run_locks_none_of_its_hosts(lock, runs):
    first, second, third = runs(), runs(), runs()
    lock(first, hosts={"mhs-demo1": "lab-demo1"})
    assert lock(second)["failed"] is True
    # mhs-demo0 was free when the second run was refused: it must not have kept it.
    assert not lock(third, hosts={"mhs-demo0": "lab-demo0"}).get("failed")


def test_hosts_are_told_apart_by_the_address_ansible_reaches_them_by(lock, runs):
    lock(runs(), hosts={"mhs-demo0": "lab-one-demo0"})
    # The same inventory name in another lab (another container) is another host.
    assert not lock(runs(), hosts={"mhs-demo0": "lab-two-demo0"}).get("failed")
    assert lock(runs(), hosts={"renamed": "lab-one-demo0"})["failed"] is True


@pytest.mark.parametrize("how", ["ends", "is killed"])
def test_the_hosts_are_free_again_once_the_run_has_gone(lock, runs, plugin, how):
    first = runs()
    lock(first)
    if how == "ends":
        first.terminate()
    else:
        first.kill()
    # Not reaped: a zombie run counts as gone.
    wait_until(lambda: not plugin.process_alive(first.pid))
    result = lock(runs())
    assert not result.get("failed"), result
    assert result["waited"] <= plugin.HOLDER_GRACE


def test_a_run_given_time_waits_for_the_holder_to_finish(lock, runs, plugin, monkeypatch):
    lines = []
    monkeypatch.setattr(plugin.display, "display", lines.append)
    first = runs()
    lock(first)
    ender = subprocess.Popen(["sh", "-c", "sleep 2; kill %d" % first.pid])
    try:
        started = time.monotonic()
        result = lock(runs(), wait=30)
        assert not result.get("failed"), result
        assert 1.5 <= time.monotonic() - started < 30 and result["waited"] >= 1.5
        # Two lines, not one per try: when the wait starts (naming the run) and when it ends.
        assert len(lines) == 2, lines
        assert lines[0].startswith("cluster_lock: waiting up to 30 s for another run:") and "run %d of" % first.pid in lines[0]
        assert lines[1].startswith("cluster_lock: the other run has ended; this run holds its hosts after ")
    finally:
        ender.wait()


def test_a_run_out_of_time_is_refused(lock, runs):
    lock(runs())
    started = time.monotonic()
    result = lock(runs(), wait=2)
    assert result["failed"] is True and 2 <= time.monotonic() - started < 10
    assert "(2 now)" in result["msg"]


def test_a_lock_directory_that_cannot_be_made_is_refused_with_what_to_set(lock, runs, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = lock(runs(), lock_dir=str(blocker / "locks"))
    assert result["failed"] is True
    assert "cannot make the run lock directory %s" % (blocker / "locks") in result["msg"] and "mhnet_lock_dir" in result["msg"]


def test_the_lock_file_records_the_holder(lock, runs, tmp_path):
    run = runs()
    lock(run, hosts={"mhs-demo0": "lab-demo0"})
    (path,) = (tmp_path / "locks").iterdir()
    record = json.loads(path.read_text())
    assert record["pid"] == run.pid and record["since"].endswith("Z") and "sleep 120" in record["command"]
    assert path.name.startswith("lab-demo0-") and os.path.getsize(path) < 4096
