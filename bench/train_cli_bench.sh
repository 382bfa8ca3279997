#!/bin/sh
# bench/train_cli_bench.sh — tokens/s and GFLOP/s of `slm train` itself
# (data loading, forward, backward, clipping, AdamW, logging) on two shapes,
# a few steps each, on real tokens (TinyStories, tests' 512-token
# SentencePiece vocabulary, the classifier padded to the shape's vocabulary
# with --vocab). Not part of the test suite. GFLOP/s counts 6 P + 12 L T d
# FLOPs per token (P = matrix parameters, the classifier's included).
#
#   stories15M:   dim 288, 6 layers, 6 heads, hidden 768, vocab 32000, seq 256, batch 8
#   GPT-2 124M:   dim 768, 12 layers, 12 heads, hidden 2048, vocab 50304, seq 64, batch 4
#                 (a llama of GPT-2 small's size; llm.c's CPU trainer defaults to B 4, T 64)
#
#   sh bench/train_cli_bench.sh [threads (2)] [steps (5)]
# Environment: SLM (build/slm), TEXT (data/tinystories/train.txt), TMP (build/bench-train).
set -eu
SLM=${SLM:-build/slm}
TEXT=${TEXT:-data/tinystories/train.txt}
TMP=${TMP:-build/bench-train}
THREADS=${1:-2}
STEPS=${2:-5}
mkdir -p "$TMP"
if [ ! -f "$TMP/data/prepare.txt" ]; then
    $SLM data prepare --tokenizer tests/data/trained/model.gguf "$TEXT" -o "$TMP/data" >/dev/null 2>&1
fi
run() {
    name=$1
    shift
    rm -rf "$TMP/$name"
    # the first step warms up (page faults, packing buffers): the summary
    # averages every step, train.csv has each one
    $SLM train --data "$TMP/data" --out "$TMP/$name" --steps "$STEPS" --eval-every 0 --export-type F32 \
        -t "$THREADS" "$@" 2>&1 | grep -E '^slm: (model|done)'
    echo "  per step (tokens/s): $(tail -n +3 "$TMP/$name/train.csv" | cut -d, -f5 | tr '\n' ' ')"
}
echo "== stories15M shape, $THREADS threads (load average: $(cut -d' ' -f1-3 /proc/loadavg))"
run stories15m --vocab 32000 --dim 288 --n-layers 6 --n-heads 6 --batch 8 --seq 256
echo "== GPT-2 124M-sized llama, $THREADS threads (load average: $(cut -d' ' -f1-3 /proc/loadavg))"
run gpt2-124m --vocab 50304 --dim 768 --n-layers 12 --n-heads 12 --batch 4 --seq 64
