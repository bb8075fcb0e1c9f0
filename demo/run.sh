#!/usr/bin/env bash
# driftd's demo, end to end on a built-in environment: a real Git repository,
# real Terraform stacks with a real provider, three real sshd nodes, a real
# kube-apiserver, reality that drifts on all three layers, `driftd check` finding it, then `driftd serve`
# with a real Prometheus and Alertmanager raising the drift alert.
# Everything lives in a temporary directory that is removed at the end.
#
# Run it with `make demo`, which builds driftd and the test environment
# first. On a terminal it waits for Ctrl-C before tearing down, so that you
# can look around; otherwise (or with DEMO_WAIT=0) it stops by itself.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
driftd=$root/bin/driftd
: "${DRIFTD_TERRAFORM:?run through make demo}" "${TF_CLI_CONFIG_FILE:?run through make demo}"
. "$root/testenv/lib.sh"

work=$(mktemp -d /tmp/driftd-demo.XXXXXX)
serve_pid=
cleanup() {
	[ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null
	"$root/testenv/prometheus/stop.sh" "$work/prom" 2>/dev/null || true
	"$root/testenv/sshd/stop.sh" "$work/nodes" 2>/dev/null || true
	"$root/testenv/kube/stop.sh" "$work/kube" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
bare=$work/config.git clone=$work/clone reality=$work/reality state=$work/state
mkdir -p "$reality" "$state"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
git_() { git -c user.name=demo -c user.email=demo@example.com "$@"; }
tf() { (cd "$clone/$1" && shift && TF_DATA_DIR=$state/data-${PWD##*/} "$DRIFTD_TERRAFORM" "$@" -input=false -no-color >/dev/null); }
check() {
	local code=0
	"$driftd" check -c "$clone/driftd.yaml" "$@" || code=$?
	echo "(exit code $code)"
}
# on_node N CMD...: runs CMD on node N, inside its own /etc, as a person
# with a root shell on it would.
on_node() {
	local pid
	pid=$(sed -n "${1}p" "$work/nodes/pids")
	shift
	nsenter -t "$pid" -m -- "$@"
}

step "Three nodes (sshd on 127.0.10.1-3, each with its own /etc), matching Git"
for i in 1 2 3; do
	etc=$work/nodes/nodes/node$i/etc
	mkdir -p "$etc/systemd/system/kubelet.service.d" "$etc/kubernetes/manifests"
	sed -e "s/{{ .Vars.node_ip }}/127.0.10.$i/" -e 's/{{ .Vars.cluster_dns }}/10.96.0.10/' -e 's/{{ .Vars.max_pods }}/110/' \
		"$root/demo/repo/nodes/roles/worker/etc/systemd/system/kubelet.service.d/10-kubelet-flags.conf" \
		>"$etc/systemd/system/kubelet.service.d/10-kubelet-flags.conf"
done
sed 's/{{ .Node.Address }}/127.0.10.1/' "$root/demo/repo/nodes/roles/control-plane/etc/kubernetes/manifests/kube-apiserver.yaml" \
	>"$work/nodes/nodes/node1/etc/kubernetes/manifests/kube-apiserver.yaml"
"$root/testenv/sshd/start.sh" "$work/nodes" 3 $$
. "$work/nodes/env"

step "A Kubernetes API server (etcd, kube-apiserver and kube-controller-manager on loopback)"
DRIFTD_KUBE_CONTROLLERS=1 "$root/testenv/kube/start.sh" "$work/kube" $$
. "$work/kube/env"
kubectl() { "$KUBECTL" --kubeconfig "$KUBECONFIG" "$@"; }

step "driftd's identity as deploy/base ships it: a ServiceAccount that may read and never write"
kubectl kustomize "$root/deploy/base" |
	awk 'BEGIN { RS = "\n---\n" } /(^|\n)kind: (Namespace|ServiceAccount|ClusterRole|ClusterRoleBinding|Role|RoleBinding)\n/ { print; print "---" }' |
	kubectl apply --server-side -f - >/dev/null
token=$(kubectl create token driftd -n driftd --duration=2h)
cat >"$work/driftd-kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: demo
  cluster: {server: "$KUBE_API", certificate-authority: "$work/kube/certs/apiserver.crt"}
users:
- name: driftd
  user: {token: "$token"}
contexts:
- name: demo
  context: {cluster: demo, user: driftd}
current-context: demo
KC

step "A platform repository with two Terraform stacks, the node inventory, the shop app and a Helm chart, pushed to $bare"
driftd_port=$(free_port)
git init -q --bare -b main "$bare"
cp -r "$root/demo/repo" "$clone"
find "$clone" -type f -name '*.tf' -o -type f -name '*.yaml' | grep -v '/roles/' | xargs sed -i \
	-e "s|@STATE@|$state|g" -e "s|@REALITY@|$reality|g" -e "s|@BARE@|$bare|g" \
	-e "s|@CACHE@|$work/cache|g" -e "s|@TERRAFORM@|$DRIFTD_TERRAFORM|g" \
	-e "s|@TF_CLI_CONFIG@|$TF_CLI_CONFIG_FILE|g" -e "s|@SSH_PORT@|$SSHD_PORT|g" \
	-e "s|@SSH_KEY@|$SSHD_KEY|g" -e "s|@SSH_KNOWN_HOSTS@|$SSHD_KNOWN_HOSTS|g" -e "s|@DRIFTD_PORT@|$driftd_port|g" -e "s|@KUBECONFIG@|$work/driftd-kubeconfig|g"
git_ -C "$clone" init -q -b main
git_ -C "$clone" add -A && git_ -C "$clone" commit -q -m "platform"
git_ -C "$clone" remote add origin "$bare" && git_ -C "$clone" push -q origin main
(cd "$clone" && find . -type f -not -path './.git/*' | sort | sed 's|^\./|  |')

step "terraform apply both stacks and kubectl apply the app: reality now matches Git on every layer"
for s in infra/network infra/dns; do
	tf "$s" init && tf "$s" apply -auto-approve
done
kubectl apply --server-side -f "$clone/apps" >/dev/null
# The Helm app, installed as helm install would: the chart's own rendering
# (here by driftd's chart renderer), applied under helm's field manager.
printf '{"root":"%s","requests":[{"chart":"charts/blog","releaseName":"blog","namespace":"shop","valuesFiles":["charts/blog/values-prod.yaml"]}]}' "$clone" |
	"$driftd" helm-template | python3 -c 'import json,sys
items = [o["object"] for l in sys.stdin for r in [json.loads(l)] if r.get("result") for o in r["result"]["objects"]]
json.dump({"apiVersion": "v1", "kind": "List", "items": items}, sys.stdout)' |
	kubectl apply --server-side --field-manager=helm -n shop -f - >/dev/null
check

step "Drift on the infra layer: the security group is opened by hand, the zone file deleted"
sed -i 's|192.168.10.0/24|0.0.0.0/0|' "$reality/security-group-web.json"
rm "$reality/zone.example.com"
step "Drift on the node layer: a kubelet flag added by hand on node2, a debug drop-in on node3"
on_node 2 sed -i 's/--max-pods=110/--max-pods=110 --v=4/' /etc/systemd/system/kubelet.service.d/10-kubelet-flags.conf
on_node 3 sh -c 'printf "[Service]\nEnvironment=KUBELET_DEBUG=1\n" > /etc/systemd/system/kubelet.service.d/99-debug.conf'
step "Drift on the app layer: hostNetwork and an env var added with kubectl, a ConfigMap edited"
kubectl -n shop patch deployment web -p '{"spec":{"template":{"spec":{"hostNetwork":true}}}}' >/dev/null
kubectl -n shop set env deployment/web DEBUG=1 >/dev/null
kubectl -n shop patch configmap settings --type merge -p '{"data":{"mode":"debug"}}' >/dev/null
step "Drift in the Helm app: its image changed with kubectl (the finding names chart, template and values file)"
kubectl -n shop set image deployment/blog-blog blog=registry.example.com/blog:2.5-hotfix >/dev/null
step "And a merged change that nobody applied: a new route, and a rotated (sensitive) token"
sed -i 's|10.1.0.0/16 via 10.0.0.2|10.1.0.0/16 via 10.0.0.2\\n10.2.0.0/16 via 10.0.0.3|' "$clone/infra/network/main.tf"
sed -i 's|demo-token-never-shown|rotated-token-never-shown|' "$clone/infra/dns/main.tf"
git_ -C "$clone" commit -q -am "add route, rotate token" && git_ -C "$clone" push -q origin main
check

step "The same report as JSON, for machines (its first 20 lines)"
check -o json >"$work/report.json" || true
head -20 "$work/report.json"
echo "  ..."

step "driftd serve, scraped by a real Prometheus that sends alerts to a real Alertmanager"
sed -E 's/^( +)for: .*/\1for: 10s/' "$root/deploy/prometheus/driftd-rules.yml" >"$work/rules.yml"
cat >"$work/prometheus.yml" <<PROM
global: {scrape_interval: 5s, evaluation_interval: 5s}
rule_files: ["$work/rules.yml"]
alerting:
  alertmanagers: [{static_configs: [{targets: ["@ALERTMANAGER@"]}]}]
scrape_configs:
  - job_name: driftd
    static_configs: [{targets: ["127.0.0.1:$driftd_port"]}]
PROM
printf 'route: {receiver: platform-team, group_wait: 0s}\nreceivers: [{name: platform-team}]\n' >"$work/alertmanager.yml"
"$root/testenv/prometheus/start.sh" "$work/prom" "$work/prometheus.yml" "$work/alertmanager.yml" $$
. "$work/prom/env"
"$driftd" serve -c "$clone/driftd.yaml" --log-level warn &
serve_pid=$!
printf 'waiting for the drift alert to reach Alertmanager'
for _ in $(seq 1 60); do
	if curl -fsS "$ALERTMANAGER_URL/api/v2/alerts?filter=alertname%3D%22DriftdDriftDetected%22" | grep -q DriftdDriftDetected; then
		break
	fi
	printf .
	sleep 2
done
echo
curl -fsS "$ALERTMANAGER_URL/api/v2/alerts" | python3 -c 'import json,sys
for a in sorted(json.load(sys.stdin), key=lambda a: (a["labels"]["alertname"], a["labels"].get("layer",""), a["labels"].get("target",""))):
    l = a["labels"]; print("  firing: %-22s %s/%s" % (l["alertname"], l.get("layer", "-"), l.get("target", "-")))'

cat <<MSG

  Status page:   http://127.0.0.1:$driftd_port/
  Report (JSON): http://127.0.0.1:$driftd_port/api/v1/report
  Metrics:       http://127.0.0.1:$driftd_port/metrics
  Prometheus:    $PROMETHEUS_URL/alerts
  Alertmanager:  $ALERTMANAGER_URL/#/alerts
MSG
if [ "${DEMO_WAIT:-auto}" = 1 ] || { [ "${DEMO_WAIT:-auto}" = auto ] && [ -t 0 ]; }; then
	echo "  Press Ctrl-C to stop and remove everything."
	wait "$serve_pid" || true
fi
step "Done. Exit codes of driftd check: 0 in sync, 2 drift found, 1 could not check."
