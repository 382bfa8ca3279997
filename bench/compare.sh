#!/usr/bin/env bash
# compare.sh — the benchmark recipe (`make bench`): random-weight GGUF models
# of real shapes, written by slm's own writer and quantizers
# (bench/gen_random_model.c), run through `slm bench` and, when it is there,
# llama.cpp's llama-bench, on the SAME files with the same thread count.
#
#   bench/compare.sh [options]
#     SLM=build/slm GEN=build/gen_random_model  the two slm binaries (make bench builds them)
#     BENCH_DIR=build/bench     where the models are written (kept: reruns reuse them)
#     SHAPES="smollm2-135m qwen2.5-0.5b llama3.2-1b"   TYPES="F16 Q8_0 Q4_0 Q4_K_M"
#     THREADS=2  P=512  N=128  ROUNDS=3
#     LLAMA_BENCH=/path/to/llama-bench   (default: llama-bench on PATH, if any)
#     SLM_ARGS="--kv-type f16"           extra `slm bench` options (f16: llama-bench's default cache)
#
# The machine this runs on is often shared, so the two tools are interleaved:
# ROUNDS rounds, each running every model once with each tool (-r 1, after
# the tools' own warm-up), and the table gives the median of the rounds for
# prompt processing (ppP) and generation (tgN), the ratio slm / llama.cpp,
# slm's generation GB/s and share of the measured read bandwidth, and the
# peak RSS of one run of each tool (llama-bench's from /usr/bin/time, when
# installed; it includes both tests of the run). Nothing of llama.cpp is
# built or downloaded here: point LLAMA_BENCH at a build you made.
set -euo pipefail

SLM=${SLM:-build/slm}
GEN=${GEN:-build/gen_random_model}
BENCH_DIR=${BENCH_DIR:-build/bench}
SHAPES=${SHAPES:-"smollm2-135m qwen2.5-0.5b llama3.2-1b"}
TYPES=${TYPES:-"F16 Q8_0 Q4_0 Q4_K_M"}
THREADS=${THREADS:-2}
P=${P:-512}
N=${N:-128}
ROUNDS=${ROUNDS:-3}
SLM_ARGS=${SLM_ARGS:-"--kv-type f16"}
LLAMA_BENCH=${LLAMA_BENCH:-$(command -v llama-bench || true)}
TIME=$(command -v /usr/bin/time || true)

mkdir -p "$BENCH_DIR"
for s in $SHAPES; do
  for t in $TYPES; do
    f="$BENCH_DIR/$s-$t.gguf"
    [ -s "$f" ] || "$GEN" "$s" "$t" "$f"
  done
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# median of the numbers on stdin
median() { sort -g | awk '{v[NR] = $1} END {if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
# the avg_ts of the prompt (key n_prompt > 0) and generation (n_gen > 0) objects of a JSON output
ts_of() { tr -d '\n' < "$1" | sed 's/},/}\n/g' | grep "\"$2\": *[1-9]" | sed 's/.*"avg_ts": *\([0-9.e+-]*\).*/\1/' | head -1; }
field() { tr -d '\n' < "$1" | sed 's/},/}\n/g' | grep "\"n_gen\": *[1-9]" | sed "s/.*\"$2\": *\\([0-9.e+-]*\\).*/\\1/" | head -1; }

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores;" \
     "threads $THREADS; pp$P / tg$N; $ROUNDS interleaved rounds; slm options: $SLM_ARGS" >&2
for r in $(seq 1 "$ROUNDS"); do
  for s in $SHAPES; do
    for t in $TYPES; do
      f="$BENCH_DIR/$s-$t.gguf"
      k="$s-$t"
      # shellcheck disable=SC2086
      "$SLM" bench -m "$f" -p "$P" -n "$N" -r 1 -t "$THREADS" --json $SLM_ARGS > "$tmp/slm.json"
      ts_of "$tmp/slm.json" n_prompt >> "$tmp/$k.slm.pp"
      ts_of "$tmp/slm.json" n_gen >> "$tmp/$k.slm.tg"
      field "$tmp/slm.json" gen_gb_per_s >> "$tmp/$k.slm.gbs"
      field "$tmp/slm.json" membw_gb_per_s >> "$tmp/$k.slm.bw"
      field "$tmp/slm.json" peak_rss_bytes >> "$tmp/$k.slm.rss"
      if [ -n "$LLAMA_BENCH" ]; then
        if [ -n "$TIME" ]; then
          "$TIME" -f "%M" -o "$tmp/llama.rss" "$LLAMA_BENCH" -m "$f" -p "$P" -n "$N" -r 1 -t "$THREADS" -o json \
            > "$tmp/llama.json" 2> /dev/null
          echo $(( $(tail -1 "$tmp/llama.rss") * 1024 )) >> "$tmp/$k.llama.rss"
        else
          "$LLAMA_BENCH" -m "$f" -p "$P" -n "$N" -r 1 -t "$THREADS" -o json > "$tmp/llama.json" 2> /dev/null
        fi
        ts_of "$tmp/llama.json" n_prompt >> "$tmp/$k.llama.pp"
        ts_of "$tmp/llama.json" n_gen >> "$tmp/$k.llama.tg"
      fi
      echo "round $r: $k done" >&2
    done
  done
done

printf '| model | type | slm pp%s | llama.cpp pp%s | ratio | slm tg%s | llama.cpp tg%s | ratio | slm GB/s (share of bw) | slm RSS MiB | llama.cpp RSS MiB |\n' "$P" "$P" "$N" "$N"
printf '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n'
for s in $SHAPES; do
  for t in $TYPES; do
    k="$s-$t"
    spp=$(median < "$tmp/$k.slm.pp"); stg=$(median < "$tmp/$k.slm.tg")
    gbs=$(median < "$tmp/$k.slm.gbs"); bw=$(median < "$tmp/$k.slm.bw")
    srss=$(median < "$tmp/$k.slm.rss")
    lpp=nan; ltg=nan; lrss=nan
    if [ -n "$LLAMA_BENCH" ]; then
      lpp=$(median < "$tmp/$k.llama.pp"); ltg=$(median < "$tmp/$k.llama.tg")
      [ -s "$tmp/$k.llama.rss" ] && lrss=$(median < "$tmp/$k.llama.rss")
    fi
    awk -v s="$s" -v t="$t" -v spp="$spp" -v lpp="$lpp" -v stg="$stg" -v ltg="$ltg" -v gbs="$gbs" -v bw="$bw" \
        -v srss="$srss" -v lrss="$lrss" 'function r(a, b) { return (b + 0 > 0) ? sprintf("%.2f", a / b) : "-" }
      function mib(x) { return (x + 0 > 0) ? sprintf("%.0f", x / 1048576) : "-" }
      BEGIN { printf "| %s | %s | %.1f | %s | %s | %.1f | %s | %s | %.1f (%.0f%%) | %s | %s |\n", s, t, spp,
              (lpp + 0 > 0) ? sprintf("%.1f", lpp) : "-", r(spp, lpp), stg, (ltg + 0 > 0) ? sprintf("%.1f", ltg) : "-",
              r(stg, ltg), gbs, (bw + 0 > 0) ? 100 * gbs / bw : 0, mib(srss), mib(lrss) }'
  done
done
