#!/usr/bin/env bash
# A three-node Weir cluster on this machine, in one command:
#   examples/cluster/run.sh
# Clients bootstrap from 127.0.0.1:19092,127.0.0.1:29092,127.0.0.1:39092;
# `weir cluster status --admin http://127.0.0.1:19644` shows the quorum.
# Ctrl-C stops all three (data stays in ./weir-cluster for the next run).
set -euo pipefail
cd "$(dirname "$0")/../.."
weir="${WEIR_BIN:-}"
if [ -z "$weir" ]; then
  cargo build --release --locked
  weir=target/release/weir
fi
pids=()
stop() {
  trap - INT TERM EXIT
  kill -TERM "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
}
trap stop INT TERM EXIT
for n in 1 2 3; do
  "$weir" serve --config "examples/cluster/node$n.toml" > >(sed -u "s/^/[node$n] /") 2>&1 &
  pids+=($!)
done
echo "three nodes starting: bootstrap.servers=127.0.0.1:19092,127.0.0.1:29092,127.0.0.1:39092"
wait
