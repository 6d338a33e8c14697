#!/usr/bin/env bash
# Stop the control plane scripts/k8s/start.sh started in DIR, by the PIDs it recorded (reverse order).
set -euo pipefail
DIR="${1:?usage: stop.sh DIR}"
[[ -f "$DIR/pids" ]] || exit 0
mapfile -t entries < <(tac "$DIR/pids")
for entry in "${entries[@]}"; do
  pid="${entry##* }"
  kill -TERM "$pid" 2>/dev/null || true
done
for entry in "${entries[@]}"; do
  pid="${entry##* }"
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  kill -KILL "$pid" 2>/dev/null || true
done
: >"$DIR/pids"
