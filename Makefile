# l7trace — build, run and test. Every target installs what it is missing first.
SWIFT      ?= swift
CLANG      ?= clang
BPFTOOL    ?= bpftool
PYTHON     ?= python3
CONFIG     ?= release
ARGS       ?=

BPF_ARCH   := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
GEN_BPF    := Sources/CProbes/generated
GEN_OTLP   := Sources/COTLP/generated
VMLINUX    := $(GEN_BPF)/vmlinux.h
BPF_OBJ    := $(GEN_BPF)/l7trace.bpf.o
SKEL       := $(GEN_BPF)/l7trace.skel.h
BPF_SRCS   := $(wildcard bpf/*.bpf.c) $(wildcard bpf/*.h) Sources/CProbes/include/l7trace_abi.h
PROTOS     := $(shell find proto -name '*.proto' 2>/dev/null | sort)
OTLP_STAMP := $(GEN_OTLP)/.stamp
BIN        := .build/$(CONFIG)/l7trace

.PHONY: all deps test-deps generate build run test unit-test e2e-test test-kernels bench bench-memory clean

all: build

deps:
	@bash scripts/deps.sh build

test-deps:
	@bash scripts/deps.sh test

# vmlinux.h is generated from the running kernel's BTF, never committed.
$(VMLINUX):
	@mkdir -p $(GEN_BPF)
	@test -r /sys/kernel/btf/vmlinux || { echo "l7trace: this kernel has no BTF (/sys/kernel/btf/vmlinux); l7trace needs CONFIG_DEBUG_INFO_BTF=y" >&2; exit 1; }
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp && mv $@.tmp $@

$(BPF_OBJ): $(BPF_SRCS) $(VMLINUX)
	$(CLANG) -g -O2 -target bpf -mcpu=v3 -Wall -Wno-unused-function -D__TARGET_ARCH_$(BPF_ARCH) -I$(GEN_BPF) -ISources/CProbes/include -Ibpf \
		-c bpf/l7trace.bpf.c -o $@.tmp.o
	$(BPFTOOL) gen object $@ $@.tmp.o && rm -f $@.tmp.o

$(SKEL): $(BPF_OBJ)
	$(BPFTOOL) gen skeleton $< name l7trace > $@.tmp && mv $@.tmp $@

# protoc-c includes sibling headers by import path ("opentelemetry/…"); the
# sed makes those includes relative to each file, so COTLP's clients need no -I.
$(OTLP_STAMP): $(PROTOS) Makefile
	@rm -rf $(GEN_OTLP) && mkdir -p $(GEN_OTLP)
	protoc-c --proto_path=proto --c_out=$(GEN_OTLP) $(PROTOS)
	@cd $(GEN_OTLP) && for f in $$(find opentelemetry google -name '*.pb-c.[ch]'); do \
		up=$$(dirname $$f | sed 's|[^/][^/]*|..|g'); \
		sed -i -e "s|^#include \"opentelemetry/|#include \"$$up/opentelemetry/|" -e "s|^#include \"google/|#include \"$$up/google/|" $$f; \
	done
	@touch $@

generate: $(SKEL) $(OTLP_STAMP)

build: deps generate
	$(SWIFT) build -c $(CONFIG) --product l7trace

run: build
	@echo "l7trace: tracing $(if $(ARGS),$(ARGS),every process on this host); Ctrl-C to stop" >&2
	$(BIN) $(ARGS)

unit-test: deps generate
	$(SWIFT) test --disable-swift-testing

e2e-test: build test-deps
	L7TRACE_BIN=$(abspath $(BIN)) $(PYTHON) -m pytest -q Tests/e2e

# The same HTTP/1.1, h2c and HTTPS scenario on this host's kernel and on Debian's
# 6.1, 6.12 and 5.10 under qemu (kernels cached in /var/cache/l7trace-kernels).
# KERNEL_BIN: the tracer under test; ARGS: pytest's, e.g. ARGS='-k 5.10'.
KERNEL_BIN ?= $(abspath $(BIN))
test-kernels: build test-deps
	L7TRACE_BIN=$(KERNEL_BIN) $(PYTHON) -m pytest -q Tests/kernels $(ARGS)

test: deps test-deps generate
	$(SWIFT) test --disable-swift-testing
	$(MAKE) --no-print-directory e2e-test
	$(MAKE) --no-print-directory fuzz-short
	$(MAKE) --no-print-directory soak-short
	$(MAKE) --no-print-directory test-kernels

# Coverage-guided fuzzing (libFuzzer + AddressSanitizer), a package of its own
# (fuzz/) built into .build-fuzz. SECONDS per target; ARGS: --only http1,hpack,
# --seed N, or libFuzzer flags after `--` (e.g. -- -jobs=2).
SECONDS ?= 300
.PHONY: fuzz fuzz-short soak soak-short
fuzz: deps
	bash fuzz/run.sh --seconds $(SECONDS) $(ARGS)

# A few seconds of each target with a fixed seed (part of make test).
fuzz-short: deps
	bash fuzz/run.sh --seconds 6 --seed 1

# Hostile traffic against the release binary, phase by phase (minutes; root).
soak: build test-deps
	$(PYTHON) Tests/soak/soak.py --bin $(abspath $(BIN)) $(ARGS)

# The same phases, reduced (under a minute; part of make test).
soak-short: build test-deps
	$(PYTHON) Tests/soak/soak.py --bin $(abspath $(BIN)) --short $(ARGS)

# The performance figures of issue 6 as one table (root: it loads the probes); see BENCHMARKS.md.
bench: build test-deps
	$(PYTHON) bench/run.py --bin $(abspath $(BIN)) $(ARGS)

# Parser throughput next to llhttp and libnghttp2, on recorded streams; a package
# of its own, so that the main build and CI never build swift-nio. ARGS: --json,
# --rounds N, --iterations N, --only ours|reference, --protocol http1|http2.
.PHONY: bench-parsers
bench-parsers: deps
	$(SWIFT) build -c release --package-path bench/parsers --scratch-path .build-parsers
	.build-parsers/release/ParserBench $(ARGS)

# A/B against an older commit (issue 14: "not worse, side by side with the previous build"):
# instructions per exchange of the protocol layer (ParserBench --only ours under callgrind), BASE
# vs this working tree, BASE checked out in a temporary worktree under /tmp. ITERATIONS: replays
# per run (50). FULL=1 also builds both release binaries and runs bench/run.py --baseline-bin
# (root; ARGS go to run.py, e.g. ARGS=--quick). See bench/ab.sh.
BASE       ?=
ITERATIONS ?= 50
.PHONY: bench-ab
bench-ab: deps
	@test -n "$(BASE)" || { echo "usage: make bench-ab BASE=<git ref> [ITERATIONS=N] [FULL=1 [ARGS=--quick]]" >&2; exit 2; }
	$(if $(filter 1,$(FULL)),@bash scripts/deps.sh test)
	bash bench/ab.sh $(BASE) --iterations $(ITERATIONS) $(if $(filter 1,$(FULL)),--full -- $(ARGS))

# Instructions per span of each export encoder (OTLP wire, protobuf-c, JSON, console), by callgrind.
.PHONY: bench-export
bench-export: deps
	bash bench/export/run.sh $(ARGS)

# The memory goal over time: 10,000 idle connections plus steady traffic for 10 minutes (~11 min).
bench-memory: build test-deps
	$(PYTHON) bench/run.py --bin $(abspath $(BIN)) --memory-minutes 10 $(ARGS)

clean:
	rm -rf .build .build-fuzz .build-export .build-parsers .build-ab $(GEN_BPF) $(GEN_OTLP)
