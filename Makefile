# Makefile — the one build system of slm.
#
#   make              library (static + shared) and the slm CLI, in build/
#   make test         build and run the test suite (normal build)
#   make test-asan    the same suite under AddressSanitizer + UBSan (build-asan/)
#   make test-arm     the kernel and quantizer tests cross-built for aarch64, run under qemu-user (build-arm/)
#   make check        install missing packages, then test + test-asan (the README's test command)
#   make oracles      install the npm reference implementations the tests compare against
#   make run          install missing packages, build, and generate a story with the bundled model
#   make bench        random-weight models of real shapes, slm bench next to llama-bench (LLAMA_BENCH=...)
#   make loadtest     the server's load test for LOAD_SECONDS (default 60) with LOAD_STREAMS (4) streams
#   make default-model  train the bundled default model from data/tinystories (scripts/train_default_model.sh)
#   make fuzz         a libFuzzer target (clang): FUZZ=gguf (default) or safetensors, FUZZ_SECONDS (default 600)
#
# Every .c under src/ is part of the library; tools/slm/*.c make the CLI;
# tests/*.c make one test binary. Options: SLM_NATIVE=1 adds -march=native.

CC      ?= cc
BUILD   ?= build
OPT     ?= -O2
CSTD     = -std=c11 -D_GNU_SOURCE -ffp-contract=off
WARN     = -Wall -Wextra -Wshadow -Wno-unused-parameter
ifeq ($(SLM_WERROR),1)
WARN    += -Werror
endif
DEPFLAGS = -MMD -MP
INC      = -Iinclude -Isrc
PKG_CFLAGS := $(shell pkg-config --cflags libpcre2-8 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs libpcre2-8 2>/dev/null || echo -lpcre2-8) -lutf8proc
CFLAGS_ALL = $(CSTD) $(OPT) -g $(WARN) $(DEPFLAGS) $(INC) $(PKG_CFLAGS) -fPIC -pthread $(EXTRA_CFLAGS)
LDLIBS_ALL = $(PKG_LIBS) -lm -pthread $(EXTRA_LDFLAGS)
# The slm CLI alone links these (libslm does not): line editing for
# `slm chat`, HTTP and JSON for `slm serve`.
CLI_LIBS  := $(shell pkg-config --libs libedit libmicrohttpd jansson 2>/dev/null || echo -ledit -lmicrohttpd -ljansson)

LIB_SRC   := $(shell find src -name '*.c' | sort)
CLI_SRC   := $(sort $(wildcard tools/slm/*.c))
TEST_SRC  := $(sort $(wildcard tests/*.c))

LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ   := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TEST_OBJ  := $(TEST_SRC:%.c=$(BUILD)/obj/%.o)

# Per-ISA kernel files get their own flags (run-time dispatch picks them).
$(BUILD)/obj/src/kernels/x86/%_avx2.o:   ISA_FLAGS = -mavx2 -mfma -mf16c
$(BUILD)/obj/src/kernels/x86/%_avx512.o: ISA_FLAGS = -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx2 -mfma -mf16c
$(BUILD)/obj/src/kernels/x86/%_avx512vnni.o: ISA_FLAGS = -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vnni -mavx2 -mfma -mf16c

.PHONY: all lib cli tests test test-asan test-arm check bench run deps oracles fuzz fuzz-json loadtest clean default-model
all: lib cli

lib: $(BUILD)/libslm.a $(BUILD)/libslm.so
cli: $(BUILD)/slm
tests: $(BUILD)/slm-tests $(BUILD)/slm

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(ISA_FLAGS) -c $< -o $@

$(BUILD)/libslm.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libslm.so: $(LIB_OBJ)
	$(CC) -shared -o $@ $^ $(LDLIBS_ALL)

$(BUILD)/slm: $(CLI_OBJ) $(BUILD)/libslm.a
	$(CC) $(CFLAGS_ALL) -o $@ $(CLI_OBJ) $(BUILD)/libslm.a $(LDLIBS_ALL) $(CLI_LIBS)

$(BUILD)/slm-tests: $(TEST_OBJ) $(BUILD)/libslm.a
	$(CC) $(CFLAGS_ALL) -o $@ $(TEST_OBJ) $(BUILD)/libslm.a $(LDLIBS_ALL)

test: tests oracles
	SLM_BIN=$(BUILD)/slm SLM_TEST_TMP=$(BUILD)/tmp ./$(BUILD)/slm-tests $(T)

ASAN_FLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
test-asan:
	$(MAKE) BUILD=build-asan OPT=-O1 EXTRA_CFLAGS="$(ASAN_FLAGS)" EXTRA_LDFLAGS="$(ASAN_FLAGS)" test

deps:
	@bash scripts/install-deps.sh
deps-test:
	@bash scripts/install-deps.sh --test

# The reference implementations some tests compare against (tests/oracles/:
# npm packages pinned to exact versions in package.json; npm ci when a
# package-lock.json is there), installed once and again when package.json
# changes. Those tests fail, not skip, without them.
ORACLES_STAMP = tests/oracles/node_modules/.package-lock.json
oracles: $(ORACLES_STAMP)
$(ORACLES_STAMP): tests/oracles/package.json
	@command -v npm >/dev/null 2>&1 || { echo "slm: npm is needed for the test oracles: run 'make deps-test'" >&2; exit 1; }
	cd tests/oracles && if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
	@touch $@

check: deps-test
	$(MAKE) oracles
	$(MAKE) -j2 SLM_WERROR=1 test
	$(MAKE) -j2 SLM_WERROR=1 test-asan
	$(MAKE) SLM_WERROR=1 test-arm

# The NEON kernel tables, proven here: tests/test_kernels.c and test_quant.c
# cross-compiled for aarch64 (statically, so qemu needs no target libraries)
# with only what they need (base/, kernels/, quant/, the GGUF reader; no
# PCRE2 or utf8proc for aarch64), run under qemu-user: on its "max" CPU (NEON
# and dotprod: both tables against the references), then the table choice on
# a Cortex-A53 (no dotprod).
ARM_CC    ?= aarch64-linux-gnu-gcc
ARM_BUILD ?= build-arm
ARM_QEMU  ?= qemu-aarch64 -L /usr/aarch64-linux-gnu
ARM_SRC   := src/base/error.c src/base/mmap.c src/base/rng.c src/base/threadpool.c $(sort $(shell find src/kernels -name '*.c')) \
             src/quant/quant.c src/quant/quant_float.c src/quant/quant_legacy.c src/quant/quant_k.c \
             src/formats/gguf_read.c tests/runner.c tests/util.c tests/test_kernels.c tests/test_quant.c
ARM_OBJ   := $(ARM_SRC:%.c=$(ARM_BUILD)/obj/%.o)
$(ARM_BUILD)/obj/src/kernels/arm/%_dotprod.o: ARM_ISA_FLAGS = -march=armv8.2-a+dotprod
$(ARM_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(ARM_CC) $(CSTD) -O2 -g $(WARN) $(DEPFLAGS) $(INC) -pthread $(ARM_ISA_FLAGS) -c $< -o $@
$(ARM_BUILD)/slm-tests-arm: $(ARM_OBJ)
	$(ARM_CC) -static -o $@ $^ -lm -pthread
test-arm: $(ARM_BUILD)/slm-tests-arm
	SLM_TEST_TMP=$(ARM_BUILD)/tmp $(ARM_QEMU) ./$(ARM_BUILD)/slm-tests-arm $(T)
	SLM_TEST_TMP=$(ARM_BUILD)/tmp $(ARM_QEMU) -cpu cortex-a53 ./$(ARM_BUILD)/slm-tests-arm kernels_tables_match_cpu

# The benchmark recipe (bench/compare.sh, whose header lists its knobs):
# SmolLM2-135M, Qwen2.5-0.5B and Llama-3.2-1B shapes in F16, Q8_0, Q4_0 and
# Q4_K_M, written to $(BUILD)/bench by slm's own writer, then `slm bench` and,
# with LLAMA_BENCH=/path/to/llama-bench (a build of your own), llama-bench on
# the same files, interleaved, medians and ratios. Not part of the tests.
$(BUILD)/gen_random_model: bench/gen_random_model.c $(BUILD)/libslm.a
	$(CC) $(CFLAGS_ALL) -o $@ $< $(BUILD)/libslm.a $(LDLIBS_ALL)
bench: cli $(BUILD)/gen_random_model
	SLM=$(BUILD)/slm GEN=$(BUILD)/gen_random_model BENCH_DIR=$(BUILD)/bench bash bench/compare.sh

MODEL ?= models/stories-slm.gguf
PROMPT ?= Once upon a time
run: deps
	$(MAKE) cli
	./$(BUILD)/slm run -m $(MODEL) -p "$(PROMPT)" -n 200 --temp 0.8 --seed 42

# The server's load test at full length: LOAD_STREAMS concurrent streaming
# requests for LOAD_SECONDS (the suite runs a short version of it).
LOAD_SECONDS ?= 60
LOAD_STREAMS ?= 4
loadtest: tests oracles
	SLM_BIN=$(BUILD)/slm SLM_TEST_TMP=$(BUILD)/tmp SLM_LOAD_SECONDS=$(LOAD_SECONDS) SLM_LOAD_STREAMS=$(LOAD_STREAMS) SLM_LOAD_MIN_SPEEDUP=2.5 \
	  ./$(BUILD)/slm-tests serve_load

# The bundled default model, trained from data/tinystories by slm alone
# (about 10 minutes on 2 cores; rerun to continue an interrupted run).
default-model: cli
	SLM=./$(BUILD)/slm sh scripts/train_default_model.sh

FUZZ_SECONDS ?= 600
FUZZ ?= gguf
FUZZ_SAN = -fsanitize=address,undefined -fno-omit-frame-pointer
fuzz:
	$(MAKE) BUILD=build-fuzz CC=clang OPT=-O1 EXTRA_CFLAGS="$(FUZZ_SAN) -fsanitize=fuzzer-no-link" \
	  EXTRA_LDFLAGS="$(FUZZ_SAN)" build-fuzz/libslm.a
	clang -std=c11 -D_GNU_SOURCE -g -O1 $(FUZZ_SAN) -fsanitize=fuzzer $(INC) fuzz/fuzz_$(FUZZ).c \
	  build-fuzz/libslm.a -o build-fuzz/fuzz_$(FUZZ) $(PKG_LIBS) -lm -pthread
	@mkdir -p build-fuzz/corpus-$(FUZZ)
	./build-fuzz/fuzz_$(FUZZ) -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -timeout=10 build-fuzz/corpus-$(FUZZ) fuzz/corpus/$(FUZZ)

fuzz-json:
	$(MAKE) BUILD=build-fuzz CC=clang OPT=-O1 EXTRA_CFLAGS="$(FUZZ_SAN) -fsanitize=fuzzer-no-link" \
	  EXTRA_LDFLAGS="$(FUZZ_SAN)" build-fuzz/libslm.a
	clang -std=c11 -D_GNU_SOURCE -g -O1 $(FUZZ_SAN) -fsanitize=fuzzer $(INC) fuzz/fuzz_tokenizer_json.c \
	  build-fuzz/libslm.a -o build-fuzz/fuzz_tokenizer_json $(PKG_LIBS) -lm -pthread
	@mkdir -p build-fuzz/corpus-json
	./build-fuzz/fuzz_tokenizer_json -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -timeout=10 -dict=fuzz/json.dict \
	  build-fuzz/corpus-json fuzz/corpus/tokenizer_json

clean:
	rm -rf build build-asan build-fuzz build-arm

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(ARM_OBJ:.o=.d)
