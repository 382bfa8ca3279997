#!/bin/sh
# bench/finetune_bench.sh — `slm finetune` (LoRA) tokens/s through frozen
# bases of several tensor types, side by side in one run, and the time of
# one LoRA epoch over tiny-shakespeare (1.1 MB) on the bundled default model.
# Not part of the test suite.
#
# The large shape is SmolLM2-135M's (30 layers, 576 wide, 9 heads, 3 KV
# heads, FFN 1536) with the bundled model's 1024-token vocabulary (so that
# text can be tokenized), random weights written by `slm train --steps 1`
# and converted with `slm quantize --pure`. Each type runs STEPS steps of
# batch 4 x seq 256 (LoRA rank 8 on q,k,v,o,gate,up,down), ROUNDS rounds
# interleaved; the table gives the median tokens/s of the rounds (the
# first step of a run, which pays for page faults, is left out).
#
#   sh bench/finetune_bench.sh [threads (2)] [steps (6)] [rounds (3)]
# Environment: SLM (build/slm), TEXT (../shared/data/tinyshakespeare/input.txt,
# else tests/data/finetune/shakespeare_train.txt), TMP (build/bench-finetune),
# TYPES ("F32 F16 Q8_0 Q4_0 Q4_K_M"), EPOCH=0 skips the epoch run.
set -eu
SLM=${SLM:-build/slm}
TEXT=${TEXT:-../shared/data/tinyshakespeare/input.txt}
[ -f "$TEXT" ] || TEXT=tests/data/finetune/shakespeare_train.txt
TMP=${TMP:-build/bench-finetune}
TYPES=${TYPES:-"F32 F16 Q8_0 Q4_0 Q4_K_M"}
THREADS=${1:-2}
STEPS=${2:-6}
ROUNDS=${3:-3}
EPOCH=${EPOCH:-1}
mkdir -p "$TMP"

# the base: SmolLM2-135M's shape, random weights, bundled tokenizer
if [ ! -f "$TMP/base-F32.gguf" ]; then
    $SLM data prepare --tokenizer models/stories-slm.gguf tests/data/finetune/shakespeare_train.txt \
        -o "$TMP/data" >/dev/null 2>&1
    rm -rf "$TMP/init"
    $SLM train --data "$TMP/data" --out "$TMP/init" --dim 576 --n-layers 30 --n-heads 9 --n-kv-heads 3 \
        --hidden 1536 --seq 64 --batch 1 --steps 1 --eval-every 0 -t "$THREADS" >/dev/null 2>&1
    mv "$TMP/init/model.gguf" "$TMP/base-F32.gguf"
fi
for t in $TYPES; do
    [ "$t" = F32 ] || [ -f "$TMP/base-$t.gguf" ] || $SLM quantize "$TMP/base-F32.gguf" "$TMP/base-$t.gguf" "$t" --pure >/dev/null
done

median() { sort -g | awk '{v[NR] = $1} END {if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; threads $THREADS;" \
     "$STEPS steps of 4 x 256 tokens, $ROUNDS interleaved rounds; load $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq 1 "$ROUNDS"); do
    for t in $TYPES; do
        rm -rf "$TMP/run-$t.run" "$TMP/run-$t.gguf"
        $SLM finetune -m "$TMP/base-$t.gguf" -d "$TEXT" -o "$TMP/run-$t.gguf" --batch 4 --seq 256 \
            --steps "$STEPS" --eval-every 0 -t "$THREADS" >/dev/null 2>&1
        # tokens/s of the steps after the first
        awk -F, 'NR > 2 && $2 != "" {s += $5; n++} END {printf "%.1f\n", s / n}' "$TMP/run-$t.run/train.csv" \
            >> "$TMP/tps-$t.$r"
    done
done
f32=""
printf "%-8s %12s %10s\n" type "tokens/s" "vs F32"
for t in $TYPES; do
    m=$(cat "$TMP"/tps-"$t".* | median)
    rm -f "$TMP"/tps-"$t".*
    [ "$t" = F32 ] && f32=$m
    printf "%-8s %12s %10s\n" "$t" "$m" "$(awk -v a="$m" -v b="${f32:-$m}" 'BEGIN {printf "%.2f", a / b}')"
done

if [ "$EPOCH" != 0 ]; then
    rm -rf "$TMP/epoch.run" "$TMP/epoch.gguf"
    start=$(date +%s)
    $SLM finetune -m models/stories-slm.gguf -d "$TEXT" -o "$TMP/epoch.gguf" --epochs 1 --eval-every 100 \
        -t "$THREADS" 2>&1 | grep -E "examples:|done:"
    echo "one LoRA epoch over $(wc -c < "$TEXT") bytes on the bundled model: $(( $(date +%s) - start )) s"
fi
