# Bazaar: the commands a user types. Each target says what it is for.
# `make up` and `make test` work on a fresh clone: they install and generate first.

SHELL := /bin/bash
.DEFAULT_GOAL := help
PROTOS := $(shell find proto third_party/proto -name '*.proto')
# Run TypeScript tools straight from source (workspace packages resolve to src/).
TSX := node --conditions=bazaar-source --import tsx

.PHONY: help node-version install gen build lint test test-unit contract certs up down status logs clean bench replay-dead-letters

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 12

# Every target that installs, builds or runs goes through here first (order-only: it never
# forces a reinstall), so an unsupported Node stops the command in its first second.
node-version: ## check that this Node.js is one package.json's engines allow (24 LTS; 22 the floor)
	@node scripts/require-node.mjs

node_modules/.package-lock.json: package.json package-lock.json | node-version
	npm ci

install: node_modules/.package-lock.json ## install dependencies (npm ci) when package-lock.json changed

gen/descriptors.binpb: node_modules/.package-lock.json buf.yaml buf.gen.yaml $(PROTOS)
	npm run -s gen

gen: node_modules/.package-lock.json ## generate TypeScript stubs and the reflection descriptor set from proto/ into gen/
	npm run -s gen

build: gen/descriptors.binpb ## compile every package to dist/
	npm run -s build

lint: gen/descriptors.binpb ## buf lint (STANDARD) and a strict type check of sources, tests and scripts
	npm run -s lint

test: build lint ## build, lint, then run every test suite (no Docker needed)
	@mkdir -p reports && rm -f reports/vitest.json
	npx vitest run --reporter=default --reporter=json --outputFile.json=reports/vitest.json

REPORT ?= reports/vitest-unit.json
test-unit: gen/descriptors.binpb ## the unit and component suites alone (lib/, the runtime with a real service in test/runtime, every service; what CI also runs on the floor Node)
	@mkdir -p reports && rm -f $(REPORT)
	npx vitest run lib/test test/runtime services --reporter=default --reporter=json --outputFile.json=$(REPORT)

contract: gen/descriptors.binpb ## contract tests alone: buf breaking + event subjects vs main, providers, consumers, events
	@status=0; \
	$(TSX) scripts/contract-breaking.ts || status=1; \
	npx vitest run test/contract || status=1; \
	exit $$status

certs: node_modules/.package-lock.json ## development CA and mTLS certificates for every service and the operator in certs/ (keeps existing ones)
	$(TSX) scripts/certs.ts

up: build ## start PostgreSQL (.data/postgres), NATS, every service and the console (mutual TLS; issues certs/ when missing) in the background; returns when all are SERVING; FAULTS=1 lets the console cause faults
	$(TSX) scripts/mesh.ts up

down: ## stop everything make up started
	$(TSX) scripts/mesh.ts down

status: ## show whether each process of the local mesh runs, and its health
	$(TSX) scripts/mesh.ts status

logs: ## follow the logs of the local mesh
	$(TSX) scripts/mesh.ts logs

# As nats-admin (certs/nats-admin.pem), against NATS_URL (make up's by default): an operator's privilege.
replay-dead-letters: build ## publish the dead letters again as their events, then delete them (CONSUMER=<service or durable>, SUBJECT=<event subject> narrow it); idempotent
	node shop/dist/nats-admin.js replay-dead-letters $(if $(CONSUMER),--consumer $(CONSUMER)) $(if $(SUBJECT),--subject $(SUBJECT))

clean: ## stop the local mesh, then remove build output, generated code and local state (.data: the databases)
	@if [ -d node_modules ]; then $(TSX) scripts/mesh.ts down; fi
	rm -rf gen/src gen/descriptors.binpb gen/dist lib/dist services/*/dist reports .run .data
	find . -name '*.tsbuildinfo' -not -path './node_modules/*' -delete

bench: build ## benchmarks (a message between processes, hop overhead, orders end to end, event pipeline, footprint) into bench/results.md and .json; needs h2load
	@command -v h2load >/dev/null || { echo "h2load is not on PATH. Install it: sudo apt-get install -y nghttp2-client (Debian/Ubuntu), brew install nghttp2 (macOS)"; exit 1; }
	@command -v nats-server >/dev/null || { echo "nats-server is not on PATH. Install it: sudo apt-get install -y nats-server"; exit 1; }
	@command -v taskset >/dev/null || { echo "taskset is not on PATH (util-linux): the hop benchmark pins processes to cores"; exit 1; }
	$(TSX) bench/main.ts

.PHONY: chaos
chaos: build ## chaos tests alone, against real processes: kill -9 NATS and orders, stop payments, SIGTERM each service, stall orders' confirms, under load
	npx vitest run test/chaos
