# typecache — see README.md. Every target works from a fresh clone.
GO       ?= go
MODULES  := $(shell git ls-files '*go.mod' 2>/dev/null | xargs -rn1 dirname)
FUZZTIME ?= 10s

# The servers make test and make faults run the integration tests on, each
# picked by TYPECACHE_SERVER (see package typecachetest): Redis 7.0 (Debian 12's
# redis-server) and Valkey 8.0 (valkey-server from bookworm-backports).
SERVERS  := redis-server valkey-server

.PHONY: test redis servers fmt-check vet bench bench-report bench-tier fuzz

## test: install redis-server and valkey-server if missing, then gofmt check, go vet, go test -race for every module on redis-server and go test (without -race, for time) on valkey-server
test: servers fmt-check vet
	@$(call test_on,redis-server,-race)
	@$(call test_on,valkey-server,)
	@echo "== GOARCH=386 go test ./codec/ (32-bit lengths)"; GOARCH=386 $(GO) test -count=1 ./codec/

# test_on runs go test with flags $(2) in every module on server $(1).
test_on = for m in $(MODULES); do echo "== go test$(if $(2), $(2)) ($$m, $(1))"; (cd $$m && TYPECACHE_SERVER=$(1) $(GO) test $(2) -timeout 20m ./...) || exit 1; done

redis:
	@./.ci/ensure-redis redis-server

servers:
	@./.ci/ensure-redis $(SERVERS)

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	@for m in $(MODULES); do echo "== go vet ($$m)"; (cd $$m && $(GO) vet ./...) || exit 1; done

## bench: run the benchmarks against throwaway servers and print a table
bench: redis
	@./.ci/bench

## bench-report: run the benchmarks, keep the raw output in bench/results/latest.txt (the run before it moves to previous.txt: a target is met only when both runs met it) and regenerate docs/benchmarks.md and docs/img/benchmarks.svg from them
bench-report: redis
	@commit=$$(git describe --always --dirty 2>/dev/null || echo unknown); \
	if [ -f bench/results/latest.txt ]; then cp bench/results/latest.txt bench/results/previous.txt; fi; \
	BENCH_COMMIT=$$commit BENCH_OUT=bench/results/latest.txt ./.ci/bench; status=$$?; \
	cd bench && $(GO) run ./cmd/report -in results/latest.txt -notes results/notes.md -tier results/tier.txt -md ../docs/benchmarks.md -svg ../docs/img/benchmarks.svg && exit $$status

## bench-tier: the local tier's hit ratio beside otter v2's and its fill rejection (Redis unused, though the bench module's TestMain starts one), raw output in bench/results/tier.txt for bench-report
bench-tier: redis
	@{ echo "date: $$(date -u +%Y-%m-%dT%H:%M:%SZ)"; echo "commit: $$(git describe --always --dirty 2>/dev/null || echo unknown)"; echo "go: $$($(GO) env GOVERSION)"; \
	  (cd bench && $(GO) test -run '^$$' -bench '^BenchmarkHitRatio$$' -benchtime 1x .) && \
	  $(GO) test -run '^$$' -bench '^BenchmarkFillRejection$$' -benchtime 200000x ./internal/tier/; } >bench/results/tier.txt.tmp \
	  && mv bench/results/tier.txt.tmp bench/results/tier.txt && grep '^Benchmark' bench/results/tier.txt

## stress: the race-prone cache, tier, session, transport, lock and leaderboard tests STRESS_COUNT times (default 100) while two CPU-bound processes compete for the cores
.PHONY: stress
stress: redis
	@./.ci/stress

## fuzz: a short pass (FUZZTIME each, default 10s) over every fuzz target
fuzz:
	@FUZZTIME=$(FUZZTIME) ./.ci/fuzz

## faults: the full fault-injection suite (60 s soak, longer scenarios) on redis-server, then on valkey-server; figures go to internal/testkit/faults/figures.txt and figures-valkey.txt
.PHONY: faults
faults: servers
	@rm -f internal/testkit/faults/figures.txt internal/testkit/faults/figures-valkey.txt
	$(call faults_on,redis-server,figures.txt)
	$(call faults_on,valkey-server,figures-valkey.txt)

# faults_on runs the full fault suite on server $(1), its figures going to internal/testkit/faults/$(2).
faults_on = TYPECACHE_SERVER=$(1) FAULTS_FULL=1 FAULTS_FIGURES=$(CURDIR)/internal/testkit/faults/$(2) $(GO) test -race -count=1 -timeout 30m -v ./internal/testkit/faults/

## scale: the fleet-scale test, not part of test: 8, 32 and 64 processes on one 3-master cluster (minutes); figures go to internal/testkit/scale/figures.txt
.PHONY: scale
scale: redis
	@rm -f internal/testkit/scale/figures.txt
	SCALE=full SCALE_FIGURES=$(CURDIR)/internal/testkit/scale/figures.txt $(GO) test -count=1 -timeout 60m -run '^TestScale$$' -v ./internal/testkit/scale/
