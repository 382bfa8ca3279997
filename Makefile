# Makefile — the one build system of slm.
#
#   make              library (static + shared) and the slm CLI, in build/
#   make test         build and run the test suite (normal build)
#   make test-asan    the same suite under AddressSanitizer + UBSan (build-asan/)
#   make check        install missing packages, then test + test-asan (the README's test command)
#   make run          install missing packages, build, and generate a story with the bundled model
#   make fuzz         libFuzzer targets (clang), run with FUZZ_SECONDS (default 600)
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
PKG_LIBS   := $(shell pkg-config --libs libpcre2-8 2>/dev/null || echo -lpcre2-8)
CFLAGS_ALL = $(CSTD) $(OPT) -g $(WARN) $(DEPFLAGS) $(INC) $(PKG_CFLAGS) -fPIC -pthread $(EXTRA_CFLAGS)
LDLIBS_ALL = $(PKG_LIBS) -lm -pthread $(EXTRA_LDFLAGS)

LIB_SRC   := $(shell find src -name '*.c' | sort)
CLI_SRC   := $(sort $(wildcard tools/slm/*.c))
TEST_SRC  := $(sort $(wildcard tests/*.c))

LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ   := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TEST_OBJ  := $(TEST_SRC:%.c=$(BUILD)/obj/%.o)

# Per-ISA kernel files get their own flags (run-time dispatch picks them).
$(BUILD)/obj/src/kernels/x86/%_avx2.o:   ISA_FLAGS = -mavx2 -mfma -mf16c
$(BUILD)/obj/src/kernels/x86/%_avx512.o: ISA_FLAGS = -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx2 -mfma -mf16c

.PHONY: all lib cli tests test test-asan check run deps fuzz clean
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
	$(CC) $(CFLAGS_ALL) -o $@ $(CLI_OBJ) $(BUILD)/libslm.a $(LDLIBS_ALL)

$(BUILD)/slm-tests: $(TEST_OBJ) $(BUILD)/libslm.a
	$(CC) $(CFLAGS_ALL) -o $@ $(TEST_OBJ) $(BUILD)/libslm.a $(LDLIBS_ALL)

test: tests
	SLM_BIN=$(BUILD)/slm SLM_TEST_TMP=$(BUILD)/tmp ./$(BUILD)/slm-tests $(T)

ASAN_FLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
test-asan:
	$(MAKE) BUILD=build-asan OPT=-O1 EXTRA_CFLAGS="$(ASAN_FLAGS)" EXTRA_LDFLAGS="$(ASAN_FLAGS)" test

deps:
	@bash scripts/install-deps.sh

check: deps
	$(MAKE) SLM_WERROR=1 test
	$(MAKE) SLM_WERROR=1 test-asan

MODEL ?= models/stories-1m.gguf
PROMPT ?= Once upon a time
run: deps
	$(MAKE) cli
	./$(BUILD)/slm run -m $(MODEL) -p "$(PROMPT)" -n 200 --temp 0.8 --seed 42

FUZZ_SECONDS ?= 600
fuzz:
	@mkdir -p build-fuzz
	clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined $(INC) \
	  fuzz/fuzz_gguf.c $(filter-out %/main.c,$(LIB_SRC)) -o build-fuzz/fuzz_gguf $(PKG_LIBS) -lm -pthread
	./build-fuzz/fuzz_gguf -max_total_time=$(FUZZ_SECONDS) -max_len=65536 fuzz/corpus/gguf

clean:
	rm -rf build build-asan build-fuzz

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_OBJ:.o=.d)
