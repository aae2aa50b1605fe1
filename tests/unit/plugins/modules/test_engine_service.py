"""engine_service against a fake engine that serves the Docker API over a real Unix socket, with systemd simulated
through run_command: a restart waits until the engine answers, the containers that ran before run again (a swarm
task's never counted, one removed meanwhile skipped, one whose network refuses it tried again until it attaches or
the timeout says which and why), state=started changes nothing when all runs, check mode changes nothing, a start
limit is cleared with a warning."""

import json
import os
import socketserver
import threading
from http.server import BaseHTTPRequestHandler

import pytest
from ansible.module_utils import _internal
from ansible.module_utils._internal import _traceback
from ansible.module_utils.common import warnings as ansible_warnings
from ansible.module_utils.testing import patch_module_args

from ansible_collections.mhnet.cluster.plugins.module_utils import _engine_service
from ansible_collections.mhnet.cluster.plugins.modules import engine_service

WEB, PROBE, TASK, GONE = "a" * 64, "b" * 64, "c" * 64, "d" * 64


class FakeEngine:
    """Containers ({id: {running, policy, labels, refusals}}), the engine's up state, and systemd's docker.service."""

    def __init__(self):
        self.up = True
        self.containers = {
            WEB: dict(running=True, policy="always", labels={}, refusals=0),
            PROBE: dict(running=True, policy="no", labels={}, refusals=0),
            TASK: dict(running=True, policy="no", labels={"com.docker.swarm.task.id": "t1"}, refusals=0),
        }
        self.calls = []
        self.result = "success"
        self.active = "active"
        self.restarts = 0

    # --- the API ---

    def answer(self, method, path):
        if not self.up:
            return None
        if path == "/_ping":
            return 200, "OK"
        if path == "/containers/json":
            return 200, [dict(Id=cid, Labels=c["labels"]) for cid, c in self.containers.items() if c["running"]]
        parts = path.split("/")
        container = self.containers.get(parts[2])
        if container is None:
            return 404, {"message": "No such container: %s" % parts[2]}
        if method == "GET":
            return 200, {"Id": parts[2], "State": {"Running": container["running"], "Status": "running" if container["running"] else "exited"}}
        if container["running"]:
            return 304, None
        if container["refusals"]:
            # as Docker 26 answers on a node not back in its swarm: first a timeout, then the network not found (404)
            container["refusals"] -= 1
            if container["refusals"] % 2:
                return 500, {"message": "attaching to network failed, make sure your network options are correct "
                                        "and check manager logs: context deadline exceeded"}
            return 404, {"message": "network eeyh4o59sqa7n9pkqio1qpd38 not found"}
        container["running"] = True
        return 204, None

    # --- systemd ---

    def run_command(self, argv):
        self.calls.append(list(argv))
        if argv[0] == "/usr/bin/timeout":
            argv = argv[2:]
        verb = argv[1]
        if verb == "show":
            return 0, "LoadState=loaded\nActiveState=%s\nSubState=running\nResult=%s\nTriggeredBy=docker.socket\n" % (
                self.active, self.result), ""
        if verb == "reset-failed":
            self.active, self.result = "inactive", "success"
            return 0, "", ""
        if verb in ("restart", "start"):
            if self.result == "start-limit-hit":
                return 1, "", "Job for docker.service failed because start of the service was attempted too often."
            self.restarts += 1
            for container in self.containers.values():
                container["running"] = container["policy"] == "always"
            self.up = True
            return 0, "", ""
        if verb == "daemon-reload":
            return 0, "", ""
        raise AssertionError("unexpected command %s" % argv)


@pytest.fixture()
def engine(tmp_path, monkeypatch):
    fake = FakeEngine()
    path = str(tmp_path / "docker.sock")

    class Handler(BaseHTTPRequestHandler):
        def handle_one(self, method):
            answer = fake.answer(method, self.path)
            if answer is None:
                self.close_connection = True
                return
            status, body = answer
            data = b"" if body is None else (body if isinstance(body, str) else json.dumps(body)).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):  # noqa: N802 -- BaseHTTPRequestHandler's names
            self.handle_one("GET")

        def do_POST(self):  # noqa: N802
            self.handle_one("POST")

        def address_string(self):
            return "engine"

        def log_message(self, *args):
            pass

    server = socketserver.ThreadingUnixStreamServer(path, Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.socket = path
    monkeypatch.setattr(_engine_service, "systemd_booted", lambda: True)
    monkeypatch.setattr(engine_service, "START_RETRY_INTERVAL", 0.01)
    monkeypatch.setattr(_engine_service, "POLL_INTERVAL", 0.01)
    binaries = {"systemctl": "/usr/bin/systemctl", "timeout": "/usr/bin/timeout"}
    monkeypatch.setattr(engine_service.AnsibleModule, "run_command", lambda module, argv, **kwargs: fake.run_command(argv))
    monkeypatch.setattr(engine_service.AnsibleModule, "get_bin_path", lambda module, name, *args, **kwargs: binaries.get(name))
    monkeypatch.setattr(_traceback, "_module_tracebacks_enabled_events", None)
    monkeypatch.setattr(ansible_warnings, "_global_warnings", {})
    monkeypatch.setattr(_internal, "is_controller", False)
    yield fake
    server.shutdown()
    server.server_close()
    os.unlink(path)


def run(capsys, engine, **args):
    args.setdefault("docker_host", "unix://" + engine.socket)
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            engine_service.main()
    return json.loads(capsys.readouterr().out)


def test_a_restart_starts_again_what_ran_before_but_not_a_swarm_task(engine, capsys):
    result = run(capsys, engine, state="restarted", start_again=True)
    assert result["changed"] and result["restarted"] and engine.restarts == 1
    assert sorted(result["running_before"]) == [WEB, PROBE], "the swarm task is the swarm's to replace"
    assert result["started"] == [PROBE], "web came back by its restart policy; the probe had to be started"
    assert engine.containers[PROBE]["running"] and not engine.containers[TASK]["running"]


def test_a_restart_without_start_again_leaves_the_containers_to_a_later_call(engine, capsys):
    restarted = run(capsys, engine, state="restarted")
    assert restarted["started"] == [] and not engine.containers[PROBE]["running"]
    later = run(capsys, engine, state="started", containers=restarted["running_before"] + [GONE])
    assert later["changed"] and later["started"] == [PROBE] and not later["restarted"], "a removed container is skipped"
    again = run(capsys, engine, state="started", containers=restarted["running_before"])
    assert (again["changed"], again["started"], engine.restarts) == (False, [], 1)


def test_a_container_is_tried_again_until_its_network_lets_it_attach(engine, capsys):
    engine.containers[PROBE]["refusals"] = 3
    result = run(capsys, engine, state="restarted", start_again=True)
    assert result["started"] == [PROBE] and engine.containers[PROBE]["refusals"] == 0


def test_a_container_that_never_starts_fails_naming_it_and_why(engine, capsys):
    engine.containers[PROBE]["refusals"] = 10 ** 6
    result = run(capsys, engine, state="restarted", start_again=True, wait_timeout=1)
    assert result["failed"]
    assert result["msg"].startswith("the engine answers, but 1 container(s) that ran before did not start within 1 s: "
                                    "%s: " % PROBE)
    assert result["msg"].endswith("Check that their networks exist on this engine (a swarm node attaches a swarm "
                                  "network's containers only once it is Active)")


def test_check_mode_restarts_and_starts_nothing(engine, capsys):
    result = run(capsys, engine, state="restarted", start_again=True, _ansible_check_mode=True)
    assert result["changed"] and not result["restarted"] and engine.restarts == 0
    engine.containers[PROBE]["running"] = False
    result = run(capsys, engine, state="started", containers=[PROBE], _ansible_check_mode=True)
    assert result["changed"] and result["started"] == [PROBE] and not engine.containers[PROBE]["running"]


def test_started_starts_an_engine_that_does_not_answer(engine, capsys):
    engine.up = False
    result = run(capsys, engine, state="started")
    assert result["changed"] and result["restarted"] and result["running_before"] == []
    assert ["/usr/bin/systemctl", "start", "docker.service"] in [call[2:] for call in engine.calls if call[0] == "/usr/bin/timeout"]


def test_a_unit_at_its_start_limit_is_cleared_with_a_warning(engine, capsys):
    engine.active, engine.result = "failed", "start-limit-hit"
    result = run(capsys, engine, state="restarted", daemon_reload=True)
    assert result["restarted"] and engine.restarts == 1
    assert any("start limit" in (w["event"]["msg"] if isinstance(w, dict) else w) for w in result.get("warnings", []))
    assert ["/usr/bin/systemctl", "reset-failed", "docker.service", "docker.socket"] in engine.calls
    assert ["/usr/bin/systemctl", "daemon-reload"] in engine.calls
