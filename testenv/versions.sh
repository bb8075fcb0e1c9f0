# shellcheck shell=bash
# Pinned versions of every tool the test environments build. Changing one
# rebuilds only that tool, because caches are keyed on these versions.
TERRAFORM_VERSION=1.5.7
# name, registry version, module proxy pseudo-version that carries that code.
TF_PROVIDERS=(
	"local 2.9.0 v1.4.1-0.20260513075820-3561e410f9fe"
)
# driftd/cloudfile, the test-only provider built from testenv/tfprovider.
CLOUDFILE_VERSION=0.1.0
TF_MIRROR=$DRIFTD_CACHE/terraform-mirror
TF_CLI_CONFIG=$DRIFTD_CACHE/terraformrc
TERRAFORM_BIN=$DRIFTD_CACHE/bin/terraform-$TERRAFORM_VERSION/terraform
# OpenTofu, built from its module's source (its go.mod has replace
# directives, so `go install module@version` refuses it). The infra tests
# run against both binaries.
TOFU_VERSION=1.10.10
TOFU_BIN=$DRIFTD_CACHE/bin/tofu-$TOFU_VERSION/tofu
# kube-apiserver and kubectl come from k8s.io/kubernetes (testenv/kube/go.mod
# pins it and etcd; keep these in step with that file).
KUBE_VERSION=1.37.1
ETCD_VERSION=3.7.0
KUBE_BIN=$DRIFTD_CACHE/bin/kube-$KUBE_VERSION-etcd-$ETCD_VERSION
# golangci-lint runs in make lint (errorlint, sloglint, staticcheck, ...).
GOLANGCI_LINT_VERSION=2.15.0
GOLANGCI_LINT_BIN=$DRIFTD_CACHE/bin/golangci-lint-$GOLANGCI_LINT_VERSION/golangci-lint
