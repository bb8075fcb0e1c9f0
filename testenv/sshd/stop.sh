#!/usr/bin/env bash
# Stops the sshd nodes that start.sh or bastion.sh started in STATE_DIR, and
# removes the network namespaces and routes bastion.sh made. Idempotent.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
state=${1:?usage: stop.sh STATE_DIR}
stop_env "$state"
if [ -f "$state/routes" ]; then
	while read -r r; do
		[ -n "$r" ] && ip route del unreachable "$r" 2>/dev/null || true
	done <"$state/routes"
	rm -f "$state/routes"
fi
if [ -f "$state/netns" ]; then
	while read -r ns; do
		[ -n "$ns" ] && ip netns del "$ns" 2>/dev/null || true
	done <"$state/netns"
	rm -f "$state/netns"
fi
exit 0
