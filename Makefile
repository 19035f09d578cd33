# typecache — see README.md. Every target works from a fresh clone.
GO       ?= go
MODULES  := $(shell git ls-files '*go.mod' 2>/dev/null | xargs -rn1 dirname)
FUZZTIME ?= 10s

.PHONY: test redis fmt-check vet bench bench-report fuzz

## test: install redis-server if missing, then gofmt check, go vet and go test -race for every module
test: redis fmt-check vet
	@for m in $(MODULES); do echo "== go test -race ($$m)"; (cd $$m && $(GO) test -race -timeout 20m ./...) || exit 1; done
	@echo "== GOARCH=386 go test ./codec/ (32-bit lengths)"; GOARCH=386 $(GO) test -count=1 ./codec/

redis:
	@./.ci/ensure-redis

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	@for m in $(MODULES); do echo "== go vet ($$m)"; (cd $$m && $(GO) vet ./...) || exit 1; done

## bench: run the benchmarks against throwaway servers and print a table
bench: redis
	@./.ci/bench

## bench-report: run the benchmarks, keep the raw output in bench/results/latest.txt and regenerate docs/benchmarks.md and docs/img/benchmarks.svg from it
bench-report: redis
	@BENCH_OUT=bench/results/latest.txt ./.ci/bench; status=$$?; \
	cd bench && $(GO) run ./cmd/report -in results/latest.txt -notes results/notes.md -md ../docs/benchmarks.md -svg ../docs/img/benchmarks.svg && exit $$status

## stress: the race-prone cache and session tests STRESS_COUNT times (default 100) while two CPU-bound processes compete for the cores
.PHONY: stress
stress: redis
	@./.ci/stress

## fuzz: a short pass (FUZZTIME each, default 10s) over every fuzz target
fuzz:
	@FUZZTIME=$(FUZZTIME) ./.ci/fuzz

## faults: the full fault-injection suite (60 s soak, longer scenarios); figures go to internal/faults/figures.txt
.PHONY: faults
faults: redis
	@rm -f internal/faults/figures.txt
	FAULTS_FULL=1 FAULTS_FIGURES=$(CURDIR)/internal/faults/figures.txt $(GO) test -race -count=1 -timeout 30m -v ./internal/faults/

## scale: the fleet-scale test, not part of test: 8, 32 and 64 processes on one 3-master cluster (minutes); figures go to internal/scale/figures.txt
.PHONY: scale
scale: redis
	@rm -f internal/scale/figures.txt
	SCALE=full SCALE_FIGURES=$(CURDIR)/internal/scale/figures.txt $(GO) test -count=1 -timeout 60m -run '^TestScale$$' -v ./internal/scale/
