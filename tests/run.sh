#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs the clients and tools the
# tests drive (kcat from apt, Python clients from PyPI, kafkajs from npm),
# builds weir once (release), then runs the Rust unit and integration tests
# and the end-to-end suite against real weir processes.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

step "kcat (Debian's stock build, librdkafka 2.0.2) and openssl (the TLS tests' certificates)"
if ! command -v kcat >/dev/null 2>&1 || ! command -v openssl >/dev/null 2>&1; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kcat openssl
fi
kcat -V | head -1
openssl version

step "Python clients (tests/requirements.txt)"
python3 -m pip install -q --disable-pip-version-check -r tests/requirements.txt

step "kafkajs (tests/js)"
(cd tests/js && npm ci --no-audit --no-fund --loglevel=error)

# One build for everything: `cargo test --no-run` compiles the library, the
# tests and target/release/weir together. A separate `cargo build` first would
# compile weir and its heaviest dependencies twice, because the
# dev-dependencies change the unified features (about 5 minutes of CI).
step "build weir and the Rust tests (release, one target dir for everything)"
cargo test --release --locked --no-run
test -x target/release/weir

step "plugin toolchain: Rust's wasm32-wasip2 target"
if ! rustup target list --installed | grep -qx wasm32-wasip2; then
  rustup target add wasm32-wasip2 || {
    echo "error: cannot install the wasm32-wasip2 target, so the plugins cannot be built" >&2
    exit 1
  }
fi

step "standard plugins (WebAssembly components, built from source)"
cargo build --release --locked --target wasm32-wasip2 --manifest-path plugins/Cargo.toml --target-dir target
ls -l target/wasm32-wasip2/release/*.wasm

step "Rust unit and integration tests"
cargo test --release --locked

# Two streams at once: the multi-broker tests (mostly waiting out session
# and lag timeouts) beside the single-broker ones. Each test starts its own
# brokers on free ports, so the streams share nothing but the machine.
step "end-to-end tests with real clients (cluster tests in a second stream)"
export WEIR_BIN="$PWD/target/release/weir"
# The plugin CLI tests (every SDK language's toolchain) ride in the second
# stream too: it would otherwise finish long before the first.
cluster_tests=(tests/e2e/test_cluster.py tests/e2e/test_cluster_roles.py tests/e2e/test_replication.py tests/e2e/test_nemesis.py
  tests/e2e/test_plugin_cli.py)
cluster_log=target/e2e-cluster.log
python3 -m pytest "${cluster_tests[@]}" -q --timeout 900 -p no:cacheprovider --durations=8 \
  --basetemp target/e2e-cluster-tmp "$@" >"$cluster_log" 2>&1 &
cluster_pid=$!
ignores=()
for t in "${cluster_tests[@]}"; do ignores+=(--ignore "$t"); done
single=0
python3 -m pytest tests/e2e "${ignores[@]}" -q --timeout 600 -p no:cacheprovider --durations=8 "$@" || single=$?
cluster=0
wait "$cluster_pid" || cluster=$?
step "end-to-end cluster tests (${cluster_log})"
cat "$cluster_log"
if [ "$single" -ne 0 ] || [ "$cluster" -ne 0 ]; then
  echo "end-to-end tests failed (single-broker stream: $single, cluster stream: $cluster)" >&2
  exit 1
fi
