/*
 * quality.h — the document filters of `slm data prepare`: why a document is
 * dropped. Heuristics in the spirit of Gopher's (Rae et al. 2021), kept
 * simple enough to state exactly:
 *   length       code points, below min_chars or above max_chars (0: no limit);
 *   symbols      non-space characters that are neither letters, marks nor
 *                digits (Unicode categories L*, M*, N*), as a share of all
 *                non-space characters, above max_symbol_ratio;
 *   dup lines    non-empty lines (trimmed) equal to an earlier line of the
 *                document, as a share of non-empty lines, above max_dup_line_ratio;
 *   dup n-grams  n-grams of white-space separated words equal to an earlier
 *                n-gram of the document, as a share of all its n-grams,
 *                above max_dup_ngram_ratio (documents of fewer than n words pass);
 *   duplicate    a document equal byte for byte to an earlier kept one
 *                (64-bit hash, confirmed by comparing the bytes).
 * A ratio threshold of 0 or >= 1 turns that filter off. Text is valid UTF-8
 * (docs.c checks it).
 */
#ifndef SLM_TRAIN_QUALITY_H
#define SLM_TRAIN_QUALITY_H

#include <stddef.h>
#include <stdint.h>

#include "slm.h"
#include "train/docs.h"

typedef enum {
    SLM_DOC_KEEP = 0,
    SLM_DOC_EMPTY,
    SLM_DOC_SHORT,
    SLM_DOC_LONG,
    SLM_DOC_SYMBOLS,
    SLM_DOC_DUP_LINES,
    SLM_DOC_DUP_NGRAMS,
    SLM_DOC_DUPLICATE, /* checked last, among the documents the others kept */
} slm_doc_verdict;

/* Scratch for the per-document hashes (reused across documents). */
typedef struct {
    uint64_t *h;
    size_t cap;
} slm_quality_scratch;

/* The filters except duplicates, in the order of the enum (first failing wins). */
slm_doc_verdict slm_doc_check(const slm_data_params *p, const char *text, size_t len, slm_quality_scratch *s);
void slm_quality_scratch_free(slm_quality_scratch *s);

/* The measures themselves (exposed for tests). */
int64_t slm_doc_chars(const char *text, size_t len);
double slm_doc_symbol_ratio(const char *text, size_t len);
double slm_doc_dup_line_ratio(const char *text, size_t len, slm_quality_scratch *s);
double slm_doc_dup_ngram_ratio(const char *text, size_t len, int n, slm_quality_scratch *s);

/* Exact-duplicate detection over documents that stay alive. */
typedef struct {
    uint64_t *hash;   /* (cap) 0 = empty slot */
    int64_t *doc;     /* (cap) index into docs */
    int64_t cap, n;
    const slm_doc *docs;
} slm_dedup;

slm_status slm_dedup_init(slm_dedup *d, const slm_doc *docs, int64_t n_docs);
/* True if docs[i] equals a document added before; otherwise adds it. */
bool slm_dedup_seen(slm_dedup *d, int64_t i);
void slm_dedup_free(slm_dedup *d);

uint64_t slm_doc_hash(const void *p, size_t n);

#endif
