"""Every deployment manifest parses, carries the fields a production deployment needs, and
names images, ports and environment variables that the code actually reads."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from lightkeeper.agent.settings import AgentSettings
from lightkeeper.alerts.settings import AlertSettings
from lightkeeper.processors.settings import WorkerSettings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
K8S_BASE = DEPLOY / "k8s" / "base"


def _docs(path: Path) -> list[Any]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def _manifests() -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in sorted((DEPLOY / "k8s").rglob("*.yaml")):
        for doc in _docs(path):
            yield path, doc


def _containers() -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    out = {}
    for _, doc in _manifests():
        if doc.get("kind") == "Deployment":
            for c in doc["spec"]["template"]["spec"]["containers"]:
                out[c["name"]] = (c, doc)
    return out


def env_resolves(name: str, model: type[BaseModel]) -> bool:
    """``LIGHTKEEPER_A__B`` names field ``a.b`` of ``model`` (dict fields accept any key)."""
    if name == "LIGHTKEEPER_CONFIG":
        return True
    assert name.startswith("LIGHTKEEPER_"), name
    parts = name.removeprefix("LIGHTKEEPER_").lower().split("__")
    current: Any = model
    for i, part in enumerate(parts):
        fields = current.model_fields
        if part not in fields:
            return False
        annotation = fields[part].annotation
        if i == len(parts) - 1:
            return True
        origin = getattr(annotation, "__origin__", None)
        if origin is dict:  # routes: {name: RouteConfig}: the next part is a key
            value_type = annotation.__args__[1]
            rest = parts[i + 2 :]
            return not rest or (len(rest) == 1 and rest[0] in value_type.model_fields)
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return False
        current = annotation
    return True


def test_every_manifest_parses_and_has_kind_and_name() -> None:
    seen = 0
    for path, doc in _manifests():
        assert isinstance(doc, dict), path
        if doc.get("kind") == "Kustomization" or path.name == "kustomization.yaml":
            for res in doc.get("resources", []):
                assert (path.parent / res).exists(), f"{path}: missing resource {res}"
            for gen in doc.get("configMapGenerator", []) + doc.get("secretGenerator", []):
                for f in gen.get("files", []):
                    assert (path.parent / f.split("=", 1)[-1]).exists(), f"{path}: missing {f}"
            continue
        if path.parent.name == "config":
            continue
        assert doc.get("apiVersion") and doc.get("kind") and doc["metadata"].get("name"), path
        seen += 1
    assert seen >= 3


def test_agent_sidecar_matches_the_agent_settings() -> None:
    container, deployment = _containers()["lightkeeper-agent"]
    port = container["ports"][0]["containerPort"]
    env = {e["name"]: e for e in container["env"]}
    assert port == AgentSettings.model_fields["port"].default == int(env["LIGHTKEEPER_PORT"]["value"])
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["image"].split(":")[0].endswith("lightkeeper-agent")
    assert container["resources"]["limits"]["memory"]
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    spool = env["LIGHTKEEPER_SPOOL_DIR"]["value"]
    assert any(spool.startswith(m) for m in mounts), "the spool must be on a volume"
    assert env["LIGHTKEEPER_CONFIG"]["value"].startswith(tuple(mounts))
    for name in env:
        assert env_resolves(name, AgentSettings), f"agent env {name} is not an AgentSettings field"
    spec = deployment["spec"]["template"]["spec"]
    assert spec["terminationGracePeriodSeconds"] >= 10  # time to flush the buffer on SIGTERM
    assert "args" not in container  # settings come from LIGHTKEEPER_CONFIG, not CLI args


def test_worker_matches_the_worker_and_alert_settings() -> None:
    container, _ = _containers()["worker"]
    env = {e["name"] for e in container["env"]}
    for name in env:
        assert env_resolves(name, WorkerSettings) or env_resolves(name, AlertSettings), name
    port = container["ports"][0]["containerPort"]
    assert port == WorkerSettings.model_fields["metrics_port"].default
    assert container["readinessProbe"]["httpGet"]["path"] == "/metrics"
    assert container["image"].split(":")[0].endswith("lightkeeper-worker")


def test_settings_file_loads_for_every_deployable_and_rules_validate(monkeypatch: pytest.MonkeyPatch) -> None:
    from lightkeeper.alerts.rules import load_rules

    config = K8S_BASE / "config" / "lightkeeper.yaml"
    monkeypatch.setenv("LIGHTKEEPER_ROUTES__ONCALL_SLACK__TOKEN", "xoxb-test")
    monkeypatch.setenv("LIGHTKEEPER_ROUTES__PAGER__ROUTING_KEY", "R" * 32)
    agent = AgentSettings.load(config)
    worker = WorkerSettings.load(config)
    alerts = AlertSettings.load(config)
    assert agent.kafka.bootstrap_servers == worker.kafka.bootstrap_servers
    assert set(alerts.default_routes) <= set(alerts.routes)
    assert alerts.routes["oncall_slack"].token is not None  # merged from the Secret's env
    rules_file = K8S_BASE / "config" / "rules.yaml"
    assert worker.alert_rules is not None and Path(str(worker.alert_rules)).name == rules_file.name
    assert load_rules(rules_file, routes=set(alerts.routes))
    kustomization = yaml.safe_load((K8S_BASE / "kustomization.yaml").read_text())
    secret_keys = {
        lit.split("=", 1)[0] for gen in kustomization["secretGenerator"] for lit in gen.get("literals", [])
    }
    assert {
        "LIGHTKEEPER_ROUTES__ONCALL_SLACK__TOKEN",
        "LIGHTKEEPER_ROUTES__PAGER__ROUTING_KEY",
    } <= secret_keys


def test_compose_services_use_real_settings_and_commands() -> None:
    compose = yaml.safe_load((DEPLOY / "compose" / "docker-compose.yaml").read_text())
    services = compose["services"]
    for name in ("kafka", "clickhouse", "grafana", "agent", "worker", "fake-llm", "traffic"):
        assert name in services, name
    for name in services["agent"]["environment"]:
        assert env_resolves(name, AgentSettings), name
    for name in services["worker"]["environment"]:
        assert env_resolves(name, WorkerSettings), name
    import importlib.util

    for svc in ("fake-llm", "traffic"):
        module = services[svc]["entrypoint"][2]
        assert importlib.util.find_spec(module) is not None, module


def test_dockerfiles_build_the_two_images() -> None:
    agent = (DEPLOY / "docker" / "agent.Dockerfile").read_text()
    worker = (DEPLOY / "docker" / "worker.Dockerfile").read_text()
    assert '"lightkeeper", "agent"' in agent and "[worker" not in agent  # lean: base install only
    assert '"lightkeeper", "worker"' in worker and "[worker,alerts]" in worker
    assert "EXPOSE 8319" in agent and "EXPOSE 9464" in worker
