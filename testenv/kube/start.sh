#!/usr/bin/env bash
# Starts a real etcd and kube-apiserver on loopback for driftd's tests and
# demo (built by testenv/install.sh kube), and optionally
# kube-controller-manager.
#
#   testenv/kube/start.sh STATE_DIR [OWNER_PID]
#   DRIFTD_KUBE_CONTROLLERS=1 testenv/kube/start.sh STATE_DIR [OWNER_PID]
#
# It writes STATE_DIR/kubeconfig (admin, token auth, verifying the server's
# self-signed certificate) and STATE_DIR/env. It stops when OWNER_PID exits,
# after two hours, or with testenv/kube/stop.sh STATE_DIR; a failed start
# stops what it had started.
#
# Without controllers (the default, and the fastest): Deployments get no
# ReplicaSets or Pods and deleted namespaces stay Terminating, so tests use
# fresh namespaces. With DRIFTD_KUBE_CONTROLLERS=1, kube-controller-manager
# runs its default controllers (deployment, replicaset, job, hpa, namespace,
# garbage collector, serviceaccount, ...) as the user
# system:kube-controller-manager, each controller with its own
# ServiceAccount's credentials, and STATE_DIR/env gets
# KUBE_CONTROLLER_MANAGER (its https URL; /healthz answers without auth). Its
# log is STATE_DIR/controller-manager.log. There is still no scheduler and no
# kubelet: Pods are created but stay Pending.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
. "$here/../versions.sh"

state=${1:?usage: start.sh STATE_DIR [OWNER_PID]}
owner=${2:-$PPID}
controllers=${DRIFTD_KUBE_CONTROLLERS:-0}
case $controllers in
0 | 1) ;;
*) die "DRIFTD_KUBE_CONTROLLERS=$controllers: want 0 or 1" ;;
esac
bins="etcd kube-apiserver kubectl"
[ "$controllers" = 1 ] && bins="$bins kube-controller-manager"
for b in $bins; do
	[ -x "$KUBE_BIN/$b" ] || die "$KUBE_BIN/$b not found: run testenv/install.sh kube"
done
mkdir -p "$state"
state=$(cd "$state" && pwd)
[ -f "$state/pids" ] && "$here/stop.sh" "$state"
rm -rf "$state/etcd" "$state/certs" "$state/controller-manager-certs"
rm -f "$state/controller-manager.pid" "$state/controller-manager.kubeconfig"
mkdir -p "$state/etcd" "$state/certs"
: >"$state/pids"
# Whatever fails from here on stops what was already started.
trap 'rc=$?; [ "$rc" = 0 ] || "$here/stop.sh" "$state" || true' EXIT

token() { head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
admin_token=$(token)
cm_token=$(token)
{
	echo "$admin_token,admin,admin,system:masters"
	# The bootstrap ClusterRoleBinding system:kube-controller-manager binds
	# this user to the controller-manager's built-in role.
	echo "$cm_token,system:kube-controller-manager,system:kube-controller-manager"
} >"$state/tokens.csv"
[ -f "$state/sa.key" ] || openssl genrsa -out "$state/sa.key" 2048 2>/dev/null

# etcd on a free port. Two test environments starting at once may pick the
# same port (it is free when chosen, taken when bound), and a loaded 2-core
# machine may take a while: wait up to 30 s, and try another port when etcd
# exits.
etcd_up=0
for attempt in 1 2 3; do
	etcd_port=$(free_port)
	"$KUBE_BIN/etcd" --data-dir "$state/etcd" --name driftd-test \
		--listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
		--listen-peer-urls http://127.0.0.1:0 --unsafe-no-fsync --log-level warn \
		>"$state/etcd.log" 2>&1 &
	echo $! >"$state/etcd.pid"
	cat "$state/etcd.pid" >"$state/pids"
	for _ in $(seq 1 300); do
		if wait_tcp 127.0.0.1 "$etcd_port" 2; then
			etcd_up=1
			break
		fi
		kill -0 "$(cat "$state/etcd.pid")" 2>/dev/null || break
	done
	[ "$etcd_up" = 1 ] && break
	kill "$(cat "$state/etcd.pid")" 2>/dev/null || true
	log "etcd did not start on port $etcd_port (attempt $attempt): $(tail -n 3 "$state/etcd.log" | tr '\n' ' ')"
	rm -rf "$state/etcd" && mkdir -p "$state/etcd"
done
[ "$etcd_up" = 1 ] || die "etcd did not start; see $state/etcd.log"
api_ready() {
	[ -f "$state/certs/apiserver.crt" ] && curl -fsS --max-time 2 --cacert "$state/certs/apiserver.crt" \
		-H "Authorization: Bearer $admin_token" "https://127.0.0.1:$api_port/readyz" >/dev/null 2>&1
}
# As for etcd: another environment may take the chosen port first; an
# apiserver that exits before it is ready is tried again on another port.
for attempt in 1 2 3; do
	api_port=$(free_port)
	"$KUBE_BIN/kube-apiserver" --etcd-servers "http://127.0.0.1:$etcd_port" \
		--bind-address 127.0.0.1 --secure-port "$api_port" --cert-dir "$state/certs" \
		--token-auth-file "$state/tokens.csv" --authorization-mode RBAC \
		--service-account-issuer https://kubernetes.default.svc.cluster.local \
		--service-account-key-file "$state/sa.key" --service-account-signing-key-file "$state/sa.key" \
		--service-cluster-ip-range 10.0.0.0/16 --endpoint-reconciler-type none \
		--disable-admission-plugins ServiceAccount \
		>"$state/apiserver.log" 2>&1 &
	echo $! >"$state/apiserver.pid"
	# stop.sh stops the pids in this order: the apiserver first, then etcd.
	printf '%s\n%s\n' "$(cat "$state/apiserver.pid")" "$(cat "$state/etcd.pid")" >"$state/pids"
	for _ in $(seq 1 600); do
		api_ready && break
		kill -0 "$(cat "$state/apiserver.pid")" 2>/dev/null || break
		sleep 0.1
	done
	api_ready && break
	kill "$(cat "$state/apiserver.pid")" 2>/dev/null || true
	log "kube-apiserver did not start on port $api_port (attempt $attempt): $(tail -n 2 "$state/apiserver.log" | tr '\n' ' ')"
done
api_ready || die "kube-apiserver not ready; see $state/apiserver.log"

# kubeconfig FILE USER TOKEN: a kubeconfig for this server.
kubeconfig() {
	cat >"$1" <<KC
apiVersion: v1
kind: Config
clusters:
- name: driftd-test
  cluster:
    server: https://127.0.0.1:$api_port
    certificate-authority: $state/certs/apiserver.crt
users:
- name: $2
  user:
    token: $3
contexts:
- name: driftd-test
  context: {cluster: driftd-test, user: $2}
current-context: driftd-test
KC
}
kubeconfig "$state/kubeconfig" admin "$admin_token"

cm_env=
if [ "$controllers" = 1 ]; then
	cm_port=$(free_port)
	kubeconfig "$state/controller-manager.kubeconfig" system:kube-controller-manager "$cm_token"
	mkdir -p "$state/controller-manager-certs"
	# No cluster-signing key: the CSR signer is skipped, which tests do not
	# need. No cloud provider, no node CIDRs: there are no nodes. No
	# authentication/authorization kubeconfig: its own endpoints serve only
	# /healthz, which is open (delegated auth would look for the
	# extension-apiserver-authentication ConfigMap, which this apiserver
	# without a client CA never writes, and log that every second).
	"$KUBE_BIN/kube-controller-manager" \
		--kubeconfig "$state/controller-manager.kubeconfig" \
		--bind-address 127.0.0.1 --secure-port "$cm_port" --cert-dir "$state/controller-manager-certs" \
		--leader-elect=false --controllers '*,-kube-apiserver-serving-clustertrustbundle-publisher-controller' \
		--kube-api-qps 200 --kube-api-burst 400 \
		--use-service-account-credentials=true \
		--service-account-private-key-file "$state/sa.key" \
		--root-ca-file "$state/certs/apiserver.crt" \
		>"$state/controller-manager.log" 2>&1 &
	echo $! >"$state/controller-manager.pid"
	# Stopped first: it talks to the apiserver until it goes.
	printf '%s\n%s\n%s\n' "$(cat "$state/controller-manager.pid")" "$(cat "$state/apiserver.pid")" "$(cat "$state/etcd.pid")" >"$state/pids"
	cm_url=https://127.0.0.1:$cm_port
	# Ready when the controllers run, not when it serves: /healthz answers
	# ok seconds before the controllers start, and lists a check per
	# controller only once they have all been started. Then the
	# serviceaccount controller's first act, the ServiceAccount "default" in
	# "default", shows the informers are running. Its serving certificate is
	# self-signed (in controller-manager-certs): -k on loopback.
	cm_ready() {
		local h
		h=$(curl -fsSk --max-time 2 "$cm_url/healthz?verbose" 2>/dev/null) &&
			[[ $h == *"[+]deployment-controller ok"* ]] &&
			curl -fsS --max-time 2 --cacert "$state/certs/apiserver.crt" -H "Authorization: Bearer $admin_token" \
				"https://127.0.0.1:$api_port/api/v1/namespaces/default/serviceaccounts/default" >/dev/null 2>&1
	}
	for _ in $(seq 1 600); do
		cm_ready && break
		kill -0 "$(cat "$state/controller-manager.pid")" 2>/dev/null || break
		sleep 0.1
	done
	cm_ready || die "kube-controller-manager not healthy; see $state/controller-manager.log"
	cm_env="KUBE_CONTROLLER_MANAGER=$cm_url"
fi

cat >"$state/env" <<ENV
KUBECONFIG=$state/kubeconfig
KUBE_API=https://127.0.0.1:$api_port
KUBECTL=$KUBE_BIN/kubectl
$cm_env
ENV
start_watchdog "$state" "$owner" 7200 "$here/stop.sh"
trap - EXIT
log "kube-apiserver ready at https://127.0.0.1:$api_port${cm_env:+, kube-controller-manager at $cm_url}; env in $state/env"
