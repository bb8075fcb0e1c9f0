#!/usr/bin/env bash
# Stops what start.sh started in STATE_DIR, one process at a time in the
# order of STATE_DIR/pids: kube-controller-manager (when it runs), then the
# apiserver, then etcd. Stopping them all at once makes the apiserver's
# shutdown drag on while etcd is gone. Idempotent.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
state=${1:?usage: stop.sh STATE_DIR}
if [ -f "$state/pids" ]; then
	while read -r pid; do
		[ -n "$pid" ] || continue
		kill "$pid" 2>/dev/null || continue
		for _ in $(seq 1 100); do # 5 s, as stop_env gives each
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.05
		done
		kill -9 "$pid" 2>/dev/null || true
	done <"$state/pids"
fi
# The rest: files, the watchdog, and anything still listed.
stop_env "$state"
