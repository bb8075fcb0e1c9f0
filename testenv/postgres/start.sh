#!/usr/bin/env bash
# Starts a real PostgreSQL server on loopback (Debian's package), for
# Terraform's pg backend in driftd's tests: workspaces and state locks.
#
#   testenv/postgres/start.sh STATE_DIR [OWNER_PID]
#
# It writes STATE_DIR/env with PG_CONN_STR (a database "terraform", user
# "driftd", trust authentication on 127.0.0.1 only) and stops when
# OWNER_PID exits, after two hours, or with stop.sh. PostgreSQL refuses to
# run as root, so the server runs as the "postgres" user, with its data in a
# directory of its own under /tmp (removed by stop.sh).
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"

state=${1:?usage: start.sh STATE_DIR [OWNER_PID]}
owner=${2:-$PPID}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$bin" ] && [ -x "$bin/postgres" ] || die "postgresql not found: run testenv/install.sh"
id postgres >/dev/null 2>&1 || die "no postgres user: run testenv/install.sh"
mkdir -p "$state"
state=$(cd "$state" && pwd)
[ -f "$state/pids" ] && "$here/stop.sh" "$state"
: >"$state/pids"

data=$(mktemp -d /tmp/driftd-pg.XXXXXX)
echo "$data" >"$state/pgdir"
chmod 755 "$data"
chown postgres:postgres "$data"
as_pg() { setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"; }
as_pg "$bin/initdb" -D "$data/db" -U driftd -A trust --no-sync >"$state/initdb.log" 2>&1 ||
	die "initdb failed; see $state/initdb.log"
# A port chosen free may be taken by another environment before postgres
# binds it: a server that exits is tried again on another port.
up=0
for attempt in 1 2 3; do
	port=$(free_port)
	# setpriv execs postgres: the pid recorded is the server's own.
	setpriv --reuid=postgres --regid=postgres --init-groups -- \
		"$bin/postgres" -D "$data/db" -h 127.0.0.1 -p "$port" -k "$data" -c fsync=off >"$state/postgres.log" 2>&1 &
	pid=$!
	for _ in $(seq 1 200); do
		if wait_tcp 127.0.0.1 "$port" 2; then
			up=1
			break
		fi
		kill -0 "$pid" 2>/dev/null || break
	done
	if [ "$up" = 1 ]; then
		echo "$pid" >>"$state/pids"
		break
	fi
	kill "$pid" 2>/dev/null || true
	log "postgres did not start on port $port (attempt $attempt)"
done
[ "$up" = 1 ] || die "postgres did not start; see $state/postgres.log"
for _ in $(seq 1 100); do
	"$bin/psql" -h 127.0.0.1 -p "$port" -U driftd -d postgres -qAtc 'select 1' >/dev/null 2>&1 && break
	sleep 0.1
done
"$bin/psql" -h 127.0.0.1 -p "$port" -U driftd -d postgres -qc 'CREATE DATABASE terraform' >/dev/null ||
	die "create database failed; see $state/postgres.log"
cat >"$state/env" <<ENV
PG_CONN_STR=postgres://driftd@127.0.0.1:$port/terraform?sslmode=disable
PG_BIN=$bin
ENV
start_watchdog "$state" "$owner" 7200 "$here/stop.sh"
log "postgres at 127.0.0.1:$port (database terraform, user driftd)"
