#!/bin/sh
# scripts/train_default_model.sh — trains slm's bundled default model from
# the TinyStories text in data/ with slm alone (`make default-model`):
#   1. a byte-level BPE vocabulary of 1024 tokens (slm tokenizer train),
#      <|endoftext|> its document separator;
#   2. token shards, 5 % of the stories held out for validation (slm data prepare);
#   3. training with scripts/default_model.conf (slm train), resumable: run
#      it again after an interruption and it continues the checkpoint;
#   4. the model, $DEST, and greedy samples.
# Every step is deterministic: the same slm, thread count and CPU kernels
# give the same model.
#
# Environment: SLM (default build/slm), OUT (build/default-model), DEST
# (models/stories-slm.gguf), THREADS (0: all cores), EXPORT_TYPE (F32),
# EXTRA (more `slm train` flags; they override the config, e.g. for a smoke
# test: EXTRA="--steps 4").
set -eu
SLM=${SLM:-build/slm}
OUT=${OUT:-build/default-model}
DEST=${DEST:-models/stories-slm.gguf}
THREADS=${THREADS:-0}
EXPORT_TYPE=${EXPORT_TYPE:-F32}
EXTRA=${EXTRA:-}
TEXT=data/tinystories/train.txt

mkdir -p "$OUT"
if [ ! -f "$OUT/tokenizer.gguf" ]; then
    $SLM tokenizer train --vocab-size 1024 --special '<|endoftext|>' "$TEXT" -o "$OUT/tokenizer.gguf"
fi
if [ ! -f "$OUT/data/prepare.txt" ]; then
    $SLM data prepare --tokenizer "$OUT/tokenizer.gguf" "$TEXT" -o "$OUT/data" --val-fraction 0.05 --seed 1337 -t "$THREADS"
fi
RESUME=
if [ -f "$OUT/run/checkpoint.gguf" ]; then RESUME=--resume; fi
$SLM train --config scripts/default_model.conf --data "$OUT/data" --out "$OUT/run" --export-type "$EXPORT_TYPE" \
    -t "$THREADS" $RESUME $EXTRA
cp "$OUT/run/model.gguf" "$DEST"
echo "slm: wrote $DEST ($(wc -c <"$DEST") bytes)"
for prompt in "Once upon a time" "Tom and Lily went to the park." "The little dog"; do
    echo "--- $prompt"
    $SLM run -m "$DEST" -p "$prompt" -n 200 --temp 0 --no-stats
done
