# mmfree. The two commands: `make bench` (the main job) and `make test`.
# Every target that needs a Debian package depends on the set of packages it
# needs first (`deps-test`, `deps-bench`, ...; `make deps` installs them all).

CC       ?= cc
CXX      ?= c++
WARN     := -Wall -Wextra -Werror
OPT      ?= -O2
CFLAGS   := -std=c17 $(OPT) -g $(WARN) -fPIC -fvisibility=hidden -DMMFREE_BUILD -Iimpl $(EXTRA_CFLAGS)
CXXFLAGS := -std=c++17 $(OPT) -g $(WARN) -Iimpl -Ibench $(EXTRA_CFLAGS)
SANITIZE := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

# memory_stable.c is the WebAssembly build's linear memory (wasm section).
LIB_SRC   := $(filter-out impl/memory_stable.c,$(sort $(wildcard impl/*.c)))
LIB_HDR   := $(wildcard impl/*.h)
TEST_SRC  := $(sort $(wildcard tests/*.c))
TEST_HDR  := $(wildcard tests/*.h)
# bench/*.c but mmrun's own files: the workloads, linked into mmrun and tests.
WL_SRC    := $(filter-out bench/mmrun%,$(sort $(wildcard bench/*.c)))
MMRUN_SRC := $(sort $(wildcard bench/mmrun*.c)) $(WL_SRC)
BENCH_HDR := $(wildcard bench/*.h)

B := build
A := build/asan

.PHONY: all deps test clean
all: $(B)/libmmfree.a $(B)/mmrun

# ---- the library ----------------------------------------------------------
$(B)/obj/%.o: impl/%.c $(LIB_HDR) | $(B)/obj
	$(CC) $(CFLAGS) -c $< -o $@
$(A)/obj/%.o: impl/%.c $(LIB_HDR) | $(A)/obj
	$(CC) $(CFLAGS) $(SANITIZE) -c $< -o $@
$(B)/libmmfree.a: $(LIB_SRC:impl/%.c=$(B)/obj/%.o)
	rm -f $@ && ar rcs $@ $^
$(A)/libmmfree.a: $(LIB_SRC:impl/%.c=$(A)/obj/%.o)
	rm -f $@ && ar rcs $@ $^
$(B)/obj $(A)/obj $(B)/tests $(A)/tests:
	mkdir -p $@

# ---- mmrun: the CLI (ops, designs, run) -----------------------------------
# -z now binds every symbol at load: lazily, the first call of a C library
# function would resolve it inside whichever measured phase makes it first,
# and its count would depend on what the process ran before.
MMRUN_LDFLAGS := -Wl,-z,now
$(B)/mmrun: $(MMRUN_SRC) $(BENCH_HDR) $(B)/libmmfree.a
	$(CC) $(CFLAGS) -Ibench $(MMRUN_SRC) $(B)/libmmfree.a $(MMRUN_LDFLAGS) -o $@
$(A)/mmrun: $(MMRUN_SRC) $(BENCH_HDR) $(A)/libmmfree.a
	$(CC) $(CFLAGS) $(SANITIZE) -Ibench $(MMRUN_SRC) $(A)/libmmfree.a -o $@

# ---- tests ----------------------------------------------------------------
# One Criterion binary, built twice: plainly and under ASan + UBSan.
TEST_LIBS := -lcriterion
# tests/test_space.c counts the library's allocations through these.
TEST_LIBS += -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=free
$(B)/tests/mmtest: $(TEST_SRC) $(TEST_HDR) $(BENCH_HDR) $(WL_SRC) $(B)/libmmfree.a | $(B)/tests
	$(CC) $(CFLAGS) -Ibench -Itests $(TEST_SRC) $(WL_SRC) $(B)/libmmfree.a $(TEST_LIBS) -o $@
$(A)/tests/mmtest: $(TEST_SRC) $(TEST_HDR) $(BENCH_HDR) $(WL_SRC) $(A)/libmmfree.a | $(A)/tests
	$(CC) $(CFLAGS) $(SANITIZE) -Ibench -Itests $(TEST_SRC) $(WL_SRC) $(A)/libmmfree.a $(TEST_LIBS) -o $@

TEST_BINS := $(B)/tests/mmtest $(A)/tests/mmtest $(B)/mmrun $(A)/mmrun

test: deps-test
	@$(MAKE) --no-print-directory $(TEST_BINS)
	@scripts/run-tests

# ---- benchmarks (bench/workloads.h, scripts/bench) -------------------------
# make bench [BENCH_OUT=dir] [BENCH_SIZES="1024 4096"] [BENCH_REPS=9]
#            [BENCH_DESIGNS="v1 list"] [BENCH_WORKLOADS="grow_pages"]
#            [BENCH_HARNESSES="gbench callgrind hyperfine wasm"] [SHARD=K/N]
# Empty BENCH_DESIGNS / BENCH_WORKLOADS mean every registered one. SHARD=K/N
# measures the K-th of N parts of the design x workload x size matrix
# (bench-full too); scripts/merge-results joins the N folders into one.
BENCH_OUT       ?= results/latest
BENCH_SIZES     ?= 1024 4096 16384 32768
BENCH_REPS      ?= 9
BENCH_DESIGNS   ?=
BENCH_WORKLOADS ?=
BENCH_HARNESSES ?= gbench callgrind hyperfine wasm
BENCH_FULL_SIZES ?= $(BENCH_SIZES) 131072 1048576
BENCH_FULL_REPS  ?= 15
GBENCH_LIBS := -lbenchmark -lpthread

$(B)/obj/bench_%.o: bench/%.c $(BENCH_HDR) impl/mmfree.h | $(B)/obj
	$(CC) $(CFLAGS) -Ibench -c $< -o $@
$(B)/gbench: bench/gbench.cc $(WL_SRC:bench/%.c=$(B)/obj/bench_%.o) $(BENCH_HDR) $(B)/libmmfree.a
	$(CXX) $(CXXFLAGS) $< $(WL_SRC:bench/%.c=$(B)/obj/bench_%.o) $(B)/libmmfree.a $(GBENCH_LIBS) -o $@

BENCH_RUN = scripts/bench --mmrun $(B)/mmrun --gbench $(B)/gbench \
            --designs "$(BENCH_DESIGNS)" --workloads "$(BENCH_WORKLOADS)" \
            --harnesses "$(BENCH_HARNESSES)" --wasm-module $(WASM_MODULE) \
            $(if $(SHARD),--shard $(SHARD)) \
            --crash $(B)/mmcrash --crash-small $(B)/mmcrash-small --durable
.PHONY: bench bench-full bench-baseline bench-build
bench-build: deps-bench
	@$(MAKE) --no-print-directory OPT=-O2 $(B)/mmrun $(B)/gbench $(WASM_MODULE) $(CRASH_BINS)
bench: bench-build
	@$(BENCH_RUN) --out "$(BENCH_OUT)" --sizes "$(BENCH_SIZES)" --reps $(BENCH_REPS)
bench-full: bench-build
	@$(BENCH_RUN) --out "$(BENCH_OUT)" --sizes "$(BENCH_FULL_SIZES)" --reps $(BENCH_FULL_REPS) \
	    --budget 2e10 --max-run-ms 5000
# The baseline it replaces is kept aside and compared with the new one
# (results/baseline/drift.json): the README says how far times drifted.
bench-baseline: bench-build
	@rm -rf $(B)/baseline-before && mkdir -p $(B) && cp -r results/baseline $(B)/baseline-before
	@$(BENCH_RUN) --out results/baseline --sizes "$(BENCH_SIZES)" --reps $(BENCH_REPS)
	@scripts/bench-diff --format json -o results/baseline/drift.json $(B)/baseline-before \
	    results/baseline || [ $$? -eq 1 ]

# ---- WebAssembly: the library and workloads metered like a canister --------
# One wasm32-wasi module (Debian's clang, wasm-ld and wasi-libc, make
# deps-wasm) holds the library with the stable memory as its linear memory
# (impl/memory_stable.c instead of memory_ram.c and memory_file.c, which
# need mmap and file locks), the workloads, the model-based test and the
# entry points of wasm/entry.c. wasm/instrument.mjs meters it; wasm/host.mjs
# runs it in Node.js. make bench-wasm [BENCH_OUT=dir] measures every design
# x workload into $(BENCH_OUT)/instructions_wasm.json (make bench does too).
WASM_CC      ?= clang
NODE         ?= node
WASM_CFLAGS  := --target=wasm32-wasi -mexec-model=reactor -std=c17 $(OPT) $(WARN) -DMMFREE_BUILD \
                -Iwasm -Iimpl -Ibench -Itests
WASM_LIB_SRC := $(filter-out impl/memory_ram.c impl/memory_file.c,$(sort $(wildcard impl/*.c)))
WASM_SRC     := $(WASM_LIB_SRC) $(WL_SRC) tests/model.c tests/test_model.c tests/test_util.c \
                wasm/entry.c wasm/criterion/tests.c
WASM_HDR     := $(LIB_HDR) $(BENCH_HDR) $(TEST_HDR) $(wildcard wasm/criterion/*.h)
WASM_MODULE  := $(B)/wasm/mmfree.metered.wasm
WASM_BUDGET  ?= 2e11
$(B)/wasm:
	mkdir -p $@
$(B)/wasm/mmfree.wasm: $(WASM_SRC) $(WASM_HDR) | $(B)/wasm
	$(WASM_CC) $(WASM_CFLAGS) $(WASM_SRC) -o $@
$(WASM_MODULE): $(B)/wasm/mmfree.wasm wasm/instrument.mjs wasm/package-lock.json
	$(NODE) wasm/instrument.mjs $< $@
TEST_BINS += $(WASM_MODULE)

.PHONY: wasm bench-wasm
wasm: deps-wasm
	@$(MAKE) --no-print-directory $(WASM_MODULE)
bench-wasm: wasm
	@scripts/count-instructions-wasm --module $(WASM_MODULE) \
	    --out "$(BENCH_OUT)/instructions_wasm.json" --sizes "$(BENCH_SIZES)" \
	    --designs "$(BENCH_DESIGNS)" --workloads "$(BENCH_WORKLOADS)" --budget $(WASM_BUDGET) \
	    --summary "$(BENCH_OUT)"

# ---- report: charts of a results folder (scripts/plot) --------------------
# make report [BENCH_OUT=dir] [BASE=dir] [HISTORY=dir] [REPORT_OUT=dir]
# (BENCH_OUT defaults to results/latest, in the benchmarks section.) It needs
# only python3 and gnuplot (deps-report: no compiler, no browser); without
# results it says in one line (make's own error line, exit 2) how to get some.
REPORT_OUT ?= results/report
.PHONY: report
report: deps-report
	$(if $(wildcard $(BENCH_OUT)/instructions.json),,$(error no results in $(BENCH_OUT): run `make bench` first, or pass BENCH_OUT=results/baseline))
	scripts/plot $(BENCH_OUT) --out $(REPORT_OUT) $(if $(BASE),--base $(BASE)) $(if $(HISTORY),--history $(HISTORY))

# ---- fuzzing (tests/fuzz/README.md) ---------------------------------------
# make fuzz [FUZZ_SECONDS=60]: each libFuzzer target for FUZZ_SECONDS. Only
# the fuzz targets need clang; `make test` replays the corpus and saved
# crashes with gcc (replay_*, under ASan + UBSan) and runs a short fuzz.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := diff open
FUZZ_SRC     := tests/fuzz/fuzz_engine.c tests/model.c
FUZZ_HDR     := tests/fuzz/fuzz.h tests/model.h bench/rng.h
# Fuzz builds only: list and freestack keep a handful of entries in page 0,
# so that the fuzzers' few buckets reach their metadata buckets
# (tests/fuzz/README.md). The replay binaries get their own library built
# the same way; the unit tests keep the normal one.
FUZZ_KNOB    := -DMMFREE_FUZZ_SMALL_PAGE0
FUZZ_CFLAGS  := -std=c17 -O1 -g $(WARN) -DMMFREE_BUILD $(FUZZ_KNOB) -Iimpl -Itests -Ibench \
                -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
$(B)/fuzz/obj/%.o: impl/%.c $(LIB_HDR) | $(B)/fuzz/obj
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@
$(B)/fuzz/libmmfree.a: $(LIB_SRC:impl/%.c=$(B)/fuzz/obj/%.o)
	rm -f $@ && ar rcs $@ $^
$(B)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_SRC) $(FUZZ_HDR) $(B)/fuzz/libmmfree.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $< $(FUZZ_SRC) $(B)/fuzz/libmmfree.a -o $@
$(A)/fuzz/obj/%.o: impl/%.c $(LIB_HDR) | $(A)/fuzz/obj
	$(CC) $(CFLAGS) $(SANITIZE) $(FUZZ_KNOB) -c $< -o $@
$(A)/fuzz/libmmfree.a: $(LIB_SRC:impl/%.c=$(A)/fuzz/obj/%.o)
	rm -f $@ && ar rcs $@ $^
$(A)/fuzz/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c $(FUZZ_SRC) $(FUZZ_HDR) $(A)/fuzz/libmmfree.a
	$(CC) $(CFLAGS) $(SANITIZE) $(FUZZ_KNOB) -Itests -Ibench $< tests/fuzz/replay.c $(FUZZ_SRC) \
	    $(A)/fuzz/libmmfree.a -o $@
$(B)/fuzz/obj $(A)/fuzz/obj:
	mkdir -p $@
TEST_BINS += $(FUZZ_TARGETS:%=$(A)/fuzz/replay_%)

# ---- the crash harness (tests/crash/mmcrash.c) ----------------------------
# Every crash point of every operation of every design, reopened and checked
# against the model. Built against the library, and against one built with
# the fuzz knob (list's and freestack's page 0 shrunk to a few entries) for
# the grow that adds metadata buckets, which would otherwise need 15,092
# buckets set up for each crash point.
CRASH_SRC := tests/crash/mmcrash.c tests/model.c tests/script.c
CRASH_HDR := tests/model.h tests/script.h
$(B)/mmcrash: $(CRASH_SRC) $(CRASH_HDR) $(B)/libmmfree.a
	$(CC) $(CFLAGS) -Itests $(CRASH_SRC) $(B)/libmmfree.a -o $@
$(A)/mmcrash: $(CRASH_SRC) $(CRASH_HDR) $(A)/libmmfree.a
	$(CC) $(CFLAGS) $(SANITIZE) -Itests $(CRASH_SRC) $(A)/libmmfree.a -o $@
$(B)/small/obj/%.o: impl/%.c $(LIB_HDR) | $(B)/small/obj
	$(CC) $(CFLAGS) $(FUZZ_KNOB) -c $< -o $@
$(B)/small/libmmfree.a: $(LIB_SRC:impl/%.c=$(B)/small/obj/%.o)
	rm -f $@ && ar rcs $@ $^
$(B)/small/obj:
	mkdir -p $@
$(B)/mmcrash-small: $(CRASH_SRC) $(CRASH_HDR) $(B)/small/libmmfree.a
	$(CC) $(CFLAGS) $(FUZZ_KNOB) -Itests $(CRASH_SRC) $(B)/small/libmmfree.a -o $@
$(A)/mmcrash-small: $(CRASH_SRC) $(CRASH_HDR) $(A)/fuzz/libmmfree.a
	$(CC) $(CFLAGS) $(SANITIZE) $(FUZZ_KNOB) -Itests $(CRASH_SRC) $(A)/fuzz/libmmfree.a -o $@
CRASH_BINS := $(B)/mmcrash $(B)/mmcrash-small
TEST_BINS += $(CRASH_BINS) $(A)/mmcrash $(A)/mmcrash-small

.PHONY: fuzz fuzz-build
fuzz-build: $(FUZZ_TARGETS:%=$(B)/fuzz/fuzz_%)
fuzz: deps-fuzz
	@$(MAKE) --no-print-directory fuzz-build
	@tests/fuzz/run-fuzz fuzz $(B)/fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# ---- packaging: shared library, example, install (tests/install) -----------
# make install [PREFIX=/usr/local] [DESTDIR=] [BINDIR= LIBDIR= INCLUDEDIR=
# MANDIR= PKGCONFIGDIR=]; make uninstall with the same variables removes
# exactly the files install copied. The version is read from impl/mmfree.h
# (MMFREE_VERSION_*), here and nowhere else.
MMFREE_VERSION_PARTS := $(shell sed -n 's/^.define MMFREE_VERSION_\(MAJOR\|MINOR\|PATCH\)  *\([0-9][0-9]*\) *$$/\1=\2/p' impl/mmfree.h)
mmfree_version_part = $(patsubst $(1)=%,%,$(filter $(1)=%,$(MMFREE_VERSION_PARTS)))
MMFREE_MAJOR := $(call mmfree_version_part,MAJOR)
MMFREE_VERSION := $(MMFREE_MAJOR).$(call mmfree_version_part,MINOR).$(call mmfree_version_part,PATCH)
ifneq ($(words $(MMFREE_VERSION_PARTS)),3)
$(error impl/mmfree.h: cannot read MMFREE_VERSION_MAJOR, _MINOR and _PATCH: '$(MMFREE_VERSION_PARTS)')
endif
SO_NAME := libmmfree.so.$(MMFREE_MAJOR)
SO_FILE := libmmfree.so.$(MMFREE_VERSION)

# Built from the same objects as libmmfree.a (-fPIC, hidden visibility:
# only MM_API functions are exported, tests/install/test-symbols.sh checks).
$(B)/$(SO_FILE): $(LIB_SRC:impl/%.c=$(B)/obj/%.o)
	$(CC) -shared -Wl,-soname,$(SO_NAME) -Wl,-z,defs $(LDFLAGS) $^ -o $@
$(B)/$(SO_NAME): $(B)/$(SO_FILE)
	ln -sf $(SO_FILE) $@
$(B)/libmmfree.so: $(B)/$(SO_NAME)
	ln -sf $(SO_NAME) $@

# The example is user code: built as a user would, without the library's
# own flags, plainly and under ASan + UBSan.
EXAMPLE_CFLAGS := -std=c17 $(OPT) -g $(WARN) -Iimpl $(EXTRA_CFLAGS)
$(B)/examples/persist: examples/persist.c impl/mmfree.h $(B)/libmmfree.a | $(B)/examples
	$(CC) $(EXAMPLE_CFLAGS) $< $(B)/libmmfree.a -o $@
$(A)/examples/persist: examples/persist.c impl/mmfree.h $(A)/libmmfree.a | $(A)/examples
	$(CC) $(EXAMPLE_CFLAGS) $(SANITIZE) $< $(A)/libmmfree.a -o $@
$(B)/examples $(A)/examples:
	mkdir -p $@

all: $(B)/libmmfree.so $(B)/examples/persist
TEST_BINS += $(B)/libmmfree.so $(B)/examples/persist $(A)/examples/persist
# The shard test (tests/ci) runs Google Benchmark too.
TEST_BINS += $(B)/gbench

PREFIX       ?= /usr/local
BINDIR       ?= $(PREFIX)/bin
LIBDIR       ?= $(PREFIX)/lib
INCLUDEDIR   ?= $(PREFIX)/include
MANDIR       ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
INSTALL      ?= install
# Every file install puts down, for uninstall.
INSTALLED := $(BINDIR)/mmrun $(INCLUDEDIR)/mmfree.h $(LIBDIR)/libmmfree.a \
             $(LIBDIR)/$(SO_FILE) $(LIBDIR)/$(SO_NAME) $(LIBDIR)/libmmfree.so \
             $(PKGCONFIGDIR)/mmfree.pc $(MANDIR)/man1/mmrun.1 $(MANDIR)/man3/mmfree.3

.PHONY: install uninstall
# mmfree.pc is written at install time, so that it names the PREFIX of this
# install and not of an earlier build.
install: $(B)/mmrun $(B)/libmmfree.a $(B)/$(SO_FILE) mmfree.pc.in man/mmrun.1 man/mmfree.3
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(LIBDIR) \
	    $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man3
	$(INSTALL) -m 755 $(B)/mmrun $(DESTDIR)$(BINDIR)/mmrun
	$(INSTALL) -m 644 impl/mmfree.h $(DESTDIR)$(INCLUDEDIR)/mmfree.h
	$(INSTALL) -m 644 $(B)/libmmfree.a $(DESTDIR)$(LIBDIR)/libmmfree.a
	$(INSTALL) -m 755 $(B)/$(SO_FILE) $(DESTDIR)$(LIBDIR)/$(SO_FILE)
	ln -sf $(SO_FILE) $(DESTDIR)$(LIBDIR)/$(SO_NAME)
	ln -sf $(SO_NAME) $(DESTDIR)$(LIBDIR)/libmmfree.so
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(MMFREE_VERSION)|g' \
	    mmfree.pc.in >$(DESTDIR)$(PKGCONFIGDIR)/mmfree.pc
	chmod 644 $(DESTDIR)$(PKGCONFIGDIR)/mmfree.pc
	$(INSTALL) -m 644 man/mmrun.1 $(DESTDIR)$(MANDIR)/man1/mmrun.1
	$(INSTALL) -m 644 man/mmfree.3 $(DESTDIR)$(MANDIR)/man3/mmfree.3
uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))

# ---- setup ----------------------------------------------------------------
# make deps-SET installs one set of Debian packages (scripts/deps says which
# packages and why); make deps installs every set.
DEPS_SETS := build bench diff report fuzz lint wasm test
.PHONY: $(DEPS_SETS:%=deps-%)
deps:
	@scripts/deps
$(DEPS_SETS:%=deps-%):
	@scripts/deps $(@:deps-%=%)

clean:
	rm -rf build $(B) $(A)
