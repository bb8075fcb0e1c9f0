#!/usr/bin/env bash
# Installs everything the integration tests and the demo need, idempotently:
# Debian packages, and Go-built binaries cached under $DRIFTD_CACHE (outside
# the git tree, keyed by version), so a warm machine skips all the work.
#
#   testenv/install.sh [COMPONENT...]     components: packages terraform kube lint bench
#                                         (default: all but bench)
#
# It prints nothing but progress; testenv/env.sh prints the resulting paths.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/versions.sh"

packages() {
	apt_install openssh-server git iproute2 util-linux tar curl openssl ca-certificates \
		prometheus prometheus-alertmanager chromium postgresql
}

# bench installs the peers the benchmarks compare driftd with.
bench() {
	apt_install ansible
}

apt_install() {
	local want=("$@")
	local missing=()
	for p in "${want[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	log "installing Debian packages: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# go_install BIN_DIR MODULE@VERSION: builds one Go binary into BIN_DIR once.
go_install() {
	local dir=$1 mod=$2
	mkdir -p "$dir"
	GOBIN=$dir GOFLAGS=-mod=mod go install "$mod"
}

terraform() {
	local bin=$DRIFTD_CACHE/bin/terraform-$TERRAFORM_VERSION
	if [ ! -x "$bin/terraform" ]; then
		log "building terraform $TERRAFORM_VERSION (about 3 minutes cold)"
		go_install "$bin.tmp" "github.com/hashicorp/terraform@v$TERRAFORM_VERSION"
		rm -rf "$bin" && mv "$bin.tmp" "$bin"
	fi
	local name version pseudo
	for spec in "${TF_PROVIDERS[@]}"; do
		read -r name version pseudo <<<"$spec"
		local dest=$TF_MIRROR/registry.terraform.io/hashicorp/$name/$version/linux_amd64
		local file=$dest/terraform-provider-${name}_v$version
		[ -x "$file" ] && continue
		log "building terraform provider $name $version"
		local tmp=$DRIFTD_CACHE/build/provider-$name-$version
		go_install "$tmp" "github.com/terraform-providers/terraform-provider-$name@$pseudo"
		mkdir -p "$dest"
		cp "$tmp/terraform-provider-$name" "$file.tmp" && mv "$file.tmp" "$file"
	done
	cloudfile
	# OpenTofu resolves hashicorp/local to registry.opentofu.org: the same
	# provider binaries serve both (hard links: OpenTofu's mirror scan does
	# not follow a symbolic link to a directory).
	rm -rf "$TF_MIRROR/registry.opentofu.org"
	cp -al "$TF_MIRROR/registry.terraform.io" "$TF_MIRROR/registry.opentofu.org"
	cat >"$TF_CLI_CONFIG.tmp" <<CONF
disable_checkpoint = true
provider_installation {
  filesystem_mirror {
    path    = "$TF_MIRROR"
    include = ["registry.terraform.io/hashicorp/*", "registry.opentofu.org/hashicorp/*",
               "registry.terraform.io/driftd/*", "registry.opentofu.org/driftd/*"]
  }
}
CONF
	mv "$TF_CLI_CONFIG.tmp" "$TF_CLI_CONFIG"
	tofu
}

# cloudfile builds driftd/cloudfile, the test-only provider in
# testenv/tfprovider whose resources refresh in place, into the mirror. It
# is rebuilt when its source changes.
cloudfile() {
	local dest=$TF_MIRROR/registry.terraform.io/driftd/cloudfile/$CLOUDFILE_VERSION/linux_amd64
	local file=$dest/terraform-provider-cloudfile_v$CLOUDFILE_VERSION sum
	sum=$(cat "$here"/tfprovider/go.mod "$here"/tfprovider/go.sum "$here"/tfprovider/*.go | sha256sum | cut -c1-16)
	[ -x "$file" ] && [ -e "$dest/.source-$sum" ] && return 0
	log "building the test provider driftd/cloudfile"
	mkdir -p "$dest"
	(cd "$here/tfprovider" && GOFLAGS=-mod=mod go build -trimpath -o "$file.tmp" .)
	rm -f "$dest"/.source-* && mv "$file.tmp" "$file" && touch "$dest/.source-$sum"
}

# tofu builds OpenTofu from its module's source, copied out of the module
# cache (its go.mod has replace directives). Cold: a few minutes.
tofu() {
	local bin=$DRIFTD_CACHE/bin/tofu-$TOFU_VERSION
	[ -x "$bin/tofu" ] && return 0
	log "building OpenTofu $TOFU_VERSION (a few minutes cold)"
	local src
	src=$(go mod download -json "github.com/opentofu/opentofu@v$TOFU_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
	[ -d "$src" ] || die "go mod download github.com/opentofu/opentofu@v$TOFU_VERSION gave no source"
	local build=$DRIFTD_CACHE/build/tofu-$TOFU_VERSION
	rm -rf "$build" && mkdir -p "$(dirname "$build")" && cp -r "$src" "$build" && chmod -R u+w "$build"
	mkdir -p "$bin.tmp"
	(cd "$build" && GOFLAGS=-mod=mod go build -ldflags "-X github.com/opentofu/opentofu/version.dev=no" -o "$bin.tmp/tofu" ./cmd/tofu)
	rm -rf "$bin" && mv "$bin.tmp" "$bin" && rm -rf "$build"
}

# kube builds kube-apiserver, kube-controller-manager, kubectl (matching the
# server) and etcd from the module proxy through the wrapper module in
# testenv/kube. Cold: 7-10 minutes
# and 3 GB of build cache; warm: seconds.
kube() {
	local bin=$KUBE_BIN
	[ -x "$bin/kube-apiserver" ] && [ -x "$bin/kube-controller-manager" ] && [ -x "$bin/kubectl" ] && [ -x "$bin/etcd" ] && return 0
	log "building etcd $ETCD_VERSION, kube-apiserver, kube-controller-manager and kubectl $KUBE_VERSION (7-10 minutes cold)"
	mkdir -p "$bin.tmp"
	local v=k8s.io/component-base/version cv=k8s.io/client-go/pkg/version
	local minor=${KUBE_VERSION#*.}
	minor=${minor%%.*}
	local ld="-s -w -X $v.gitVersion=v$KUBE_VERSION -X $v.gitMajor=1 -X $v.gitMinor=$minor -X $cv.gitVersion=v$KUBE_VERSION -X $cv.gitMajor=1 -X $cv.gitMinor=$minor"
	(
		cd "$here/kube"
		export GOFLAGS=-mod=mod
		go build -trimpath -ldflags "-s -w" -o "$bin.tmp/etcd" go.etcd.io/etcd/server/v3
		go build -trimpath -ldflags "$ld" -o "$bin.tmp/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
		go build -trimpath -ldflags "$ld" -o "$bin.tmp/kubectl" k8s.io/kubernetes/cmd/kubectl
		go build -trimpath -ldflags "$ld" -o "$bin.tmp/kube-controller-manager" k8s.io/kubernetes/cmd/kube-controller-manager
	)
	rm -rf "$bin" && mv "$bin.tmp" "$bin"
}

lint() {
	local bin
	bin=$(dirname "$GOLANGCI_LINT_BIN")
	if [ ! -x "$GOLANGCI_LINT_BIN" ]; then
		log "building golangci-lint $GOLANGCI_LINT_VERSION (about 2 minutes cold)"
		go_install "$bin.tmp" "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v$GOLANGCI_LINT_VERSION"
		rm -rf "$bin" && mv "$bin.tmp" "$bin"
	fi
}

components=("$@")
[ ${#components[@]} -eq 0 ] && components=(packages terraform kube lint)
mkdir -p "$DRIFTD_CACHE"
for c in "${components[@]}"; do
	case $c in
	packages | terraform | kube | lint | bench) "$c" ;;
	*) die "unknown component $c" ;;
	esac
done
