#!/usr/bin/env bash
# Prints, as KEY=VALUE lines, where install.sh put the tools, for tests and
# the Makefile: eval "$(testenv/env.sh)".
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/versions.sh"
cat <<ENV
DRIFTD_CACHE=$DRIFTD_CACHE
DRIFTD_TERRAFORM=$TERRAFORM_BIN
DRIFTD_TOFU=$TOFU_BIN
TF_CLI_CONFIG_FILE=$TF_CLI_CONFIG
DRIFTD_KUBE_BIN=$KUBE_BIN
GOLANGCI_LINT=$GOLANGCI_LINT_BIN
ENV
