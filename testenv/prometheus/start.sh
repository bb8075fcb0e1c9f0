#!/usr/bin/env bash
# Starts a real Prometheus and Alertmanager on loopback (Debian's packages).
#
#   testenv/prometheus/start.sh STATE_DIR PROMETHEUS_YML ALERTMANAGER_YML [OWNER_PID]
#
# The config files are copied into STATE_DIR; in them, @ALERTMANAGER@ is
# replaced with Alertmanager's address, so that Prometheus can send alerts
# to it. It writes STATE_DIR/env with PROMETHEUS_URL and ALERTMANAGER_URL,
# and stops when OWNER_PID exits, after two hours, or with stop.sh.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"

state=${1:?usage: start.sh STATE_DIR PROMETHEUS_YML ALERTMANAGER_YML [OWNER_PID]}
prom_cfg=${2:?prometheus.yml}
am_cfg=${3:?alertmanager.yml}
owner=${4:-$PPID}
command -v prometheus >/dev/null || die "prometheus not found: run testenv/install.sh"
command -v prometheus-alertmanager >/dev/null || die "prometheus-alertmanager not found: run testenv/install.sh"
mkdir -p "$state"
state=$(cd "$state" && pwd)
[ -f "$state/pids" ] && "$here/stop.sh" "$state"
rm -rf "$state/prom-data" "$state/am-data"
mkdir -p "$state/prom-data" "$state/am-data"
: >"$state/pids"

am_port=$(free_port)
prom_port=$(free_port)
cp "$am_cfg" "$state/alertmanager.yml"
sed "s|@ALERTMANAGER@|127.0.0.1:$am_port|g" "$prom_cfg" >"$state/prometheus.yml"

prometheus-alertmanager --config.file "$state/alertmanager.yml" --storage.path "$state/am-data" \
	--web.listen-address "127.0.0.1:$am_port" --cluster.listen-address= >"$state/alertmanager.log" 2>&1 &
echo $! >>"$state/pids"
prometheus --config.file "$state/prometheus.yml" --storage.tsdb.path "$state/prom-data" \
	--web.listen-address "127.0.0.1:$prom_port" >"$state/prometheus.log" 2>&1 &
echo $! >>"$state/pids"

for url in "http://127.0.0.1:$am_port/-/ready" "http://127.0.0.1:$prom_port/-/ready"; do
	for _ in $(seq 1 100); do
		curl -fsS "$url" >/dev/null 2>&1 && break
		sleep 0.1
	done
	curl -fsS "$url" >/dev/null || die "$url not ready; see $state/*.log"
done
cat >"$state/env" <<ENV
PROMETHEUS_URL=http://127.0.0.1:$prom_port
ALERTMANAGER_URL=http://127.0.0.1:$am_port
ENV
start_watchdog "$state" "$owner" 7200 "$here/stop.sh"
log "prometheus at http://127.0.0.1:$prom_port, alertmanager at http://127.0.0.1:$am_port"
