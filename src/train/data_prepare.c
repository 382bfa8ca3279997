/*
 * data_prepare.c — slm_data_prepare: a corpus to token shards (see slm.h).
 *
 * The pipeline: read every document (docs.c), run the filters
 * (quality.c), drop exact duplicates among the rest, choose the validation
 * documents (a seeded partial Fisher-Yates shuffle of the kept ones, so the
 * count is exact), then tokenize in chunks of documents on the thread pool
 * and append each chunk, in corpus order, to the train or val shard.
 * Documents are never split across shards. Memory: the corpus (mapped or
 * parsed) plus one chunk of tokens.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/error.h"
#include "base/rng.h"
#include "base/threadpool.h"
#include "formats/gguf.h"
#include "tokenizer/vocab.h"
#include "train/docs.h"
#include "train/quality.h"
#include "train/tokfile.h"

#define CHUNK_DOCS 4096

slm_data_params slm_data_default_params(void) {
    slm_data_params p = {
        .jsonl_field = "text",
        .val_fraction = 0.05,
        .seed = 1337,
        .shard_tokens = 100000000,
        .dedup = true,
        .min_chars = 1,
        .max_symbol_ratio = 0.3,
        .max_dup_line_ratio = 0.3,
        .max_dup_ngram_ratio = 0.3,
        .ngram = 5,
    };
    return p;
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static slm_status check_params(const slm_data_params *p) {
    if (!p->tokenizer || !*p->tokenizer)
        return slm_err(SLM_ERR_ARG, "data prepare: a tokenizer is required (--tokenizer)");
    if (!p->out_dir || !*p->out_dir) return slm_err(SLM_ERR_ARG, "data prepare: an output directory is required (-o)");
    if (p->n_inputs <= 0 || !p->inputs) return slm_err(SLM_ERR_ARG, "data prepare: no input files");
    if (!(p->val_fraction >= 0.0 && p->val_fraction < 1.0))
        return slm_err(SLM_ERR_ARG, "data prepare: --val-fraction %g must be in [0, 1)", p->val_fraction);
    if (p->token_bytes != 0 && p->token_bytes != 2 && p->token_bytes != 4)
        return slm_err(SLM_ERR_ARG, "data prepare: --token-bytes %d must be 2 or 4", (int)p->token_bytes);
    if (p->shard_tokens < 1) return slm_err(SLM_ERR_ARG, "data prepare: --shard-tokens must be positive");
    if (p->min_chars < 0 || p->max_chars < 0 || (p->max_chars > 0 && p->max_chars < p->min_chars))
        return slm_err(SLM_ERR_ARG, "data prepare: --min-chars %d / --max-chars %d", (int)p->min_chars,
                       (int)p->max_chars);
    double r[3] = {p->max_symbol_ratio, p->max_dup_line_ratio, p->max_dup_ngram_ratio};
    for (int i = 0; i < 3; i++)
        if (!(r[i] >= 0.0) || isinf(r[i])) return slm_err(SLM_ERR_ARG, "data prepare: filter ratios must be >= 0");
    if (p->ngram < 1 || p->ngram > 64)
        return slm_err(SLM_ERR_ARG, "data prepare: --ngram %d must be in [1, 64]", (int)p->ngram);
    return SLM_OK;
}

/* ======================================================================== */
/* Tokenizing a chunk of documents on the pool                               */
/* ======================================================================== */

typedef struct {
    const slm_vocab *vocab;
    const slm_doc *docs;
    const int64_t *idx;  /* (n) document indices of this chunk */
    int64_t n;
    int32_t **toks;      /* (n) each document's tokens (malloc'd) */
    int64_t *n_toks;     /* (n) */
    int64_t next;        /* work counter */
    int failed;          /* a tokenize call failed */
} tok_job;

static void tokenize_worker(void *arg, int ith, int nth) {
    (void)ith, (void)nth;
    tok_job *j = arg;
    for (;;) {
        int64_t i = __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED);
        if (i >= j->n) break;
        const slm_doc *d = &j->docs[j->idx[i]];
        int64_t cap = (int64_t)d->len + 8;
        int32_t *t = malloc((size_t)cap * sizeof *t);
        int64_t n = t ? slm_vocab_tokenize(j->vocab, d->text, d->len, false, false, t, cap) : -1;
        if (n > cap) { /* cannot happen with byte fallback; kept for vocabularies without it */
            int32_t *t2 = realloc(t, (size_t)n * sizeof *t);
            if (t2) t = t2;
            n = t2 ? slm_vocab_tokenize(j->vocab, d->text, d->len, false, false, t, n) : -1;
        }
        if (n < 0) __atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED);
        j->toks[i] = t;
        j->n_toks[i] = n < 0 ? 0 : n;
    }
}

/* ======================================================================== */
/* Output                                                                    */
/* ======================================================================== */

typedef struct {
    const char *dir, *prefix; /* "train" / "val" */
    int token_bytes;
    int32_t vocab, bos, eos;
    int64_t shard_tokens;
    slm_tokwriter w;
    bool open;
    int n_shards;
    int64_t n_tokens, n_docs;
} shard_out;

static slm_status shard_path(const shard_out *o, int i, char *buf, size_t cap) {
    if ((size_t)snprintf(buf, cap, "%s/%s_%03d.bin", o->dir, o->prefix, i) >= cap)
        return slm_err(SLM_ERR_ARG, "%s: path too long", o->dir);
    return SLM_OK;
}

static slm_status shard_put_doc(shard_out *o, const int32_t *toks, int64_t n) {
    int64_t total = n + (o->bos >= 0) + (o->eos >= 0 && o->eos != o->bos);
    if (o->open && o->w.n_tokens > 0 && o->w.n_tokens + total > o->shard_tokens) {
        o->open = false;
        slm_status st = slm_tokwriter_close(&o->w);
        if (st != SLM_OK) return st;
    }
    if (!o->open) {
        char path[4096];
        slm_status st = shard_path(o, o->n_shards, path, sizeof path);
        if (st == SLM_OK) st = slm_tokwriter_open(&o->w, path, o->token_bytes, o->vocab, o->bos, o->eos);
        if (st != SLM_OK) return st;
        o->open = true;
        o->n_shards++;
    }
    if (o->bos >= 0) slm_tokwriter_put(&o->w, &o->bos, 1);
    slm_tokwriter_put(&o->w, toks, n);
    if (o->eos >= 0 && o->eos != o->bos) slm_tokwriter_put(&o->w, &o->eos, 1);
    o->w.n_docs++;
    o->n_docs++;
    o->n_tokens += total;
    return SLM_OK;
}

static slm_status shard_finish(shard_out *o) {
    if (!o->open) return SLM_OK;
    o->open = false;
    return slm_tokwriter_close(&o->w);
}

/* Removes PREFIX_NNN.bin files an earlier, larger run left behind. */
static void remove_stale(const shard_out *o) {
    char path[4096];
    for (int i = o->n_shards;; i++) {
        if (shard_path(o, i, path, sizeof path) != SLM_OK || unlink(path) != 0) break;
    }
}

/* DIR/tokenizer.gguf: every key of the tokenizer file, no tensors. */
static slm_status write_tokenizer(const gguf_file *g, const char *dir) {
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/tokenizer.gguf", dir) >= sizeof path)
        return slm_err(SLM_ERR_ARG, "%s: path too long", dir);
    gguf_writer *w = gguf_writer_new();
    if (!w) return slm_err(SLM_ERR_NOMEM, "%s: out of memory", __func__);
    for (uint64_t i = 0; i < g->n_kv; i++) gguf_writer_set_value(w, g->kv[i].key, &g->kv[i].value);
    slm_status st = gguf_writer_write(w, path);
    gguf_writer_free(w);
    return st;
}

static const char *const g_reason[] = {"kept", "empty", "too short", "too long", "symbols", "repeated lines",
                                       "repeated n-grams", "duplicate"};

static slm_status write_report(const slm_data_params *p, const slm_data_stats *s, const char *dir, int n_sep) {
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/prepare.txt", dir) >= sizeof path)
        return slm_err(SLM_ERR_ARG, "%s: path too long", dir);
    FILE *f = fopen(path, "w");
    if (!f) return slm_err(SLM_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    int64_t kept = s->n_docs_train + s->n_docs_val, tokens = s->n_tokens_train + s->n_tokens_val;
    fprintf(f, "documents read      %lld\n", (long long)s->n_docs_read);
    const int64_t dropped[] = {0, s->n_dropped_empty, s->n_dropped_short, s->n_dropped_long, s->n_dropped_symbols,
                               s->n_dropped_dup_lines, s->n_dropped_dup_ngrams, s->n_dropped_duplicate};
    for (int i = 1; i < 8; i++)
        fprintf(f, "dropped %-16s %lld\n", g_reason[i], (long long)dropped[i]);
    fprintf(f, "documents kept      %lld (train %lld, val %lld)\n", (long long)kept, (long long)s->n_docs_train,
            (long long)s->n_docs_val);
    fprintf(f, "tokens              %lld (train %lld in %d shard%s, val %lld in %d shard%s)\n", (long long)tokens,
            (long long)s->n_tokens_train, s->n_shards_train, s->n_shards_train == 1 ? "" : "s",
            (long long)s->n_tokens_val, s->n_shards_val, s->n_shards_val == 1 ? "" : "s");
    fprintf(f, "bytes of text       %llu\n", (unsigned long long)s->n_bytes_kept);
    int64_t text_tokens = tokens - kept * n_sep;
    fprintf(f, "bytes per token     %.3f (separator tokens not counted)\n",
            text_tokens > 0 ? (double)s->n_bytes_kept / (double)text_tokens : 0.0);
    fprintf(f, "vocabulary          %d tokens, stored as uint%d\n", (int)s->vocab_size, 8 * s->token_bytes);
    fprintf(f, "filters             min-chars %d, max-chars %d, max-symbol-ratio %g, max-dup-line-ratio %g, "
               "max-dup-ngram-ratio %g (n = %d), dedup %s\n",
            (int)p->min_chars, (int)p->max_chars, p->max_symbol_ratio, p->max_dup_line_ratio, p->max_dup_ngram_ratio,
            (int)p->ngram, p->dedup ? "on" : "off");
    bool ok = !ferror(f);
    if (fclose(f) != 0) ok = false;
    return ok ? SLM_OK : slm_err(SLM_ERR_IO, "%s: write failed", path);
}

/* ======================================================================== */
/* The pipeline                                                              */
/* ======================================================================== */

slm_status slm_data_prepare(const slm_data_params *params, slm_data_stats *stats) {
    const double t0 = now_s();
    slm_data_stats s = {0};
    slm_status st = check_params(params);
    if (st != SLM_OK) return st;
    const slm_data_params *p = params;

    gguf_file *g = NULL;
    slm_vocab *vocab = NULL;
    slm_doc_set set = {0};
    uint8_t *verdict = NULL, *is_val = NULL;
    int64_t *kept = NULL, *chunk_idx = NULL, *chunk_n = NULL;
    int32_t **chunk_toks = NULL;
    slm_pool *pool = NULL;
    shard_out tr = {0}, va = {0};

    /* ---- tokenizer --------------------------------------------------------- */
    st = gguf_open(p->tokenizer, &g);
    if (st == SLM_OK) st = slm_vocab_load_gguf(g, &vocab);
    if (st != SLM_OK) goto done;
    s.vocab_size = slm_vocab_n_tokens(vocab);
    int32_t bos = slm_vocab_bos(vocab), eos = slm_vocab_eos(vocab);
    if (bos < 0 && eos < 0) {
        st = slm_err(SLM_ERR_ARG, "%s: the vocabulary has neither BOS nor EOS to separate documents with",
                     p->tokenizer);
        goto done;
    }
    s.token_bytes = p->token_bytes ? p->token_bytes : (s.vocab_size <= 65536 ? 2 : 4);
    if (s.token_bytes == 2 && s.vocab_size > 65536) {
        st = slm_err(SLM_ERR_ARG, "%s: a vocabulary of %d tokens does not fit uint16 tokens (use --token-bytes 4)",
                     p->tokenizer, (int)s.vocab_size);
        goto done;
    }

    /* ---- documents and filters ------------------------------------------- */
    for (int i = 0; i < p->n_inputs; i++) {
        st = slm_docs_read(&set, p->inputs[i], p->jsonl_field, p->blank_line_docs);
        if (st != SLM_OK) goto done;
    }
    s.n_docs_read = set.n;
    if (set.n == 0) {
        st = slm_err(SLM_ERR_ARG, "data prepare: no documents in the input%s (empty corpus)",
                     p->n_inputs > 1 ? "s" : "");
        goto done;
    }
    verdict = calloc((size_t)set.n, 1);
    is_val = calloc((size_t)set.n, 1);
    kept = malloc((size_t)set.n * sizeof *kept);
    if (!verdict || !is_val || !kept) goto nomem;
    slm_quality_scratch qs = {0};
    for (int64_t i = 0; i < set.n; i++) verdict[i] = (uint8_t)slm_doc_check(p, set.docs[i].text, set.docs[i].len, &qs);
    slm_quality_scratch_free(&qs);
    if (p->dedup) {
        slm_dedup dd;
        st = slm_dedup_init(&dd, set.docs, set.n);
        if (st != SLM_OK) goto done;
        for (int64_t i = 0; i < set.n; i++)
            if (verdict[i] == SLM_DOC_KEEP && slm_dedup_seen(&dd, i)) verdict[i] = SLM_DOC_DUPLICATE;
        slm_dedup_free(&dd);
    }
    int64_t n_kept = 0, count[8] = {0};
    for (int64_t i = 0; i < set.n; i++) {
        count[verdict[i]]++;
        if (verdict[i] == SLM_DOC_KEEP) kept[n_kept++] = i;
    }
    s.n_dropped_empty = count[SLM_DOC_EMPTY];
    s.n_dropped_short = count[SLM_DOC_SHORT];
    s.n_dropped_long = count[SLM_DOC_LONG];
    s.n_dropped_symbols = count[SLM_DOC_SYMBOLS];
    s.n_dropped_dup_lines = count[SLM_DOC_DUP_LINES];
    s.n_dropped_dup_ngrams = count[SLM_DOC_DUP_NGRAMS];
    s.n_dropped_duplicate = count[SLM_DOC_DUPLICATE];
    if (n_kept == 0) {
        st = slm_err(SLM_ERR_ARG,
                     "data prepare: all %lld documents were dropped (empty %lld, short %lld, long %lld, symbols %lld, "
                     "repeated lines %lld, repeated n-grams %lld, duplicate %lld)",
                     (long long)set.n, (long long)count[1], (long long)count[2], (long long)count[3],
                     (long long)count[4], (long long)count[5], (long long)count[6], (long long)count[7]);
        goto done;
    }

    /* ---- split: exactly round(n_kept * val_fraction) validation documents --- */
    int64_t n_val = (int64_t)llround((double)n_kept * p->val_fraction);
    if (p->val_fraction > 0 && n_val == 0 && n_kept >= 2) n_val = 1;
    if (n_val >= n_kept) n_val = n_kept - 1;
    {
        int64_t *perm = malloc((size_t)n_kept * sizeof *perm);
        if (!perm) goto nomem;
        memcpy(perm, kept, (size_t)n_kept * sizeof *perm);
        slm_rng rng;
        slm_rng_seed(&rng, p->seed);
        for (int64_t i = 0; i < n_val; i++) {
            int64_t j = i + (int64_t)slm_rng_below(&rng, (uint64_t)(n_kept - i));
            int64_t t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
            is_val[perm[i]] = 1;
        }
        free(perm);
    }

    /* ---- tokenize and write ------------------------------------------------ */
    if (mkdir(p->out_dir, 0777) != 0 && errno != EEXIST) {
        st = slm_err(SLM_ERR_IO, "%s: cannot create the directory: %s", p->out_dir, strerror(errno));
        goto done;
    }
    pool = slm_pool_new(p->n_threads);
    chunk_idx = malloc(CHUNK_DOCS * sizeof *chunk_idx);
    chunk_n = malloc(CHUNK_DOCS * sizeof *chunk_n);
    chunk_toks = calloc(CHUNK_DOCS, sizeof *chunk_toks);
    if (!pool || !chunk_idx || !chunk_n || !chunk_toks) goto nomem;
    tr = (shard_out){.dir = p->out_dir, .prefix = "train", .token_bytes = s.token_bytes, .vocab = s.vocab_size,
                     .bos = bos, .eos = eos, .shard_tokens = p->shard_tokens};
    va = tr;
    va.prefix = "val";
    for (int64_t c0 = 0; c0 < n_kept && st == SLM_OK; c0 += CHUNK_DOCS) {
        int64_t n = n_kept - c0 < CHUNK_DOCS ? n_kept - c0 : CHUNK_DOCS;
        memcpy(chunk_idx, kept + c0, (size_t)n * sizeof *chunk_idx);
        tok_job job = {vocab, set.docs, chunk_idx, n, chunk_toks, chunk_n, 0, 0};
        slm_pool_run(pool, tokenize_worker, &job);
        if (job.failed) st = slm_err(SLM_ERR_NOMEM, "data prepare: tokenizing failed: %s", slm_last_error());
        for (int64_t i = 0; i < n && st == SLM_OK; i++) {
            shard_out *o = is_val[chunk_idx[i]] ? &va : &tr;
            st = shard_put_doc(o, chunk_toks[i], chunk_n[i]);
            s.n_bytes_kept += set.docs[chunk_idx[i]].len;
        }
        for (int64_t i = 0; i < n; i++) {
            free(chunk_toks[i]);
            chunk_toks[i] = NULL;
        }
    }
    if (st == SLM_OK) st = shard_finish(&tr);
    if (st == SLM_OK) st = shard_finish(&va);
    if (st != SLM_OK) goto done;
    remove_stale(&tr);
    remove_stale(&va);
    s.n_docs_train = tr.n_docs;
    s.n_docs_val = va.n_docs;
    s.n_tokens_train = tr.n_tokens;
    s.n_tokens_val = va.n_tokens;
    s.n_shards_train = tr.n_shards;
    s.n_shards_val = va.n_shards;
    st = write_tokenizer(g, p->out_dir);
    s.seconds = now_s() - t0;
    if (st == SLM_OK) st = write_report(p, &s, p->out_dir, (bos >= 0) + (eos >= 0 && eos != bos));
    goto done;

nomem:
    st = slm_err(SLM_ERR_NOMEM, "data prepare: out of memory");
done:
    if (tr.open) slm_tokwriter_abort(&tr.w);
    if (va.open) slm_tokwriter_abort(&va.w);
    free(chunk_toks);
    free(chunk_n);
    free(chunk_idx);
    slm_pool_free(pool);
    free(kept);
    free(is_val);
    free(verdict);
    slm_docs_free(&set);
    slm_vocab_free(vocab);
    gguf_close(g);
    if (stats) *stats = s;
    return st;
}
