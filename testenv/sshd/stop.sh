#!/usr/bin/env bash
# Stops the sshd nodes that start.sh started in STATE_DIR. Idempotent.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
state=${1:?usage: stop.sh STATE_DIR}
[ -f "$state/pids" ] || exit 0
while read -r pid; do
	[ -n "$pid" ] && kill "$pid" 2>/dev/null || true
done <"$state/pids"
for _ in $(seq 1 50); do
	alive=0
	while read -r pid; do
		[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && alive=1
	done <"$state/pids"
	[ "$alive" = 0 ] && break
	sleep 0.1
done
while read -r pid; do
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
done <"$state/pids"
rm -f "$state/pids" "$state/env"
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
if [ -f "$state/watchdog.pid" ]; then
	wd=$(cat "$state/watchdog.pid")
	rm -f "$state/watchdog.pid"
	[ "$wd" != "$$" ] && [ "$wd" != "$PPID" ] && kill "$wd" 2>/dev/null || true
fi
exit 0
