# shellcheck shell=bash
# start_sshd_node STATE NAME ADDR PORT [NETNS]: starts one sshd "node" in
# its own mount and UTS namespace (and network namespace NETNS, if given),
# with STATE/nodes/NAME/etc overlaid on /etc. It appends the pid to
# STATE/pids and the host key to STATE/known_hosts. Source it.
start_sshd_node() {
	local state=$1 name=$2 addr=$3 port=$4 netns=${5:-}
	local dir=$state/nodes/$name
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
	local prefix=()
	[ -n "$netns" ] && prefix=(ip netns exec "$netns")
	"${prefix[@]}" unshare -m -u --propagation private bash -c '
		hostname "$1"
		mount -t overlay overlay -o "lowerdir=$2/etc:/etc,upperdir=$2/overlay/upper,workdir=$2/overlay/work" /etc
		exec /usr/sbin/sshd -D -f "$2/sshd/sshd_config" -E "$2/sshd/sshd.log"
	' node "$name" "$dir" </dev/null >/dev/null 2>&1 &
	echo $! >>"$state/pids"
	# known_hosts names a host on port 22 without brackets or port.
	local host="[$addr]:$port"
	[ "$port" = 22 ] && host=$addr
	printf '%s %s\n' "$host" "$(cut -d' ' -f1,2 "$dir/sshd/host_ed25519.pub")" >>"$state/known_hosts"
}

# init_client STATE: makes the client key that every node accepts.
init_client() {
	local state=$1
	mkdir -p "$state/client" "$state/nodes" /run/sshd
	[ -f "$state/client/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C driftd-test -f "$state/client/id_ed25519"
	cp "$state/client/id_ed25519.pub" "$state/client/authorized_keys"
	: >"$state/known_hosts"
	: >"$state/pids"
}

# finish_sshd_env STATE PORT OWNER NODES...: writes STATE/env (NODES are
# name=address pairs) and starts the watchdog that stops the nodes when
# OWNER exits.
finish_sshd_env() {
	local state=$1 port=$2 owner=$3
	shift 3
	cat >"$state/env" <<ENV
SSHD_PORT=$port
SSHD_USER=root
SSHD_KEY=$state/client/id_ed25519
SSHD_KNOWN_HOSTS=$state/known_hosts
SSHD_NODES="$*"
SSHD_STATE=$state
ENV
	start_watchdog "$state" "$owner" 7200 "$(dirname "${BASH_SOURCE[0]}")/stop.sh"
}
