# drill: the newcomer's path is `make demo` and `make test`.
GO        ?= go
BIN       := bin
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
PREFIX    ?= /usr/local
DESTDIR   ?=

.PHONY: all build install dist demo fuzz test check lint test-deps db-up restic generate check-generate bench bench-table bench-go bench-sample idle clean

all: build

## build: bin/drill
build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/drill ./cmd/drill

## dist: reproducible, stripped release binaries for linux/amd64 and linux/arm64 in dist/, with SHA256SUMS and a CycloneDX SBOM each
DIST_PLATFORMS := linux/amd64 linux/arm64
dist:
	rm -rf dist && mkdir -p dist
	@for p in $(DIST_PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; out=dist/drill-$(VERSION)-$$os-$$arch; \
		echo "building $$out"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -buildvcs=true \
			-ldflags '$(LDFLAGS) -buildid=' -o $$out ./cmd/drill || exit 1; \
		python3 scripts/sbom.py $$out $(VERSION) > $$out.cdx.json || exit 1; \
	done
	cd dist && sha256sum drill-* > SHA256SUMS

## install: drill into $(DESTDIR)$(PREFIX)/bin, the systemd unit, a sample /etc/drill/drill.yaml (never overwritten) and the Prometheus alert rules
install: build
	install -D -m 0755 $(BIN)/drill $(DESTDIR)$(PREFIX)/bin/drill
	install -d -m 0755 $(DESTDIR)/etc/systemd/system
	sed 's|/usr/local/bin/drill|$(PREFIX)/bin/drill|' packaging/drill.service > $(DESTDIR)/etc/systemd/system/drill.service
	chmod 0644 $(DESTDIR)/etc/systemd/system/drill.service
	install -d -m 0755 $(DESTDIR)/etc/drill
	[ -e $(DESTDIR)/etc/drill/drill.yaml ] || install -m 0640 packaging/drill.yaml $(DESTDIR)/etc/drill/drill.yaml
	install -D -m 0644 packaging/prometheus-alerts.yaml $(DESTDIR)$(PREFIX)/share/drill/prometheus-alerts.yaml

## demo: a real drill on a small real backup, a damaged copy failing, the evidence verified
demo: build
	bash scripts/demo.sh

## test: make check, then unit tests, the plugin conformance suite and the end-to-end CLI scripts under the race detector, and every fuzz target for 3 s
# restic is built first: it warms the build cache, so the tests' own builds of
# the pinned restic are quick links and no test binary spends its timeout compiling.
# -race needs cgo (gcc); DRILL_RACE=1 builds the drill binary of the end-to-end
# tests with -race too, so the agent's races fail them (exit 66).
test: test-deps db-up restic check
	CGO_ENABLED=1 DRILL_RACE=1 DRILL_REQUIRE_BROWSER=1 $(GO) test -race -count=1 -timeout 45m ./...
	bash scripts/fuzz.sh 3

## check: gofmt, go vet, golangci-lint (.golangci.yml, the version pinned in tools/go.mod) and no function over 80 lines (scripts/funclen): the gates make test runs first
check:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './_*')); \
	if [ -n "$$unformatted" ]; then echo "not gofmt'ed (run gofmt -w):" $$unformatted >&2; exit 1; fi
	$(GO) vet ./...
	$(LINT)
	$(GO) run ./scripts/funclen -max 80 -top 0

## lint: golangci-lint, pinned in tools/go.mod as a tool, with .golangci.yml (errcheck, errorlint, depguard's layering, ...)
LINT := $(GO) tool -modfile=tools/go.mod golangci-lint run ./...
lint:
	$(LINT)

## test-deps: the real tools the tests drive (tar, gzip, zstd, sha256sum, rsync, the PostgreSQL and MariaDB clients, chromium for the position page) and gcc for -race; installed with apt-get when missing
TEST_TOOLS := tar gzip zstd sha256sum rsync pg_dump pg_restore psql pgbench mariadb mariadb-dump chromium gcc
test-deps:
	@missing=""; for t in $(TEST_TOOLS); do command -v $$t >/dev/null || missing="$$missing $$t"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && apt-get install -y -qq tar gzip zstd coreutils rsync postgresql-client postgresql-contrib mariadb-client chromium gcc >/dev/null; \
	fi

## db-up: the PostgreSQL and MariaDB servers the database tests use, started when down; fails when unreachable
db-up:
	@bash scripts/db-up.sh

## restic: bin/restic from the version pinned in tools/go.mod
restic:
	$(GO) build -modfile=tools/go.mod -o $(BIN)/restic github.com/restic/restic/cmd/restic

## generate: regenerate the plugin protocol's Go code from its .proto (needs protoc: apt-get install protobuf-compiler)
generate:
	@command -v protoc >/dev/null || { echo "protoc not found: apt-get install protobuf-compiler" >&2; exit 1; }
	bash plugins/internal/pb/generate.sh

## check-generate: the committed generated code is what `make generate` writes
check-generate: generate
	git diff --exit-code -- plugins/internal/pb

## bench: whole-program comparisons against the real tools, and issue 17's table of drill at BASE (default b7ca2e5) against this tree; writes docs/benchmarks.md (RUNS, BENCH_ONLY, ...: see scripts/bench.sh)
bench: build restic
	bash scripts/bench.sh

## bench-table: only issue 17's before/after table (about 50 minutes), the other sections kept from the last run
bench-table: build restic
	BENCH_ONLY=restic05,restic1,hash,bundle,store,reads,append,rss bash scripts/bench.sh

## bench-sample: what a sampled restic drill costs against a full one (scripts/samplebench.sh)
bench-sample: build restic
	bash scripts/samplebench.sh

## idle: the idle agent's memory and CPU with 50 scheduled drills, after 10 minutes (scripts/idle.sh)
idle: build
	bash scripts/idle.sh

## fuzz: every fuzz target for a few seconds (FUZZTIME, default 30), after its seed corpus; make test runs it for 3 s each
FUZZTIME ?= 30
fuzz:
	bash scripts/fuzz.sh $(FUZZTIME)

## bench-go: the Go benchmarks of the hot paths, summarised by benchstat into docs/benchmarks-go.txt
bench-go:
	$(GO) test -run '^$$' -bench 'HashTree|PoolSmall' -count 6 ./internal/manifest/ > _bench-go.txt
	$(GO) test -run '^$$' -bench 'RestoreTarGz|TarXzfThen' -benchtime 3x -count 6 ./plugins/filesystem/ >> _bench-go.txt
	$(GO) run golang.org/x/perf/cmd/benchstat@latest _bench-go.txt > docs/benchmarks-go.txt
	rm -f _bench-go.txt

clean:
	rm -rf $(BIN) _demo dist
