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
mkdir -p "$state/client" "$state/nodes" /run/sshd
[ -f "$state/client/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C driftd-test -f "$state/client/id_ed25519"
cp "$state/client/id_ed25519.pub" "$state/client/authorized_keys"
: >"$state/known_hosts"
: >"$state/pids"

port=$(free_port)
addrs=()
for i in $(seq 1 "$nodes"); do
	name=node$i
	addr=127.0.10.$i
	dir=$state/nodes/$name
	mkdir -p "$dir/etc" "$dir/sshd"
	rm -rf "$dir/overlay" && mkdir -p "$dir/overlay/upper" "$dir/overlay/work"
	[ -f "$dir/sshd/host_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C "$name" -f "$dir/sshd/host_ed25519"
	cat >"$dir/sshd/sshd_config" <<CONF
Port $port
ListenAddress $addr
HostKey $dir/sshd/host_ed25519
PidFile $dir/sshd/sshd.pid
AuthorizedKeysFile $state/client/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
AllowTcpForwarding yes
LogLevel VERBOSE
MaxStartups 200:30:400
MaxSessions 50
Subsystem sftp internal-sftp
CONF
	: >"$dir/sshd/sshd.log"
	unshare -m -u --propagation private bash -c '
		hostname "$1"
		mount -t overlay overlay -o "lowerdir=$2/etc:/etc,upperdir=$2/overlay/upper,workdir=$2/overlay/work" /etc
		exec "$3" -D -f "$2/sshd/sshd_config" -E "$2/sshd/sshd.log"
	' node "$name" "$dir" "$sshd" </dev/null >/dev/null 2>&1 &
	echo $! >>"$state/pids"
	printf '[%s]:%s %s\n' "$addr" "$port" "$(cut -d' ' -f1,2 "$dir/sshd/host_ed25519.pub")" >>"$state/known_hosts"
	addrs+=("$name=$addr")
done

for a in "${addrs[@]}"; do
	wait_tcp "${a#*=}" "$port" || die "sshd ${a%%=*} did not start; see $state/nodes/${a%%=*}/sshd/sshd.log"
done

cat >"$state/env" <<ENV
SSHD_PORT=$port
SSHD_USER=root
SSHD_KEY=$state/client/id_ed25519
SSHD_KNOWN_HOSTS=$state/known_hosts
SSHD_NODES="${addrs[*]}"
SSHD_STATE=$state
ENV
start_watchdog "$state" "$owner" 7200 "$here/stop.sh"
log "started $nodes sshd node(s) on port $port; env in $state/env"
