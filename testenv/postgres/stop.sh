#!/usr/bin/env bash
# Stops the PostgreSQL server that start.sh started in STATE_DIR and removes
# its data directory. Idempotent.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
state=${1:?usage: stop.sh STATE_DIR}
stop_env "$state"
if [ -f "$state/pgdir" ]; then
	d=$(cat "$state/pgdir")
	case $d in /tmp/driftd-pg.*) rm -rf "$d" ;; esac
	rm -f "$state/pgdir"
fi
exit 0
