#!/usr/bin/env bash
# driftd's demo, end to end on a built-in environment: a real Git repository,
# real Terraform stacks with a real provider, reality that drifts, and
# `driftd check` finding it. Everything lives in a temporary directory that
# is removed at the end (also on Ctrl-C).
#
# Run it with `make demo`, which builds driftd and the test environment first.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
driftd=$root/bin/driftd
: "${DRIFTD_TERRAFORM:?run through make demo}" "${TF_CLI_CONFIG_FILE:?run through make demo}"

work=$(mktemp -d /tmp/driftd-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT
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

step "A platform repository with two Terraform stacks, pushed to $bare"
git init -q --bare -b main "$bare"
cp -r "$root/demo/repo" "$clone"
find "$clone" -type f \( -name '*.tf' -o -name '*.yaml' \) -exec sed -i \
	-e "s|@STATE@|$state|g" -e "s|@REALITY@|$reality|g" -e "s|@BARE@|$bare|g" \
	-e "s|@CACHE@|$work/cache|g" -e "s|@TERRAFORM@|$DRIFTD_TERRAFORM|g" \
	-e "s|@TF_CLI_CONFIG@|$TF_CLI_CONFIG_FILE|g" {} +
git_ -C "$clone" init -q -b main
git_ -C "$clone" add -A && git_ -C "$clone" commit -q -m "platform"
git_ -C "$clone" remote add origin "$bare" && git_ -C "$clone" push -q origin main
find "$clone" -maxdepth 3 -not -path '*/.git*' -type f | sed "s|$clone/|  |"

step "terraform apply both stacks: reality now matches Git"
for s in infra/network infra/dns; do
	tf "$s" init && tf "$s" apply -auto-approve
done
check

step "Drift: someone opens the security group to the world by hand, and deletes the zone file"
sed -i 's|192.168.10.0/24|0.0.0.0/0|' "$reality/security-group-web.json"
rm "$reality/zone.example.com"
step "Also a merged change that nobody applied: a new route, and a rotated (sensitive) token"
sed -i 's|10.1.0.0/16 via 10.0.0.2|10.1.0.0/16 via 10.0.0.2\\n10.2.0.0/16 via 10.0.0.3|' "$clone/infra/network/main.tf"
sed -i 's|demo-token-never-shown|rotated-token-never-shown|' "$clone/infra/dns/main.tf"
git_ -C "$clone" commit -q -am "add route, rotate token" && git_ -C "$clone" push -q origin main
check

step "The same report as JSON, for machines (its first 25 lines)"
check -o json >"$work/report.json" || true
head -25 "$work/report.json"
echo "  ..."

step "The Git server goes away: driftd keeps checking the last good revision, and says so"
mv "$bare" "$bare.offline"
check >"$work/stale.txt" || true
head -8 "$work/stale.txt"
mv "$bare.offline" "$bare"

step "Done. Exit codes: 0 in sync, 2 drift found, 1 could not check."
