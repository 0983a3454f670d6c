# mmfree. The two commands: `make bench` (the main job) and `make test`.
# Every target that needs a Debian package depends on `deps` first.

CC       ?= cc
CXX      ?= c++
WARN     := -Wall -Wextra -Werror
OPT      ?= -O2
CFLAGS   := -std=c17 $(OPT) -g $(WARN) -fPIC -fvisibility=hidden -DMMFREE_BUILD -Iimpl $(EXTRA_CFLAGS)
CXXFLAGS := -std=c++17 $(OPT) -g $(WARN) -Iimpl -Ibench $(EXTRA_CFLAGS)
SANITIZE := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

LIB_SRC   := $(sort $(wildcard impl/*.c))
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
$(B)/mmrun: $(MMRUN_SRC) $(BENCH_HDR) $(B)/libmmfree.a
	$(CC) $(CFLAGS) -Ibench $(MMRUN_SRC) $(B)/libmmfree.a -o $@
$(A)/mmrun: $(MMRUN_SRC) $(BENCH_HDR) $(A)/libmmfree.a
	$(CC) $(CFLAGS) $(SANITIZE) -Ibench $(MMRUN_SRC) $(A)/libmmfree.a -o $@

# ---- tests ----------------------------------------------------------------
# One Criterion binary, built twice: plainly and under ASan + UBSan.
TEST_LIBS := -lcriterion
$(B)/tests/mmtest: $(TEST_SRC) $(TEST_HDR) $(WL_SRC) $(B)/libmmfree.a | $(B)/tests
	$(CC) $(CFLAGS) -Ibench -Itests $(TEST_SRC) $(WL_SRC) $(B)/libmmfree.a $(TEST_LIBS) -o $@
$(A)/tests/mmtest: $(TEST_SRC) $(TEST_HDR) $(WL_SRC) $(A)/libmmfree.a | $(A)/tests
	$(CC) $(CFLAGS) $(SANITIZE) -Ibench -Itests $(TEST_SRC) $(WL_SRC) $(A)/libmmfree.a $(TEST_LIBS) -o $@

TEST_BINS := $(B)/tests/mmtest $(A)/tests/mmtest $(B)/mmrun $(A)/mmrun

test: deps
	@$(MAKE) --no-print-directory $(TEST_BINS)
	@scripts/run-tests

# ---- setup ----------------------------------------------------------------
deps:
	@scripts/deps

clean:
	rm -rf build
