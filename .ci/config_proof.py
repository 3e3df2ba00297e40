#!/usr/bin/env python3
"""Config proof: the chart's default environment starts the real binaries.

Renders the chart with its defaults, takes each Deployment's container environment exactly
as Kubernetes would give it (secretKeyRef resolved from the rendered Secret, POD_NAME from
the downward API as a made-up pod name), points REDIS_URL at a redis-server started here on
a free port and every *_ADDR at a free loopback port, and then, for sse-gateway and
resume-worker (target/debug, built when missing):

  * every variable the chart sets is one the binary reads (its --help lists it);
  * the process starts with exactly that environment (plus PATH) and every HTTP probe of
    the Deployment answers 200 (readiness polled for up to 30 s);
  * the `helm test` Pod's script, run here against the gateway, gets the `connected` event;
  * after SIGTERM it exits with code 0 within the pod's grace period (less the preStop
    sleep); an open SSE stream is closed with a `closing` event first.

    config_proof.py --helm HELM --chart DIR [--target-dir DIR] [--build]
"""

from __future__ import annotations

import argparse
import base64
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

BINARIES = {"sse-gateway": "sse-gateway", "resume-worker": "resume-worker"}
# Read outside clap (tracing's EnvFilter), documented in the README for both services.
EXTRA_KNOWN_ENV = {"RUST_LOG"}
READY_TIMEOUT = 30.0


class ProofError(Exception):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(port: int, path: str, timeout: float = 2.0) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read(2000).decode("utf-8", "replace")
    finally:
        conn.close()


def env_names_from_help(binary: Path) -> set[str]:
    out = subprocess.run([str(binary), "--help"], capture_output=True, text=True, timeout=30, check=False)
    if out.returncode != 0:
        raise ProofError(f"{binary.name} --help exited {out.returncode}: {out.stderr.strip()[:500]}")
    return set(re.findall(r"\[env: ([A-Z0-9_]+)[=\]]", out.stdout))


class Redis:
    def __init__(self) -> None:
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="proof-redis-")
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self.dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise ProofError("redis-server did not start")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def render(helm: str, chart: str) -> list[dict]:
    r = subprocess.run([helm, "template", "proof", chart, "--namespace", "proof"],
                       capture_output=True, text=True, check=False)
    if r.returncode != 0:
        raise ProofError(f"helm template with the default values failed: {r.stderr.strip()}")
    return [d for d in yaml.safe_load_all(r.stdout) if d]


def secret_value(docs: list[dict], name: str, key: str, var: str) -> str:
    for d in docs:
        if d["kind"] == "Secret" and d["metadata"]["name"] == name:
            if key in d.get("stringData", {}):
                return str(d["stringData"][key])
            if key in d.get("data", {}):
                return base64.b64decode(d["data"][key]).decode("utf-8")
            raise ProofError(f"env {var}: Secret {name} has no key {key}")
    raise ProofError(f"env {var}: Secret {name} is not rendered by the chart")


def resolve_env(docs: list[dict], deploy: dict, container: dict) -> dict[str, str]:
    pod_name = f"{deploy['metadata']['name']}-5d4f7c9b8-proof"
    env: dict[str, str] = {}
    if container.get("envFrom"):
        raise ProofError(f"{container['name']}: envFrom is not supported by the proof")
    for e in container.get("env", []):
        name = e["name"]
        if "value" in e:
            env[name] = str(e["value"])
            continue
        src = e.get("valueFrom", {})
        if "secretKeyRef" in src:
            env[name] = secret_value(docs, src["secretKeyRef"]["name"], src["secretKeyRef"]["key"], name)
        elif src.get("fieldRef", {}).get("fieldPath") == "metadata.name":
            env[name] = pod_name
        elif src.get("fieldRef", {}).get("fieldPath") == "metadata.namespace":
            env[name] = "proof"
        else:
            raise ProofError(f"env {name}: cannot resolve valueFrom {src}")
    return env


class Service:
    """One binary started with the environment of its Deployment."""

    def __init__(self, deploy: dict, docs: list[dict], redis_port: int, binary: Path, logdir: Path) -> None:
        self.deploy = deploy
        spec = deploy["spec"]["template"]["spec"]
        if len(spec["containers"]) != 1:
            raise ProofError(f"{deploy['metadata']['name']}: expected one container")
        self.container = spec["containers"][0]
        self.name = self.container["name"]
        self.binary = binary
        self.grace = int(spec.get("terminationGracePeriodSeconds", 30))
        self.pre_stop = int(self.container.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0))
        self.env = resolve_env(docs, deploy, self.container)
        self.chart_env = dict(self.env)
        # Containers port numbers -> the loopback ports used here.
        self.port_map: dict[int, int] = {}
        self.env["REDIS_URL"] = f"redis://127.0.0.1:{redis_port}"
        for var, value in list(self.env.items()):
            if var.endswith("_ADDR"):
                m = re.fullmatch(r"(.+):([0-9]+)", value)
                if not m:
                    raise ProofError(f"{self.name}: {var}={value!r} is not host:port")
                local = free_port()
                self.port_map[int(m.group(2))] = local
                self.env[var] = f"127.0.0.1:{local}"
        self.named_ports = {p["name"]: p["containerPort"] for p in self.container.get("ports", [])}
        for port in self.named_ports.values():
            if port not in self.port_map:
                raise ProofError(f"{self.name}: container port {port} is not served by any *_ADDR variable")
        self.log_path = logdir / f"{self.name}.log"
        self.proc: subprocess.Popen | None = None

    def local_port(self, port: int | str) -> int:
        number = self.named_ports.get(port, port) if isinstance(port, str) else port
        if number not in self.port_map:
            raise ProofError(f"{self.name}: probe port {port} is not a port the process listens on")
        return self.port_map[number]

    def log_tail(self) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-15:])
        except OSError:
            return ""

    def check_env_names(self) -> None:
        known = env_names_from_help(self.binary) | EXTRA_KNOWN_ENV
        unknown = sorted(set(self.chart_env) - known)
        if unknown:
            raise ProofError(f"{self.name}: the chart sets {', '.join(unknown)}, which the binary does not read "
                             f"(not in `{self.binary.name} --help`)")
        print(f"  {self.name}: all {len(self.chart_env)} variables the chart sets are read by the binary")

    def start(self) -> None:
        shown = {k: ("***" if k in ("REDIS_URL", "ADMIN_TOKEN") else v) for k, v in sorted(self.env.items())}
        print(f"  {self.name}: starting {self.binary} with {len(self.env)} variables (+PATH): "
              + " ".join(f"{k}={v}" for k, v in shown.items()))
        env = dict(self.env)
        env["PATH"] = os.environ.get("PATH", "/usr/bin:/bin")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([str(self.binary)], env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)

    def wait_ready(self) -> float:
        probe = self.container.get("readinessProbe", {}).get("httpGet")
        if not probe:
            raise ProofError(f"{self.name}: no httpGet readinessProbe")
        port = self.local_port(probe["port"])
        start = time.monotonic()
        last = "no answer"
        while time.monotonic() - start < READY_TIMEOUT:
            if self.proc.poll() is not None:
                raise ProofError(f"{self.name} exited with code {self.proc.returncode} before it was ready; log:\n{self.log_tail()}")
            try:
                status, body = http_get(port, probe["path"])
                if status == 200:
                    return time.monotonic() - start
                last = f"{status} {body[:200]}"
            except OSError as e:
                last = str(e)
            time.sleep(0.2)
        raise ProofError(f"{self.name}: {probe['path']} not 200 within {READY_TIMEOUT:.0f} s (last: {last}); log:\n{self.log_tail()}")

    def check_probes(self) -> None:
        for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
            probe = self.container.get(kind, {}).get("httpGet")
            if probe:
                status, body = http_get(self.local_port(probe["port"]), probe["path"])
                if status != 200:
                    raise ProofError(f"{self.name}: {kind} GET {probe['path']} on port {probe['port']} answered {status}: {body[:200]}")
                print(f"  {self.name}: {kind} GET {probe['path']} (port {probe['port']}) -> 200")

    def stop(self) -> tuple[int, float]:
        budget = self.grace - self.pre_stop
        start = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(budget)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise ProofError(f"{self.name}: still running {budget} s after SIGTERM (grace {self.grace} s - preStop "
                             f"{self.pre_stop} s): Kubernetes would kill it; log:\n{self.log_tail()}")
        return code, time.monotonic() - start

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class SseStream:
    """A raw SSE connection to the gateway's public port."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.sock.sendall(b"GET /api/v1/sse/connect HTTP/1.1\r\nHost: proof\r\nAccept: text/event-stream\r\n\r\n")
        self.buf = b""

    def read_until(self, needle: bytes, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while needle not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(4096)
            except (TimeoutError, socket.timeout):
                return False
            if not chunk:
                return needle in self.buf
            self.buf += chunk
        return True

    def close(self) -> None:
        self.sock.close()


def run_helm_test(docs: list[dict], gateway: Service) -> None:
    """Runs the `helm test` Pod's script here, with the Service address pointed at the gateway."""
    pods = [d for d in docs if d["kind"] == "Pod" and d["metadata"].get("annotations", {}).get("helm.sh/hook") == "test"]
    services = [d for d in docs if d["kind"] == "Service" and d["metadata"]["labels"].get("app.kubernetes.io/component") == "gateway"]
    if len(pods) != 1 or len(services) != 1:
        raise ProofError(f"expected one helm test Pod and one gateway Service, found {len(pods)} and {len(services)}")
    svc = services[0]
    port = next(p["port"] for p in svc["spec"]["ports"] if p["name"] == "http")
    address = f"http://{svc['metadata']['name']}:{port}/"
    command = pods[0]["spec"]["containers"][0]["command"]
    if not any(address in part for part in command):
        raise ProofError(f"the helm test does not use the gateway Service address {address}")
    local = [part.replace(address, f"http://127.0.0.1:{gateway.local_port('http')}/") for part in command]
    r = subprocess.run(local, capture_output=True, text=True, timeout=60, check=False,
                       env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    if r.returncode != 0 or "event: connected" not in r.stdout:
        raise ProofError(f"the helm test script failed against the gateway (exit {r.returncode}): {r.stdout[-400:]} {r.stderr[-400:]}")
    print(f"  helm test script (sh, curl, grep) against the gateway: {r.stdout.strip().splitlines()[-1]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--helm", required=True)
    parser.add_argument("--chart", required=True)
    parser.add_argument("--target-dir", default=os.environ.get("CARGO_TARGET_DIR", "target"))
    parser.add_argument("--build", action="store_true", help="run cargo build even when the binaries exist")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)

    bin_dir = Path(args.target_dir) / "debug"
    missing = [b for b in BINARIES.values() if not (bin_dir / b).exists()]
    if missing or args.build:
        print(f"  cargo build -p sse-gateway -p resume-worker ({'missing: ' + ', '.join(missing) if missing else 'requested'})")
        r = subprocess.run(["cargo", "build", "-q", "-p", "sse-gateway", "-p", "resume-worker"],
                           env=dict(os.environ, CARGO_TARGET_DIR=args.target_dir), check=False)
        if r.returncode != 0:
            print("FAILED: cargo build -p sse-gateway -p resume-worker", file=sys.stderr)
            return 1

    redis = None
    services: list[Service] = []
    streams: list[SseStream] = []
    logdir = Path(tempfile.mkdtemp(prefix="config-proof-"))
    try:
        docs = render(args.helm, args.chart)
        deployments = [d for d in docs if d["kind"] == "Deployment"]
        redis = Redis()
        print(f"  redis-server on 127.0.0.1:{redis.port}")
        for d in deployments:
            name = d["spec"]["template"]["spec"]["containers"][0]["name"]
            if name not in BINARIES:
                raise ProofError(f"Deployment {d['metadata']['name']}: container {name} is not one of {sorted(BINARIES)}")
            services.append(Service(d, docs, redis.port, bin_dir / BINARIES[name], logdir))
        if sorted(s.name for s in services) != sorted(BINARIES):
            raise ProofError(f"the default render has Deployments for {sorted(s.name for s in services)}, expected {sorted(BINARIES)}")
        for s in services:
            s.check_env_names()
        for s in services:
            s.start()
        for s in services:
            took = s.wait_ready()
            print(f"  {s.name}: ready after {took:.1f} s")
            s.check_probes()
        gateway = next(s for s in services if s.name == "sse-gateway")
        run_helm_test(docs, gateway)
        for s in services:
            if s.name == "sse-gateway":
                stream = SseStream(s.local_port("http"))
                streams.append(stream)
                if not stream.read_until(b"event: connected", 5):
                    raise ProofError(f"sse-gateway: GET /api/v1/sse/connect gave no `connected` event: {stream.buf[:300]!r}")
                print("  sse-gateway: GET /api/v1/sse/connect -> event: connected (stream kept open)")
        for s in services:
            code, took = s.stop()
            if code != 0:
                raise ProofError(f"{s.name}: exit code {code} after SIGTERM (expected 0); log:\n{s.log_tail()}")
            print(f"  {s.name}: SIGTERM -> exit 0 after {took:.1f} s (budget: grace {s.grace} s - preStop {s.pre_stop} s)")
            if s.name == "sse-gateway":
                stream = streams[0]
                if not stream.read_until(b"event: closing", 1):
                    raise ProofError(f"sse-gateway: the open stream got no `closing` event before the process exited: {stream.buf[-300:]!r}")
                print("  sse-gateway: the open stream got its `closing` event before the exit")
        print("  ok: the chart's default environment starts both binaries, which become ready and exit 0 on SIGTERM")
        shutil.rmtree(logdir, ignore_errors=True)
        return 0
    except ProofError as e:
        print(f"FAILED (config proof): {e}\n  (process logs kept in {logdir})", file=sys.stderr)
        return 1
    finally:
        for st in streams:
            st.close()
        for s in services:
            s.kill()
        if redis:
            redis.stop()


if __name__ == "__main__":
    sys.exit(main())
