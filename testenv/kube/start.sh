#!/usr/bin/env bash
# Starts a real etcd and kube-apiserver on loopback for driftd's tests and
# demo (built by testenv/install.sh kube).
#
#   testenv/kube/start.sh STATE_DIR [OWNER_PID]
#
# It writes STATE_DIR/kubeconfig (admin, token auth, verifying the server's
# self-signed certificate) and STATE_DIR/env. It stops when OWNER_PID exits,
# after two hours, or with testenv/kube/stop.sh STATE_DIR. There is no
# controller-manager: Deployments get no Pods and deleted namespaces stay
# Terminating, so tests use fresh namespaces.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
. "$here/../versions.sh"

state=${1:?usage: start.sh STATE_DIR [OWNER_PID]}
owner=${2:-$PPID}
for b in etcd kube-apiserver kubectl; do
	[ -x "$KUBE_BIN/$b" ] || die "$KUBE_BIN/$b not found: run testenv/install.sh kube"
done
mkdir -p "$state"
state=$(cd "$state" && pwd)
[ -f "$state/pids" ] && "$here/stop.sh" "$state"
rm -rf "$state/etcd" "$state/certs"
mkdir -p "$state/etcd" "$state/certs"
: >"$state/pids"

token=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
echo "$token,admin,admin,system:masters" >"$state/tokens.csv"
[ -f "$state/sa.key" ] || openssl genrsa -out "$state/sa.key" 2048 2>/dev/null

etcd_port=$(free_port)
api_port=$(free_port)
"$KUBE_BIN/etcd" --data-dir "$state/etcd" --name driftd-test \
	--listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
	--listen-peer-urls http://127.0.0.1:0 --unsafe-no-fsync --log-level warn \
	>"$state/etcd.log" 2>&1 &
echo $! >"$state/etcd.pid"
wait_tcp 127.0.0.1 "$etcd_port" 200 || die "etcd did not start; see $state/etcd.log"

"$KUBE_BIN/kube-apiserver" --etcd-servers "http://127.0.0.1:$etcd_port" \
	--bind-address 127.0.0.1 --secure-port "$api_port" --cert-dir "$state/certs" \
	--token-auth-file "$state/tokens.csv" --authorization-mode RBAC \
	--service-account-issuer https://kubernetes.default.svc.cluster.local \
	--service-account-key-file "$state/sa.key" --service-account-signing-key-file "$state/sa.key" \
	--service-cluster-ip-range 10.0.0.0/16 --endpoint-reconciler-type none \
	--disable-admission-plugins ServiceAccount \
	>"$state/apiserver.log" 2>&1 &
echo $! >"$state/apiserver.pid"
# Stop order matters: the apiserver first, then etcd.
printf '%s\n%s\n' "$(cat "$state/apiserver.pid")" "$(cat "$state/etcd.pid")" >"$state/pids"

for _ in $(seq 1 600); do
	[ -f "$state/certs/apiserver.crt" ] && curl -fsS --cacert "$state/certs/apiserver.crt" -H "Authorization: Bearer $token" \
		"https://127.0.0.1:$api_port/readyz" >/dev/null 2>&1 && break
	sleep 0.1
done
curl -fsS --cacert "$state/certs/apiserver.crt" -H "Authorization: Bearer $token" "https://127.0.0.1:$api_port/readyz" >/dev/null ||
	die "kube-apiserver not ready; see $state/apiserver.log"

cat >"$state/kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: driftd-test
  cluster:
    server: https://127.0.0.1:$api_port
    certificate-authority: $state/certs/apiserver.crt
users:
- name: admin
  user:
    token: $token
contexts:
- name: driftd-test
  context: {cluster: driftd-test, user: admin}
current-context: driftd-test
KC
cat >"$state/env" <<ENV
KUBECONFIG=$state/kubeconfig
KUBE_API=https://127.0.0.1:$api_port
KUBECTL=$KUBE_BIN/kubectl
ENV
start_watchdog "$state" "$owner" 7200 "$here/stop.sh"
log "kube-apiserver ready at https://127.0.0.1:$api_port; env in $state/env"
