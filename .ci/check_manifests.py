#!/usr/bin/env python3
"""Checks of the chart's rendered manifests that schemas cannot make.

    check_manifests.py split RENDERED OUTDIR
        Writes OUTDIR/builtin.yaml (built-in kinds, for kubernetes-validate) and one file per
        custom resource (OUTDIR/cr-N-Kind.yaml), and prints "<file> <schema file name>" per
        custom resource. Fails on a custom resource kind without a known schema.

    check_manifests.py assert --chart DIR RENDERED...
        Project rules on every rendered file (see check_render).

    check_manifests.py negative --helm HELM --chart DIR
        Renders that must fail (with their message) or must come out a certain way.

    check_manifests.py monitoring --chart DIR --docs FILE
        Dashboards and alerts: valid JSON, PromQL accepted by promtool, metric names that the
        services export (docs/operations.md).

Exit status 1 with a list of failures, 0 when everything holds.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

CR_SCHEMAS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "servicemonitor.monitoring.coreos.com-v1.json",
    ("monitoring.coreos.com/v1", "PodMonitor"): "podmonitor.monitoring.coreos.com-v1.json",
    ("monitoring.coreos.com/v1", "PrometheusRule"): "prometheusrule.monitoring.coreos.com-v1.json",
    ("keda.sh/v1alpha1", "ScaledObject"): "scaledobject.keda.sh-v1alpha1.json",
    ("gateway.networking.k8s.io/v1", "HTTPRoute"): "httproute.gateway.networking.k8s.io-v1.json",
}
BUILTIN_GROUPS = {"v1", "apps/v1", "policy/v1", "autoscaling/v2", "networking.k8s.io/v1"}
COMPONENT = "app.kubernetes.io/component"
UID = 65532


class Failures:
    def __init__(self) -> None:
        self.items: list[str] = []
        self.checked = 0

    def check(self, condition: bool, message: str) -> bool:
        self.checked += 1
        if not condition:
            self.items.append(message)
        return condition

    def finish(self, what: str) -> int:
        if self.items:
            print(f"FAILED: {len(self.items)} of {self.checked} checks of {what}:", file=sys.stderr)
            for item in self.items:
                print(f"  - {item}", file=sys.stderr)
            return 1
        print(f"  ok: {self.checked} checks of {what}")
        return 0


def load_docs(path: str | Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d]


def parse_duration(text: str) -> float:
    """The services' duration syntax: 250ms, 5s, 2m, 1h, or bare seconds."""
    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m|h)?\s*", str(text))
    if not m:
        raise ValueError(f"{text!r} is not a duration")
    value = float(m.group(1))
    return value * {"ms": 0.001, None: 1, "s": 1, "m": 60, "h": 3600}[m.group(2)]


def name_of(doc: dict) -> str:
    return f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"


def matches(selector: dict, labels: dict) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


# ---------------------------------------------------------------------------------------
# split


def cmd_split(args: argparse.Namespace) -> int:
    out = Path(args.outdir)
    out.mkdir(parents=True, exist_ok=True)
    builtin, problems = [], []
    for i, doc in enumerate(load_docs(args.rendered)):
        key = (doc.get("apiVersion"), doc.get("kind"))
        if key in CR_SCHEMAS:
            path = out / f"cr-{i}-{doc['kind']}.yaml"
            path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
            print(f"{path} {CR_SCHEMAS[key]}")
        elif key[0] in BUILTIN_GROUPS:
            builtin.append(doc)
        else:
            problems.append(f"{name_of(doc)} ({key[0]}): no schema to validate it with")
    (out / "builtin.yaml").write_text(yaml.safe_dump_all(builtin, sort_keys=False), encoding="utf-8")
    for p in problems:
        print(f"FAILED: {p}", file=sys.stderr)
    return 1 if problems else 0


# ---------------------------------------------------------------------------------------
# assert


def env_map(container: dict) -> dict:
    return {e["name"]: e for e in container.get("env", [])}


def env_value(container: dict, name: str) -> str | None:
    entry = env_map(container).get(name)
    return None if entry is None else entry.get("value")


def check_pod_spec(f: Failures, where: str, spec: dict, probes: bool) -> None:
    psc = spec.get("securityContext", {})
    f.check(psc.get("runAsNonRoot") is True, f"{where}: pod securityContext.runAsNonRoot is not true")
    f.check(psc.get("seccompProfile", {}).get("type") == "RuntimeDefault",
            f"{where}: pod seccompProfile is not RuntimeDefault")
    f.check(spec.get("automountServiceAccountToken") is False,
            f"{where}: automountServiceAccountToken is not false")
    for c in spec.get("initContainers", []) + spec.get("containers", []):
        cw = f"{where} container {c['name']}"
        sc = c.get("securityContext", {})
        for field in ("runAsUser", "runAsGroup"):
            value = sc.get(field, psc.get(field))
            f.check(value == UID, f"{cw}: {field} is {value}, not {UID}")
        f.check(sc.get("runAsNonRoot", psc.get("runAsNonRoot")) is True, f"{cw}: runAsNonRoot is not true")
        f.check(sc.get("readOnlyRootFilesystem") is True, f"{cw}: readOnlyRootFilesystem is not true")
        f.check(sc.get("allowPrivilegeEscalation") is False, f"{cw}: allowPrivilegeEscalation is not false")
        f.check(sc.get("privileged") in (None, False), f"{cw}: privileged")
        f.check("ALL" in sc.get("capabilities", {}).get("drop", []), f"{cw}: capabilities do not drop ALL")
        f.check(not sc.get("capabilities", {}).get("add"), f"{cw}: adds capabilities")
        seccomp = sc.get("seccompProfile", psc.get("seccompProfile", {})).get("type")
        f.check(seccomp == "RuntimeDefault", f"{cw}: seccompProfile is {seccomp}")
        res = c.get("resources", {})
        for path in (("requests", "cpu"), ("requests", "memory"), ("limits", "memory")):
            f.check(bool(res.get(path[0], {}).get(path[1])), f"{cw}: no resources.{'.'.join(path)}")
        f.check(c.get("image", "").count(":") >= 1 or "@" in c.get("image", ""), f"{cw}: image has no tag")
        if probes:
            for probe in ("livenessProbe", "readinessProbe"):
                f.check(bool(c.get(probe)), f"{cw}: no {probe}")
            port_names = {p.get("name") for p in c.get("ports", [])} | {p.get("containerPort") for p in c.get("ports", [])}
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                http = (c.get(probe) or {}).get("httpGet")
                if http:
                    f.check(http.get("port") in port_names, f"{cw}: {probe} uses port {http.get('port')}, not a container port")


def check_render(f: Failures, path: str, chart: Path) -> None:
    docs = load_docs(path)
    by_kind: dict[str, list[dict]] = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)
    deployments = by_kind.get("Deployment", [])
    secrets = {d["metadata"]["name"]: d for d in by_kind.get("Secret", [])}
    services = by_kind.get("Service", [])
    tag = Path(path).name

    def component(doc: dict) -> str | None:
        return doc["metadata"].get("labels", {}).get(COMPONENT)

    def deployment(comp: str) -> dict | None:
        found = [d for d in deployments if component(d) == comp]
        return found[0] if len(found) == 1 else None

    gw, wk = deployment("gateway"), deployment("worker")
    f.check(gw is not None, f"{tag}: no single gateway Deployment")
    f.check(wk is not None, f"{tag}: no single worker Deployment")

    # Every workload: security, resources, probes; Secrets they reference exist.
    for d in deployments:
        spec = d["spec"]["template"]["spec"]
        pod_labels = d["spec"]["template"]["metadata"]["labels"]
        check_pod_spec(f, f"{tag} {name_of(d)}", spec, probes=True)
        f.check(matches(d["spec"]["selector"]["matchLabels"], pod_labels),
                f"{tag} {name_of(d)}: selector does not match its pod labels")
        for c in spec["containers"]:
            for e in c.get("env", []):
                ref = e.get("valueFrom", {}).get("secretKeyRef")
                if ref and ref["name"] in secrets:
                    s = secrets[ref["name"]]
                    keys = set(s.get("stringData", {})) | set(s.get("data", {}))
                    f.check(ref["key"] in keys, f"{tag} {name_of(d)}: env {e['name']} wants key {ref['key']} missing in Secret {ref['name']}")
    for p in by_kind.get("Pod", []):
        hook = p["metadata"].get("annotations", {}).get("helm.sh/hook")
        f.check(hook == "test", f"{tag} {name_of(p)}: a bare Pod that is not a helm test hook")
        check_pod_spec(f, f"{tag} {name_of(p)}", p["spec"], probes=False)
        script = " ".join(p["spec"]["containers"][0].get("command", []))
        f.check("/api/v1/sse/connect" in script and "event: connected" in script,
                f"{tag} {name_of(p)}: the test does not open /api/v1/sse/connect and wait for `connected`")

    autoscaled = {}
    for h in by_kind.get("HorizontalPodAutoscaler", []):
        ref = h["spec"]["scaleTargetRef"]
        target = next((d for d in deployments if d["metadata"]["name"] == ref["name"]), None)
        if f.check(target is not None and ref.get("kind") == "Deployment" and ref.get("apiVersion") == "apps/v1",
                   f"{tag} {name_of(h)}: scaleTargetRef {ref} is not a rendered Deployment"):
            f.check(component(target) == component(h),
                    f"{tag} {name_of(h)}: targets the {component(target)} Deployment, is labelled {component(h)}")
            autoscaled[ref["name"]] = name_of(h)
        f.check(h["spec"]["minReplicas"] <= h["spec"]["maxReplicas"], f"{tag} {name_of(h)}: minReplicas > maxReplicas")
        if component(h) == "gateway":
            down = h["spec"].get("behavior", {}).get("scaleDown", {})
            f.check(down.get("stabilizationWindowSeconds", 0) >= 300 and down.get("policies"),
                    f"{tag} {name_of(h)}: scale-down is not gentle (stabilization >= 300 s and policies)")
            for m in h["spec"]["metrics"]:
                if m["type"] == "Pods":
                    f.check(m["pods"]["metric"]["name"] == "sse_connections_open" and m["pods"]["target"]["type"] == "AverageValue",
                            f"{tag} {name_of(h)}: Pods metric is not sse_connections_open AverageValue")
    for so in by_kind.get("ScaledObject", []):
        ref = so["spec"]["scaleTargetRef"]
        target = next((d for d in deployments if d["metadata"]["name"] == ref["name"]), None)
        if f.check(target is not None and component(target) == "worker",
                   f"{tag} {name_of(so)}: scaleTargetRef {ref} is not the worker Deployment"):
            autoscaled[ref["name"]] = name_of(so)
            queue = env_value(target["spec"]["template"]["spec"]["containers"][0], "QUEUE_NAME")
            for trig in so["spec"]["triggers"]:
                md = trig["metadata"]
                if trig["type"] == "metrics-api":
                    # The gateway's queue counts, through its Service, in the same namespace.
                    services = [sv for sv in by_kind.get("Service", []) if component(sv) == "gateway"]
                    urls = {f"http://{sv['metadata']['name']}.{sv['metadata']['namespace']}.svc:{port['port']}/api/v1/queues/{queue}"
                            for sv in services for port in sv["spec"]["ports"] if port["name"] == "http"}
                    f.check(md.get("url") in urls, f"{tag} {name_of(so)}: url {md.get('url')} is not the gateway Service's queue counts {urls}")
                    f.check(md.get("valueLocation") == "waiting", f"{tag} {name_of(so)}: valueLocation is not waiting")
                    f.check("targetValue" in md, f"{tag} {name_of(so)}: needs targetValue")
                    continue
                f.check(md.get("stream") == f"rq:{{{queue}}}:stream", f"{tag} {name_of(so)}: stream {md.get('stream')} is not rq:{{{queue}}}:stream")
                f.check(md.get("consumerGroup") == "workers", f"{tag} {name_of(so)}: consumerGroup is not workers")
                f.check(("lagCount" in md) != ("pendingEntriesCount" in md), f"{tag} {name_of(so)}: needs one of lagCount / pendingEntriesCount")
    f.check(len(set(autoscaled)) == len(by_kind.get("HorizontalPodAutoscaler", [])) + len(by_kind.get("ScaledObject", [])),
            f"{tag}: one Deployment has more than one autoscaler")
    for d in deployments:
        if d["metadata"]["name"] in autoscaled:
            f.check("replicas" not in d["spec"], f"{tag} {name_of(d)}: sets replicas although {autoscaled[d['metadata']['name']]} scales it")

    for pdb in by_kind.get("PodDisruptionBudget", []):
        sel = pdb["spec"]["selector"]["matchLabels"]
        hits = [d for d in deployments if matches(sel, d["spec"]["template"]["metadata"]["labels"])]
        f.check(len(hits) == 1 and component(hits[0]) == component(pdb),
                f"{tag} {name_of(pdb)}: selector matches {[name_of(d) for d in hits]}, not exactly the {component(pdb)} Deployment")
    for np in by_kind.get("NetworkPolicy", []):
        sel = np["spec"]["podSelector"].get("matchLabels", {})
        hits = [d for d in deployments if matches(sel, d["spec"]["template"]["metadata"]["labels"])]
        f.check(len(hits) == 1 and component(hits[0]) == component(np),
                f"{tag} {name_of(np)}: podSelector matches {[name_of(d) for d in hits]}")
    for svc in services:
        hits = [d for d in deployments if matches(svc["spec"]["selector"], d["spec"]["template"]["metadata"]["labels"])]
        f.check(len(hits) == 1 and component(hits[0]) == component(svc), f"{tag} {name_of(svc)}: selector matches {[name_of(d) for d in hits]}")
        if hits:
            names = {p["name"] for c in hits[0]["spec"]["template"]["spec"]["containers"] for p in c.get("ports", [])}
            for port in svc["spec"]["ports"]:
                f.check(port["targetPort"] in names, f"{tag} {name_of(svc)}: targetPort {port['targetPort']} is not a container port")

    if gw:
        spec = gw["spec"]["template"]["spec"]
        c = spec["containers"][0]
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        f.check(ports == {"http": 8000, "admin": 9000}, f"{tag} gateway: ports are {ports}, not http 8000 / admin 9000")
        ru = gw["spec"].get("strategy", {}).get("rollingUpdate", {})
        f.check(ru.get("maxSurge") == 1 and ru.get("maxUnavailable") == 0, f"{tag} gateway: rollingUpdate is {ru}")
        tsc = spec.get("topologySpreadConstraints", [])
        f.check(bool(tsc) and all(matches(t.get("labelSelector", {}).get("matchLabels", {}), gw["spec"]["template"]["metadata"]["labels"]) for t in tsc),
                f"{tag} gateway: topologySpreadConstraints missing or not selecting the gateway pods")
        f.check(c.get("livenessProbe", {}).get("httpGet", {}).get("path") == "/livez", f"{tag} gateway: liveness is not /livez")
        f.check(c.get("readinessProbe", {}).get("httpGet", {}).get("path") == "/readyz", f"{tag} gateway: readiness is not /readyz")
        for p in ("livenessProbe", "readinessProbe", "startupProbe"):
            f.check(c.get(p, {}).get("httpGet", {}).get("port") == "admin", f"{tag} gateway: {p} is not on the admin port")
        env = env_map(c)
        f.check(env.get("POD_NAME", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "metadata.name",
                f"{tag} gateway: POD_NAME is not from metadata.name")
        f.check("secretKeyRef" in env.get("REDIS_URL", {}).get("valueFrom", {}), f"{tag} gateway: REDIS_URL is not from a Secret")
        if "ADMIN_TOKEN" in env:
            f.check("secretKeyRef" in env["ADMIN_TOKEN"].get("valueFrom", {}), f"{tag} gateway: ADMIN_TOKEN is not from a Secret")
        f.check(env_value(c, "LOG_FORMAT") == "json", f"{tag} gateway: LOG_FORMAT is not json")
        pre = c.get("lifecycle", {}).get("preStop", {})
        f.check("sleep" in pre, f"{tag} gateway: no native preStop sleep")
        pre_s = pre.get("sleep", {}).get("seconds", 0)
        try:
            delay = parse_duration(env_value(c, "DRAIN_DELAY"))
            window = parse_duration(env_value(c, "DRAIN_WINDOW"))
            shutdown = parse_duration(env_value(c, "SHUTDOWN_TIMEOUT"))
            grace = spec["terminationGracePeriodSeconds"]
            f.check(shutdown > delay + window, f"{tag} gateway: SHUTDOWN_TIMEOUT {shutdown}s <= DRAIN_DELAY + DRAIN_WINDOW {delay + window}s")
            f.check(grace >= pre_s + delay + window + 1,
                    f"{tag} gateway: grace {grace}s < preStop {pre_s}s + DRAIN_DELAY {delay}s + DRAIN_WINDOW {window}s + 1s")
            f.check(grace > pre_s + max(shutdown, delay + window),
                    f"{tag} gateway: grace {grace}s <= preStop {pre_s}s + SHUTDOWN_TIMEOUT {shutdown}s")
        except (TypeError, ValueError, KeyError) as e:
            f.check(False, f"{tag} gateway: drain settings unreadable: {e}")
    if wk:
        spec = wk["spec"]["template"]["spec"]
        c = spec["containers"][0]
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        f.check(ports == {"admin": 9001}, f"{tag} worker: ports are {ports}, not admin 9001")
        env = env_map(c)
        f.check(env.get("POD_NAME", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "metadata.name",
                f"{tag} worker: POD_NAME is not from metadata.name")
        for name in ("QUEUE_NAME", "WORKER_CONCURRENCY", "WORKER_SHUTDOWN_TIMEOUT", "VISIBILITY_TIMEOUT"):
            f.check(bool(env_value(c, name)), f"{tag} worker: {name} is not set")
        try:
            shutdown = parse_duration(env_value(c, "WORKER_SHUTDOWN_TIMEOUT"))
            grace = spec["terminationGracePeriodSeconds"]
            f.check(grace > shutdown, f"{tag} worker: grace {grace}s is not above WORKER_SHUTDOWN_TIMEOUT {shutdown}s")
        except (TypeError, ValueError, KeyError) as e:
            f.check(False, f"{tag} worker: WORKER_SHUTDOWN_TIMEOUT unreadable: {e}")

    # Routes point at the gateway Service's http port.
    gw_svc = next((s for s in services if component(s) == "gateway"), None)
    svc_ports = {p["port"] for p in gw_svc["spec"]["ports"]} | {p["name"] for p in gw_svc["spec"]["ports"]} if gw_svc else set()
    for r in by_kind.get("HTTPRoute", []):
        refs = [b for rule in r["spec"]["rules"] for b in rule.get("backendRefs", [])]
        f.check(bool(refs) and all(b["name"] == gw_svc["metadata"]["name"] and b["port"] in svc_ports for b in refs),
                f"{tag} {name_of(r)}: backendRefs {refs} are not the gateway Service")
        paths = [m.get("path", {}).get("value") for rule in r["spec"]["rules"] for m in rule.get("matches", [])]
        f.check("/api/v1/sse/connect" in paths, f"{tag} {name_of(r)}: no rule for the SSE stream path")
    for ing in by_kind.get("Ingress", []):
        for rule in ing["spec"]["rules"]:
            for p in rule["http"]["paths"]:
                svc = p["backend"]["service"]
                f.check(svc["name"] == gw_svc["metadata"]["name"] and svc["port"].get("name", svc["port"].get("number")) in svc_ports,
                        f"{tag} {name_of(ing)}: backend {svc} is not the gateway Service")
        ann = ing["metadata"].get("annotations", {})
        f.check(ann.get("nginx.ingress.kubernetes.io/proxy-buffering") == "off", f"{tag} {name_of(ing)}: proxy buffering is not off")
        for a in ("proxy-read-timeout", "proxy-send-timeout"):
            f.check(int(ann.get(f"nginx.ingress.kubernetes.io/{a}", "0")) >= 600, f"{tag} {name_of(ing)}: {a} is not long")

    # Monitoring objects select the right pods and ports.
    for sm in by_kind.get("ServiceMonitor", []):
        ok = gw_svc is not None and matches(sm["spec"]["selector"]["matchLabels"], gw_svc["metadata"]["labels"])
        f.check(ok, f"{tag} {name_of(sm)}: selector does not match the gateway Service")
        for ep in sm["spec"]["endpoints"]:
            f.check(ep.get("port") == "admin" and ep.get("path") == "/metrics", f"{tag} {name_of(sm)}: endpoint is not admin /metrics")
    for pm in by_kind.get("PodMonitor", []):
        ok = wk is not None and matches(pm["spec"]["selector"]["matchLabels"], wk["spec"]["template"]["metadata"]["labels"])
        f.check(ok, f"{tag} {name_of(pm)}: selector does not match the worker pods")
        for ep in pm["spec"]["podMetricsEndpoints"]:
            f.check(ep.get("port") == "admin" and ep.get("path") == "/metrics", f"{tag} {name_of(pm)}: endpoint is not admin /metrics")
    alert_groups = []
    for p in sorted((chart / "alerts").glob("*.yaml")):
        alert_groups += yaml.safe_load(p.read_text(encoding="utf-8"))["groups"]
    for pr in by_kind.get("PrometheusRule", []):
        f.check(pr["spec"]["groups"] == alert_groups, f"{tag} {name_of(pr)}: groups differ from alerts/*.yaml")

    dashboards = {p.name: p.read_bytes() for p in sorted((chart / "dashboards").glob("*.json"))}
    dash_cms = [cm for cm in by_kind.get("ConfigMap", []) if cm["metadata"].get("labels", {}).get("grafana_dashboard") == "1"]
    if dash_cms:
        seen = {}
        for cm in dash_cms:
            for key, value in cm.get("data", {}).items():
                seen[key] = value.encode("utf-8")
        f.check(set(seen) == set(dashboards), f"{tag}: dashboard ConfigMaps hold {sorted(seen)}, files are {sorted(dashboards)}")
        for key, data in seen.items():
            f.check(data == dashboards.get(key), f"{tag}: ConfigMap data {key} differs from dashboards/{key} ({len(data)} vs {len(dashboards.get(key, b''))} bytes)")


def cmd_assert(args: argparse.Namespace) -> int:
    f = Failures()
    for path in args.rendered:
        check_render(f, path, Path(args.chart))
    return f.finish(f"{len(args.rendered)} rendered files")


# ---------------------------------------------------------------------------------------
# negative


def helm_template(helm: str, chart: str, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([helm, "template", "rp", chart, "--namespace", "rp", *extra],
                          capture_output=True, text=True, check=False)


def cmd_negative(args: argparse.Namespace) -> int:
    f = Failures()
    apis = ["--api-versions", "monitoring.coreos.com/v1", "--api-versions", "keda.sh/v1alpha1",
            "--api-versions", "gateway.networking.k8s.io/v1"]
    must_fail = [
        ("worker HPA and KEDA both enabled",
         ["--set", "worker.autoscaling.enabled=true,worker.keda.enabled=true", *apis],
         "worker.autoscaling.enabled and worker.keda.enabled are both true"),
        ("gateway grace shorter than preStop + drain",
         ["--set", "gateway.terminationGracePeriodSeconds=20"],
         "gateway.terminationGracePeriodSeconds (20) is too short"),
        ("gateway grace equal to preStop + SHUTDOWN_TIMEOUT",
         ["--set", "gateway.terminationGracePeriodSeconds=35"],
         "gateway.terminationGracePeriodSeconds (35) is too short"),
        ("SHUTDOWN_TIMEOUT not above DRAIN_DELAY + DRAIN_WINDOW",
         ["--set", "gateway.env.SHUTDOWN_TIMEOUT=25s"],
         "SHUTDOWN_TIMEOUT (25s) must be longer than DRAIN_DELAY (5s) + DRAIN_WINDOW (20s)"),
        ("worker grace not above WORKER_SHUTDOWN_TIMEOUT",
         ["--set", "worker.terminationGracePeriodSeconds=25"],
         "worker.terminationGracePeriodSeconds (25) must be above WORKER_SHUTDOWN_TIMEOUT (25s)"),
        ("unknown top-level key", ["--set", "gatewy.replicaCount=3"], "additional properties 'gatewy' not allowed"),
        ("misspelled env variable", ["--set", "gateway.env.DRAIN_WINDOWS=20s"], "additional properties 'DRAIN_WINDOWS' not allowed"),
        ("bad duration", ["--set", "gateway.env.DRAIN_DELAY=5sec"], "DRAIN_DELAY"),
        ("no Redis at all", ["--set", "redis.url="], "redis: set redis.url, redis.existingSecret"),
        ("Kubernetes older than 1.30", ["--kube-version", "1.29.9"], "kubeVersion"),
        ("KEDA with an existing Secret and no address",
         ["--set", "worker.keda.enabled=true,worker.keda.metric=lag,redis.existingSecret=r", *apis],
         "worker.keda.address is required"),
    ]
    for what, extra, message in must_fail:
        r = helm_template(args.helm, args.chart, *extra)
        if f.check(r.returncode != 0, f"{what}: rendered, but must fail"):
            f.check(message in r.stderr, f"{what}: failed without the message {message!r}: {r.stderr.strip()[:300]}")
        print(f"  refused as expected: {what}" if r.returncode and message in r.stderr else f"  WRONG: {what}")

    # Computed grace periods follow the values.
    r = helm_template(args.helm, args.chart, "--set",
                      "gateway.env.DRAIN_DELAY=2s,gateway.env.DRAIN_WINDOW=40s,gateway.env.SHUTDOWN_TIMEOUT=50s,"
                      "gateway.preStopSleepSeconds=10,worker.env.WORKER_SHUTDOWN_TIMEOUT=2m")
    if f.check(r.returncode == 0, f"custom drain values do not render: {r.stderr[:300]}"):
        graces = {d["metadata"]["labels"][COMPONENT]: d["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
                  for d in yaml.safe_load_all(r.stdout) if d and d["kind"] == "Deployment"}
        f.check(graces == {"gateway": 65, "worker": 130}, f"computed grace periods {graces}, expected gateway 65 (10+50+5), worker 130 (120+10)")
        print(f"  computed grace periods follow the values: {graces}")

    # Without the CRDs' API versions, gated resources are left out (and nothing else breaks).
    r = helm_template(args.helm, args.chart, "-f", str(Path(args.chart) / "ci" / "everything-on-values.yaml"))
    if f.check(r.returncode == 0, f"everything-on without API versions does not render: {r.stderr[:300]}"):
        kinds = {d["kind"] for d in yaml.safe_load_all(r.stdout) if d}
        gated = kinds & {"ServiceMonitor", "PodMonitor", "PrometheusRule", "ScaledObject", "HTTPRoute"}
        f.check(not gated, f"rendered {sorted(gated)} although the cluster does not serve their API")
        print(f"  without the CRDs' APIs, gated kinds are left out: {sorted(kinds)}")
    return f.finish("renders that must fail or follow the values")


# ---------------------------------------------------------------------------------------
# monitoring


METRIC_RE = re.compile(r"\b((?:sse|http|worker|build|process)_[a-z0-9_]+)")


def exported_metrics(docs_file: str) -> set[str]:
    text = Path(docs_file).read_text(encoding="utf-8")
    return set(re.findall(r"`([a-z_][a-z0-9_]*)`", text))


def base_metric(name: str) -> str:
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def cmd_monitoring(args: argparse.Namespace) -> int:
    f = Failures()
    chart = Path(args.chart)
    known = exported_metrics(args.docs)
    exprs: list[tuple[str, str]] = []
    uids = set()
    files = sorted((chart / "dashboards").glob("*.json"))
    f.check(len(files) >= 2, "expected the gateway and worker dashboards")
    for p in files:
        raw = p.read_bytes()
        f.check(raw.endswith(b"\n"), f"{p.name}: no final newline")
        try:
            board = json.loads(raw)
        except json.JSONDecodeError as e:
            f.check(False, f"{p.name}: invalid JSON: {e}")
            continue
        f.check(board.get("uid") not in uids, f"{p.name}: duplicate uid {board.get('uid')}")
        uids.add(board.get("uid"))
        f.check("id" not in board or board["id"] is None, f"{p.name}: has a fixed numeric id")
        names = {v["name"] for v in board.get("templating", {}).get("list", [])}
        f.check({"datasource", "namespace"} <= names, f"{p.name}: needs datasource and namespace variables")
        panels = [q for q in board["panels"] if q["type"] != "row"]
        f.check(len(panels) >= 8, f"{p.name}: only {len(panels)} panels")
        for panel in panels:
            targets = panel.get("targets", [])
            f.check(bool(targets), f"{p.name}: panel {panel.get('title')!r} has no query")
            for t in targets:
                exprs.append((f"{p.name}: {panel.get('title')}", t["expr"]))
    for p in sorted((chart / "alerts").glob("*.yaml")):
        for g in yaml.safe_load(p.read_text(encoding="utf-8"))["groups"]:
            for rule in g["rules"]:
                exprs.append((f"{p.name}: {rule.get('alert') or rule.get('record')}", rule["expr"]))
                f.check(rule.get("labels", {}).get("severity") in ("critical", "warning", "info"),
                        f"{p.name}: {rule.get('alert')} has no severity")
                f.check(bool(rule.get("annotations", {}).get("summary")), f"{p.name}: {rule.get('alert')} has no summary")
    for where, expr in exprs:
        for metric in METRIC_RE.findall(expr):
            f.check(base_metric(metric) in known, f"{where}: metric {metric} is not in docs/operations.md")
    # The dashboards' PromQL, with Grafana's variables filled in, through promtool.
    rules = {"groups": [{"name": "dashboards", "rules": [
        {"record": f"dashboard:query_{i}:check",
         "expr": e.replace("$__rate_interval", "5m").replace("$namespace", "ns").replace("$pod", ".*")}
        for i, (w, e) in enumerate(exprs) if w.split(":")[0].endswith(".json")]}]}
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as tmp:
        yaml.safe_dump(rules, tmp)
    try:
        r = subprocess.run(["promtool", "check", "rules", tmp.name], capture_output=True, text=True, check=False)
        f.check(r.returncode == 0, f"dashboard PromQL rejected by promtool: {r.stdout[-800:]} {r.stderr[-800:]}")
    finally:
        os.unlink(tmp.name)
    print(f"  {len(exprs)} queries of {len(files)} dashboards and the alerts use only exported metrics; promtool parses the dashboards' queries")
    return f.finish("dashboards and alerts")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("split")
    p.add_argument("rendered")
    p.add_argument("outdir")
    p = sub.add_parser("assert")
    p.add_argument("--chart", required=True)
    p.add_argument("rendered", nargs="+")
    p = sub.add_parser("negative")
    p.add_argument("--helm", required=True)
    p.add_argument("--chart", required=True)
    p = sub.add_parser("monitoring")
    p.add_argument("--chart", required=True)
    p.add_argument("--docs", required=True)
    args = parser.parse_args()
    return {"split": cmd_split, "assert": cmd_assert, "negative": cmd_negative, "monitoring": cmd_monitoring}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
