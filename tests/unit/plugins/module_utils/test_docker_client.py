"""The engine connection: community.docker's options and environment fallbacks, TLS settings, and the error boundary."""

import copy
import os
import re
from unittest import mock

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from docker.errors import APIError, DockerException, NotFound
from docker.tls import TLSConfig
from requests.exceptions import ConnectionError as RequestsConnectionError

from ansible_collections.mhnet.cluster.plugins.module_utils import _docker_client
from ansible_collections.mhnet.cluster.plugins.module_utils._docker_client import (
    DOCKER_COMMON_ARGS,
    DOCKER_REQUIRED_TOGETHER,
    DockerSdkError,
    EngineClient,
    EngineError,
    EngineNotFound,
    connect,
    connect_params,
    image_id,
    tls_paths,
)
from ansible_collections.mhnet.cluster.plugins.module_utils._errors import MhnetError

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """No DOCKER_* variable of the machine running the tests leaks into them."""
    for name in [name for name in os.environ if name.startswith("DOCKER_")]:
        monkeypatch.delenv(name)


def validated(task_args):
    """The connection options as AnsibleModule would hand them to the module (defaults, aliases, env fallbacks)."""
    result = ArgumentSpecValidator(copy.deepcopy(DOCKER_COMMON_ARGS), required_together=DOCKER_REQUIRED_TOGETHER).validate(task_args)
    assert not result.error_messages, result.error_messages
    return dict((name, result.validated_parameters[name]) for name in DOCKER_COMMON_ARGS)


@pytest.fixture()
def certs(tmp_path):
    """A DOCKER_CERT_PATH-style directory: ca.pem, cert.pem, key.pem (TLSConfig checks that the files exist)."""
    for name in ("ca.pem", "cert.pem", "key.pem"):
        (tmp_path / name).write_text("dummy")
    return tmp_path


def test_defaults_are_community_dockers():
    assert validated({}) == dict(docker_host="unix:///var/run/docker.sock", tls_hostname=None, api_version="auto", timeout=60,
                                 ca_path=None, client_cert=None, client_key=None, tls=False, validate_certs=False)


@pytest.mark.parametrize("variable, value, option, expected", [
    ("DOCKER_HOST", "tcp://192.0.2.23:2376", "docker_host", "tcp://192.0.2.23:2376"),
    ("DOCKER_TLS_HOSTNAME", "engine.example", "tls_hostname", "engine.example"),
    ("DOCKER_API_VERSION", "1.41", "api_version", "1.41"),
    ("DOCKER_TIMEOUT", "5", "timeout", 5),
    ("DOCKER_TLS", "yes", "tls", True),
    ("DOCKER_TLS_VERIFY", "1", "validate_certs", True),
])
def test_environment_fallbacks(monkeypatch, variable, value, option, expected):
    monkeypatch.setenv(variable, value)
    assert validated({})[option] == expected


def test_a_task_option_beats_the_environment(monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "tcp://from-env:2375")
    monkeypatch.setenv("DOCKER_TIMEOUT", "5")
    options = validated(dict(docker_host="unix:///run/docker.sock", timeout=9))
    assert (options["docker_host"], options["timeout"]) == ("unix:///run/docker.sock", 9)


@pytest.mark.parametrize("alias, option, value", [
    ("docker_url", "docker_host", "tcp://192.0.2.23:2375"),
    ("docker_api_version", "api_version", "1.41"),
    ("ca_cert", "ca_path", "/certs/ca.pem"),
    ("tls_ca_cert", "ca_path", "/certs/ca.pem"),
    ("cacert_path", "ca_path", "/certs/ca.pem"),
    ("tls_verify", "validate_certs", True),
])
def test_aliases(alias, option, value):
    assert validated({alias: value})[option] == value


@pytest.mark.parametrize("alias_pair", [("client_cert", "client_key"), ("tls_client_cert", "tls_client_key"), ("cert_path", "key_path")])
def test_client_cert_and_key_aliases(alias_pair):
    options = validated(dict(zip(alias_pair, ("/certs/cert.pem", "/certs/key.pem"))))
    assert (options["client_cert"], options["client_key"]) == ("/certs/cert.pem", "/certs/key.pem")


def test_client_cert_needs_client_key():
    result = ArgumentSpecValidator(copy.deepcopy(DOCKER_COMMON_ARGS), required_together=DOCKER_REQUIRED_TOGETHER).validate(
        dict(client_cert="/certs/cert.pem"))
    assert "parameters are required together: client_cert, client_key" in " ".join(result.error_messages)


def test_without_tls_the_client_gets_no_tls_config():
    assert connect_params(validated(dict(docker_host="tcp://192.0.2.23:2375", api_version="1.41", timeout=7)), environ={}) == dict(
        base_url="tcp://192.0.2.23:2375", version="1.41", timeout=7)


def test_tls_alone_encrypts_without_checking_the_engine(certs):
    params = validated(dict(docker_host="tcp://192.0.2.23:2376", tls=True, ca_path=str(certs / "ca.pem")))
    kwargs = connect_params(params, environ={})
    assert kwargs["base_url"] == "https://192.0.2.23:2376"
    tls = kwargs["tls"]
    assert isinstance(tls, TLSConfig)
    # as community.docker: without validate_certs the CA is not used, and no client certificate unless given
    assert (tls.verify, tls.ca_cert, tls.cert) == (False, None, None)


def test_validate_certs_checks_the_engine_against_ca_path_and_presents_the_client_cert(certs):
    params = validated(dict(docker_host="tcp://192.0.2.23:2376", validate_certs=True, ca_path=str(certs / "ca.pem"),
                            client_cert=str(certs / "cert.pem"), client_key=str(certs / "key.pem")))
    tls = connect_params(params, environ={})["tls"]
    assert (tls.verify, tls.ca_cert, tls.cert) == (True, str(certs / "ca.pem"), (str(certs / "cert.pem"), str(certs / "key.pem")))


def test_validate_certs_takes_precedence_over_tls(certs):
    params = validated(dict(docker_host="tcp://192.0.2.23:2376", tls=True, validate_certs=True, ca_path=str(certs / "ca.pem")))
    assert connect_params(params, environ={})["tls"].verify is True


def test_validate_certs_without_ca_path_uses_the_systems_cas():
    tls = connect_params(validated(dict(docker_host="tcp://192.0.2.23:2376", validate_certs=True)), environ={})["tls"]
    assert (tls.verify, tls.ca_cert) == (True, None)


def test_docker_cert_path_supplies_every_unset_file(certs, tmp_path_factory):
    own_ca = tmp_path_factory.mktemp("own") / "my-ca.pem"
    own_ca.write_text("dummy")
    environ = dict(DOCKER_CERT_PATH=str(certs))
    assert tls_paths(dict(ca_path=str(own_ca), client_cert=None, client_key=None), environ) == dict(
        ca_path=str(own_ca), client_cert=str(certs / "cert.pem"), client_key=str(certs / "key.pem"))
    params = validated(dict(docker_host="tcp://192.0.2.23:2376", validate_certs=True))
    tls = connect_params(params, environ)["tls"]
    assert (tls.verify, tls.ca_cert, tls.cert) == (True, str(certs / "ca.pem"), (str(certs / "cert.pem"), str(certs / "key.pem")))


def test_docker_cert_path_is_read_from_the_modules_environment(certs, monkeypatch):
    monkeypatch.setenv("DOCKER_CERT_PATH", str(certs))
    monkeypatch.setenv("DOCKER_TLS_VERIFY", "1")
    monkeypatch.setenv("DOCKER_HOST", "tcp://192.0.2.23:2376")
    kwargs = connect_params(validated({}))
    assert kwargs["base_url"] == "https://192.0.2.23:2376"
    assert kwargs["tls"].ca_cert == str(certs / "ca.pem")


def test_docker_cert_path_without_tls_changes_nothing(certs):
    assert "tls" not in connect_params(validated({}), environ=dict(DOCKER_CERT_PATH=str(certs)))


def test_missing_tls_files_are_an_engine_error(tmp_path):
    params = validated(dict(docker_host="tcp://192.0.2.23:2376", validate_certs=True, client_cert=str(tmp_path / "cert.pem"),
                            client_key=str(tmp_path / "key.pem")))
    with pytest.raises(EngineError, match="TLS settings for the Docker engine are unusable: .*check ca_path, client_cert and client_key"):
        connect_params(params, environ={})


def test_tls_hostname_with_an_sdk_that_cannot_check_it_is_refused():
    params = validated(dict(docker_host="tcp://192.0.2.23:2376", validate_certs=True, tls_hostname="engine.example"))
    with pytest.raises(EngineError, match="tls_hostname .* is engine.example, but this Docker SDK"):
        connect_params(params, environ={})


def test_tls_hostname_goes_to_an_sdk_that_can_check_it():
    class OldTLSConfig:  # Docker SDK for Python before 7.0
        def __init__(self, client_cert=None, ca_cert=None, verify=None, assert_hostname=None):
            self.assert_hostname = assert_hostname

    params = validated(dict(docker_host="tcp://192.0.2.23:2376", validate_certs=True, tls_hostname="engine.example"))
    with mock.patch.object(_docker_client, "TLSConfig", OldTLSConfig):
        assert connect_params(params, environ={})["tls"].assert_hostname == "engine.example"


def test_tls_hostname_is_ignored_without_validate_certs():
    params = validated(dict(docker_host="tcp://192.0.2.23:2376", tls=True, tls_hostname="engine.example"))
    assert connect_params(params, environ={})["tls"].verify is False


def test_connect_hands_the_options_to_the_sdk_and_pings():
    client = mock.Mock()
    with mock.patch.object(_docker_client, "APIClient", return_value=client) as api_client:
        engine = connect(validated(dict(docker_host="tcp://192.0.2.23:2375", timeout=5)), environ={})
    api_client.assert_called_once_with(base_url="tcp://192.0.2.23:2375", version="auto", timeout=5)
    assert client.ping.called
    assert isinstance(engine, EngineClient) and engine.docker_host == "tcp://192.0.2.23:2375"


@pytest.mark.parametrize("error", [DockerException("Error while fetching server API version: refused"),
                                   RequestsConnectionError("Connection refused")], ids=["SDK", "requests"])
def test_an_engine_that_does_not_answer_is_an_engine_error(error):
    with mock.patch.object(_docker_client, "APIClient", side_effect=error):
        with pytest.raises(EngineError, match="the Docker engine at unix:///var/run/docker.sock does not answer: "):
            connect(validated({}), environ={})


def test_a_missing_sdk_is_reported_as_such():
    with mock.patch.object(_docker_client, "APIClient", None):
        with pytest.raises(DockerSdkError, match="docker") as raised:
            connect(validated({}), environ={})
    assert not isinstance(raised.value, EngineError), "preflight reports an EngineError as an engine that does not answer"


@pytest.mark.parametrize("error, kind, message", [
    (NotFound("network app not found"), EngineNotFound, "inspect_network on the Docker engine at unix:///e.sock found nothing: network app"),
    (APIError("409 Conflict"), EngineError, "inspect_network on the Docker engine at unix:///e.sock failed: 409 Conflict"),
    (RequestsConnectionError("reset by peer"), EngineError, "inspect_network on the Docker engine at unix:///e.sock failed: reset by peer"),
])
def test_the_client_turns_sdk_errors_into_engine_errors(error, kind, message):
    client = mock.Mock()
    client.inspect_network.side_effect = error
    with pytest.raises(kind, match=re.escape(message)) as raised:
        EngineClient(client, "unix:///e.sock").inspect_network("app")
    assert isinstance(raised.value, MhnetError) and raised.value.__cause__ is error


def test_the_client_passes_calls_and_values_through():
    client = mock.Mock(api_version="1.41")
    client.networks.return_value = [{"Name": "bridge"}]
    engine = EngineClient(client, "unix:///e.sock")
    assert engine.networks(names=["bridge"]) == [{"Name": "bridge"}]
    client.networks.assert_called_once_with(names=["bridge"])
    assert engine.api_version == "1.41"


def test_a_streamed_answer_that_fails_while_read_is_an_engine_error():
    def events():
        yield {"stream": "Loading layer"}
        raise APIError("unexpected EOF")

    client = mock.Mock()
    client.load_image.return_value = events()
    stream = EngineClient(client, "unix:///e.sock").load_image(b"")
    assert next(stream) == {"stream": "Loading layer"}
    with pytest.raises(EngineError, match="load_image on the Docker engine at unix:///e.sock failed: unexpected EOF"):
        next(stream)


def test_image_id_is_none_for_a_missing_image():
    client = mock.Mock()
    client.inspect_image.side_effect = [{"Id": "sha256:aa"}, NotFound("no such image")]
    engine = EngineClient(client, "unix:///e.sock")
    assert (image_id(engine, "nginx:lab"), image_id(engine, "nginx:gone")) == ("sha256:aa", None)


def documented_fragments(module_path):
    """The doc fragments a module's DOCUMENTATION extends (read alone: one module's bad YAML must not fail this test)."""
    with open(module_path) as handle:
        found = re.search(r"^extends_documentation_fragment:\n((?:  - .*\n)+)", handle.read(), re.M)
    return yaml.safe_load(found.group(1)) if found else []


def test_the_action_group_holds_exactly_the_modules_with_the_connection_options():
    with open(os.path.join(REPO, "meta", "runtime.yml")) as handle:
        group = yaml.safe_load(handle)["action_groups"]["docker"]
    modules_dir = os.path.join(REPO, "plugins", "modules")
    with_options = sorted(
        name[:-3] for name in os.listdir(modules_dir)
        if name.endswith(".py") and "mhnet.cluster.docker" in documented_fragments(os.path.join(modules_dir, name))
    )
    assert sorted(group) == with_options
