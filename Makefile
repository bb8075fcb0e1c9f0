# Every command a developer or CI runs. `make help` lists them.
SHELL := /bin/bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
BIN := bin/driftd
# Where install.sh put terraform, the provider mirror and friends.
TESTENV = eval "$$(testenv/env.sh)" && export DRIFTD_CACHE DRIFTD_TERRAFORM DRIFTD_TOFU TF_CLI_CONFIG_FILE DRIFTD_KUBE_BIN

.PHONY: rules check-rules help build test test-unit test-integration testenv lint demo bench update-golden clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

build: ## build bin/driftd
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/driftd

test: testenv lint ## the whole suite: unit and integration tests against real servers (what CI runs)
	$(TESTENV) && DRIFTD_REQUIRE_TESTENV=1 $(GO) test -race -tags integration -count=1 -timeout 30m ./...

test-unit: ## unit tests only: no servers needed
	$(GO) test -race -count=1 ./...

test-integration: testenv ## every test, integration tests included, without lint
	$(TESTENV) && DRIFTD_REQUIRE_TESTENV=1 $(GO) test -race -tags integration -count=1 -timeout 30m ./...

testenv: ## install and build everything the tests need (idempotent, cached outside the repo)
	testenv/install.sh

lint: testenv ## gofmt, go vet and golangci-lint (.golangci.yml), with and without the integration tag
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags integration ./...
	eval "$$(testenv/env.sh)" && "$$GOLANGCI_LINT" run ./...

demo: build testenv ## run driftd end to end on the built-in demo environment
	$(TESTENV) && demo/run.sh

BENCH ?= .
bench: testenv ## side-by-side benchmarks against the tools users would otherwise run (BENCH=regexp)
	testenv/install.sh bench
	$(TESTENV) && $(GO) test -tags integration -run '^$$' -bench '$(BENCH)' -skip 'Ansible|Slow' -benchtime 3x -timeout 60m ./...
	@# One ansible-playbook run, or one client-side kubectl diff of 2,000
	@# objects, takes minutes: once is enough.
	$(TESTENV) && $(GO) test -tags integration -run '^$$' -bench 'Ansible|Slow' -benchtime 1x -timeout 60m ./...

rules: ## regenerate deploy/base/prometheusrule.yaml from deploy/prometheus/driftd-rules.yml
	deploy/gen-prometheusrule.sh

check-rules: ## promtool check rules + promtool test rules, amtool check-config
	cd deploy/prometheus && promtool check rules driftd-rules.yml && promtool test rules driftd-rules_test.yml
	amtool check-config deploy/alertmanager/alertmanager.yml

update-golden: ## rewrite golden files after an intended output change
	$(GO) test ./... -update

clean: ## remove build output (caches under $$DRIFTD_CACHE are kept)
	rm -rf bin
