# shellcheck shell=bash
# Shared helpers for the test-environment scripts. Source it; do not run it.
set -euo pipefail

# DRIFTD_CACHE holds downloaded and built tools, outside the git tree.
DRIFTD_CACHE=${DRIFTD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/driftd}
export DRIFTD_CACHE

log() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# free_port prints a TCP port that nothing listens on, on any address.
free_port() {
	local p
	for _ in $(seq 1 200); do
		p=$((20000 + RANDOM % 20000))
		if [ -z "$(ss -Hltn "sport = :$p" 2>/dev/null)" ]; then
			echo "$p"
			return 0
		fi
	done
	die "no free port found"
}

# wait_tcp ADDR PORT [TRIES]: waits until ADDR:PORT accepts connections.
wait_tcp() {
	local addr=$1 port=$2 tries=${3:-100}
	for _ in $(seq 1 "$tries"); do
		if (exec 3<>"/dev/tcp/$addr/$port") 2>/dev/null; then
			return 0
		fi
		sleep 0.05
	done
	return 1
}

# start_watchdog STATE OWNER_PID MAX_SECONDS STOP_SCRIPT: stops the environment
# when its owner exits or after MAX_SECONDS, whichever comes first, so that an
# environment never outlives the test run that started it.
start_watchdog() {
	local state=$1 owner=$2 max=$3 stop=$4
	setsid bash -c '
		deadline=$((SECONDS + $3))
		while [ "$SECONDS" -lt "$deadline" ]; do
			if [ "$2" != 0 ] && ! kill -0 "$2" 2>/dev/null; then break; fi
			[ -d "$1" ] || exit 0
			sleep 1
		done
		exec "$4" "$1"
	' watchdog "$state" "$owner" "$max" "$stop" </dev/null >/dev/null 2>&1 &
	echo $! >"$state/watchdog.pid"
}

# stop_env STATE: stops the processes in STATE/pids, in order (each is given
# 5 s to exit before it is killed), removes STATE/pids and STATE/env, and
# ends the watchdog. Idempotent.
stop_env() {
	local state=$1 pid
	[ -f "$state/pids" ] || return 0
	while read -r pid; do
		[ -n "$pid" ] && kill "$pid" 2>/dev/null || true
	done <"$state/pids"
	while read -r pid; do
		[ -n "$pid" ] || continue
		for _ in $(seq 1 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.05
		done
		kill -9 "$pid" 2>/dev/null || true
	done <"$state/pids"
	rm -f "$state/pids" "$state/env"
	if [ -f "$state/watchdog.pid" ]; then
		local wd
		wd=$(cat "$state/watchdog.pid")
		rm -f "$state/watchdog.pid"
		[ "$wd" != "$$" ] && [ "$wd" != "$PPID" ] && kill "$wd" 2>/dev/null || true
	fi
}
