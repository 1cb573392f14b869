"""Connection settings for real clusters are passed through to aiokafka and faust (no broker)."""

from __future__ import annotations

import ssl
import subprocess

import faust
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from lightkeeper.errors import ConfigError
from lightkeeper.kafka.client import (
    admin_kwargs,
    consumer_kwargs,
    faust_broker_kwargs,
    producer_kwargs,
)
from lightkeeper.settings import KafkaSettings, LightkeeperSettings


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=kafka.test",
            "-keyout",
            str(d / "client.key"),
            "-out",
            str(d / "client.crt"),
        ],
        check=True,
        capture_output=True,
    )
    (d / "ca.crt").write_bytes((d / "client.crt").read_bytes())
    return d


def test_plaintext_defaults():
    kw = producer_kwargs(KafkaSettings(bootstrap_servers="k1:9092,k2:9092", client_id="agent-1"))
    assert kw == {
        "bootstrap_servers": "k1:9092,k2:9092",
        "client_id": "agent-1",
        "security_protocol": "PLAINTEXT",
    }
    assert consumer_kwargs(KafkaSettings()) == admin_kwargs(KafkaSettings())


async def test_sasl_ssl_from_environment(monkeypatch, tls_files):
    monkeypatch.setenv("LIGHTKEEPER_KAFKA__BOOTSTRAP_SERVERS", "broker.example:9094")
    monkeypatch.setenv("LIGHTKEEPER_KAFKA__SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("LIGHTKEEPER_KAFKA__SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("LIGHTKEEPER_KAFKA__SASL_USERNAME", "lk")
    monkeypatch.setenv("LIGHTKEEPER_KAFKA__SASL_PASSWORD", "s3cret")
    monkeypatch.setenv("LIGHTKEEPER_KAFKA__SSL_CAFILE", str(tls_files / "ca.crt"))
    monkeypatch.setenv("LIGHTKEEPER_KAFKA__SSL_CERTFILE", str(tls_files / "client.crt"))
    monkeypatch.setenv("LIGHTKEEPER_KAFKA__SSL_KEYFILE", str(tls_files / "client.key"))
    monkeypatch.setenv("LIGHTKEEPER_KAFKA__SSL_CHECK_HOSTNAME", "false")
    settings = LightkeeperSettings.load().kafka
    kw = consumer_kwargs(settings)
    assert kw["bootstrap_servers"] == "broker.example:9094"
    assert kw["security_protocol"] == "SASL_SSL"
    assert kw["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (kw["sasl_plain_username"], kw["sasl_plain_password"]) == ("lk", "s3cret")
    ctx = kw["ssl_context"]
    assert isinstance(ctx, ssl.SSLContext)
    assert ctx.check_hostname is False
    assert ctx.verify_mode == ssl.CERT_REQUIRED
    assert any(c["subject"] == ((("commonName", "kafka.test"),),) for c in ctx.get_ca_certs())
    # aiokafka accepts every argument as given
    AIOKafkaConsumer(**kw, group_id="g")
    AIOKafkaAdminClient(**admin_kwargs(settings))

    fk = faust_broker_kwargs(settings)
    assert fk["broker"] == "kafka://broker.example:9094"
    creds = fk["broker_credentials"]
    assert isinstance(creds, faust.SASLCredentials)
    assert (creds.username, creds.password, creds.mechanism.value) == ("lk", "s3cret", "SCRAM-SHA-512")
    assert creds.ssl_context is ctx or isinstance(creds.ssl_context, ssl.SSLContext)
    assert creds.protocol.value == "SASL_SSL"


async def test_sasl_plaintext_builds_a_producer():
    settings = KafkaSettings(
        security_protocol="SASL_PLAINTEXT", sasl_mechanism="PLAIN", sasl_username="u", sasl_password="p"
    )
    kw = producer_kwargs(settings)
    assert "ssl_context" not in kw
    AIOKafkaProducer(**kw)
    creds = faust_broker_kwargs(settings)["broker_credentials"]
    assert creds.protocol.value == "SASL_PLAINTEXT"


def test_ssl_only_uses_faust_ssl_credentials(tls_files):
    settings = KafkaSettings(
        bootstrap_servers="a:1,b:2", security_protocol="SSL", ssl_cafile=tls_files / "ca.crt"
    )
    fk = faust_broker_kwargs(settings)
    assert fk["broker"] == "kafka://a:1;kafka://b:2"
    assert isinstance(fk["broker_credentials"], faust.SSLCredentials)
    assert "sasl_mechanism" not in producer_kwargs(settings)


@pytest.mark.parametrize(
    ("update", "message"),
    [
        ({"security_protocol": "SASL_SSL"}, "sasl_mechanism is required"),
        ({"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "PLAIN"}, "sasl_username"),
        ({"security_protocol": "SSL", "ssl_cafile": "/nonexistent/ca.pem"}, "ssl_cafile: file not found"),
    ],
)
def test_incomplete_security_settings_are_config_errors(update, message):
    settings = KafkaSettings.model_validate({**KafkaSettings().model_dump(), **update})
    with pytest.raises(ConfigError, match=message):
        producer_kwargs(settings)


def test_cert_without_key_is_a_config_error(tls_files):
    settings = KafkaSettings(security_protocol="SSL", ssl_certfile=tls_files / "client.crt")
    with pytest.raises(ConfigError, match="together"):
        consumer_kwargs(settings)


def test_password_is_not_in_settings_repr():
    settings = KafkaSettings(
        security_protocol="SASL_SSL", sasl_mechanism="PLAIN", sasl_username="u", sasl_password="hunter2"
    )
    assert "hunter2" not in repr(settings)
