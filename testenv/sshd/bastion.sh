#!/usr/bin/env bash
# Starts a bastion topology for driftd's jump-host tests:
#
#   test process (root netns) --10.200.X.0/30-- bastion --10.201.X.0/30-- private
#
# Both hosts are sshd nodes (see node.sh) in network namespaces this script
# creates. The root namespace has no route to the private network, so the
# private node is reachable only through the bastion, as in production.
#
#   testenv/sshd/bastion.sh STATE_DIR [OWNER_PID]
#
# It writes STATE_DIR/env with BASTION_ADDR, PRIVATE_ADDR, the port (22 in
# both namespaces), the client key and known_hosts. It stops when OWNER_PID
# exits, after two hours, or with testenv/sshd/stop.sh STATE_DIR, which also
# deletes the namespaces.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
. "$here/node.sh"

state=${1:?usage: bastion.sh STATE_DIR [OWNER_PID]}
owner=${2:-$PPID}
[ "$(id -u)" = 0 ] || die "must run as root (network namespaces)"
command -v ip >/dev/null || die "ip not found: run testenv/install.sh"
mkdir -p "$state"
state=$(cd "$state" && pwd)
[ -f "$state/pids" ] && "$here/stop.sh" "$state"
init_client "$state"

x=$((RANDOM % 250 + 1))
id=$(printf '%04x' $((RANDOM % 65536)))
bns=driftd-b$id pns=driftd-p$id
printf '%s\n%s\n' "$bns" "$pns" >"$state/netns"
ip netns add "$bns"
ip netns add "$pns"
ip -n "$bns" link set lo up
ip -n "$pns" link set lo up
# root <-> bastion
ip link add "dh$id" type veth peer name "db$id"
ip link set "db$id" netns "$bns"
ip addr add "10.200.$x.1/30" dev "dh$id"
ip link set "dh$id" up
ip -n "$bns" addr add "10.200.$x.2/30" dev "db$id"
ip -n "$bns" link set "db$id" up
# bastion <-> private
ip link add "dp$id" type veth peer name "dq$id" netns "$pns"
ip link set "dp$id" netns "$bns"
ip -n "$bns" addr add "10.201.$x.1/30" dev "dp$id"
ip -n "$bns" link set "dp$id" up
ip -n "$pns" addr add "10.201.$x.2/30" dev "dq$id"
ip -n "$pns" link set "dq$id" up

# Without this, a default route could carry packets for the private network
# somewhere else; with it, the private node is unreachable from here.
ip route add unreachable "10.201.$x.0/30"
echo "10.201.$x.0/30" >"$state/routes"

start_sshd_node "$state" bastion "10.200.$x.2" 22 "$bns"
start_sshd_node "$state" private "10.201.$x.2" 22 "$pns"
wait_tcp "10.200.$x.2" 22 || die "bastion sshd did not start; see $state/nodes/bastion/sshd/sshd.log"
for _ in $(seq 1 100); do
	ip netns exec "$bns" bash -c "exec 3<>/dev/tcp/10.201.$x.2/22" 2>/dev/null && break
	sleep 0.05
done

finish_sshd_env "$state" 22 "$owner" "bastion=10.200.$x.2" "private=10.201.$x.2"
log "started bastion 10.200.$x.2 in front of private node 10.201.$x.2; env in $state/env"
