#!/usr/bin/env bash
# Starts N OpenSSH "nodes" on loopback for driftd's tests and demo.
#
#   testenv/sshd/start.sh STATE_DIR [NODES] [OWNER_PID]
#
# Node i listens on 127.0.10.i:PORT inside its own mount and UTS namespace,
# with hostname node<i> and STATE_DIR/nodes/node<i>/etc overlaid on /etc, so
# each node has its own /etc/systemd/system and /etc/kubernetes/manifests
# while the host's /etc is untouched. The overlay is writable (writes land in
# STATE_DIR/nodes/node<i>/overlay/upper). Editing an existing file under
# STATE_DIR/nodes/node<i>/etc on the host shows through at once; to create or
# delete files on a running node, run the command inside its mount namespace
# (nsenter -t PID -m), as internal/testenv's OnNode does.
#
# It writes STATE_DIR/env (shell syntax) with the port, the client key, the
# known_hosts file and the node addresses. The environment stops when
# OWNER_PID exits (default: the caller's parent), after two hours, or with
# testenv/sshd/stop.sh STATE_DIR.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
. "$here/node.sh"

state=${1:?usage: start.sh STATE_DIR [NODES] [OWNER_PID]}
nodes=${2:-1}
owner=${3:-$PPID}
sshd=/usr/sbin/sshd
[ -x "$sshd" ] || die "$sshd not found: run testenv/install.sh"
[ "$(id -u)" = 0 ] || die "must run as root (mount namespaces and overlayfs)"

mkdir -p "$state"
state=$(cd "$state" && pwd)
if [ -f "$state/pids" ]; then
	"$here/stop.sh" "$state"
fi
init_client "$state"

port=$(free_port)
addrs=()
for i in $(seq 1 "$nodes"); do
	name=node$i
	addr=127.0.10.$i
	start_sshd_node "$state" "$name" "$addr" "$port"
	addrs+=("$name=$addr")
done

for a in "${addrs[@]}"; do
	wait_tcp "${a#*=}" "$port" || die "sshd ${a%%=*} did not start; see $state/nodes/${a%%=*}/sshd/sshd.log"
done

finish_sshd_env "$state" "$port" "$owner" "${addrs[@]}"
log "started $nodes sshd node(s) on port $port; env in $state/env"
