#!/usr/bin/env bash
# Needs the local PostgreSQL (127.0.0.1:5432, trust auth) for the store and
# cluster tests; starts it if it has stopped.
# Installs what the tests need (moto, the Akeyless Python SDK, pytest into
# .venv; ministack into .venv-ministack, made only if missing, since it pins
# its own botocore; schemathesis into .venv-schemathesis; cargo-nextest, Debian's chromium and the console tests'
# pinned playwright-core if missing) and runs every test: formatting,
# clippy, the Rust unit and end-to-end suites (the console's in headless
# Chromium), and the Python SDK suite. Console screenshots land in
# test-output/console/.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install --quiet --disable-pip-version-check -r tests/python/requirements.txt
export DYNSEC_MOTO_SERVER="$PWD/.venv/bin/moto_server"

if [ ! -x .venv-ministack/bin/python ]; then
  python3 -m venv .venv-ministack
fi
.venv-ministack/bin/pip install --quiet --disable-pip-version-check -r tests/ministack/requirements.txt
export DYNSEC_MINISTACK="$PWD/.venv-ministack/bin/ministack"

# schemathesis fuzzes the gateway from its OpenAPI document
# (crates/dynsec/tests/openapi.rs); its own venv: it pins hypothesis and jsonschema.
if [ ! -x .venv-schemathesis/bin/python ]; then
  python3 -m venv .venv-schemathesis
fi
.venv-schemathesis/bin/pip install --quiet --disable-pip-version-check -r tests/schemathesis/requirements.txt
export DYNSEC_SCHEMATHESIS="$PWD/.venv-schemathesis/bin/schemathesis"
export PATH="$PWD/.venv/bin:$PATH"

if ! cargo nextest --version >/dev/null 2>&1; then
  cargo install cargo-nextest --locked
fi

# The console's end-to-end tests drive Debian's Chromium with playwright-core
# (pinned by tests/console/package-lock.json; it never downloads a browser).
if [ ! -x /usr/bin/chromium ]; then
  sudo_if_needed=""
  if [ "$(id -u)" -ne 0 ]; then sudo_if_needed="sudo"; fi
  $sudo_if_needed apt-get install -y chromium \
    || { $sudo_if_needed apt-get update && $sudo_if_needed apt-get install -y chromium; }
fi
npm ci --prefix tests/console --no-audit --no-fund --loglevel=error

# The store and cluster tests create their own databases on the local
# PostgreSQL (trust auth, user postgres); start it if it has stopped.
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  fi
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  pg_isready -h 127.0.0.1 -p 5432
fi

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo nextest run --workspace --no-fail-fast
# The Python suite drives the gateway binary nextest built for the
# integration tests (target/debug/dynsec). A separate `cargo build` would
# resolve features without the dev-dependencies and rebuild tokio, sqlx and
# the AWS SDK (measured: 10 min on a cold 2-core machine).
test -x target/debug/dynsec
DYNSEC_BIN="$PWD/target/debug/dynsec" .venv/bin/python -m pytest tests/python -q
