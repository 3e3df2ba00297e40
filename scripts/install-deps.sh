#!/usr/bin/env bash
# Installs what the tests need and the machine lacks, saying what it installs; prints nothing
# when everything is present. `bash scripts/test.sh` and CI (`bash .ci/run`) run it first.
#   - Debian packages, with apt-get as root and through sudo otherwise: redis-server (the tests
#     start their own on free ports), prometheus and promtool (the observability test),
#     chromium, nodejs and npm (the demo page's browser test), procps (`kill`), groff (its PDF
#     driver `gropdf`; `groff-base` alone has the command without it),
#     ghostscript and poppler-utils (the résumé-analysis tests typeset part of their
#     evaluation set and check PDF text against pdftotext)
#   - cargo-nextest, the test runner (cargo install, a few minutes)
#   - the browser test's npm packages (playwright-core, pinned): services/devstack/tests/browser
set -euo pipefail
cd "$(dirname "$0")/.."

# A command (or path) the tests run, and the Debian package that provides it.
NEEDED=(
  redis-server:redis-server redis-cli:redis-server
  prometheus:prometheus promtool:prometheus
  /usr/bin/chromium:chromium node:nodejs npm:npm
  kill:procps
  gropdf:groff ps2pdf:ghostscript pdftotext:poppler-utils
)

packages=()
for entry in "${NEEDED[@]}"; do
  command=${entry%%:*} package=${entry#*:}
  if ! type -P "$command" >/dev/null && [[ " ${packages[*]} " != *" $package "* ]]; then
    packages+=("$package")
  fi
done

if [ ${#packages[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    as_root=()
  elif type -P sudo >/dev/null; then
    as_root=(sudo)
  else
    echo "missing Debian packages ${packages[*]}; as root, run: apt-get install -y ${packages[*]}" >&2
    exit 1
  fi
  echo "installing Debian packages: ${packages[*]} (${as_root[*]:+sudo }apt-get install -y)"
  "${as_root[@]}" apt-get update -qq
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq "${packages[@]}" >/dev/null
fi

if ! type -P cargo-nextest >/dev/null; then
  echo "installing cargo-nextest (cargo install --locked cargo-nextest, a few minutes)"
  cargo install --quiet --locked cargo-nextest
fi

bash services/devstack/tests/browser/install.sh
