/*
 * tokfile.h — token files on disk: slm's shards (written by `slm data
 * prepare`, byte layout in include/slm.h above slm_data_params) and llm.c's
 * token files (read only).
 *
 * llm.c's layout: 256 little-endian int32 (header[0] magic, [1] version,
 * [2] token count, the rest 0), then the tokens: magic 20240520 version 1
 * for uint16 tokens (GPT-2), 20240801 version 7 for uint32 (Llama 3).
 *
 * Files are mapped read-only; tokens are read through slm_tokfile_get, which
 * widens them to int32. Every count is checked against the file size, and
 * every token against the file's vocabulary (or, for llm.c files, which name
 * none, the largest token is recorded for the caller to check).
 *
 * What this deliberately does not read: llama2.c's raw uint16 shards (no
 * header to recognise them by).
 */
#ifndef SLM_TRAIN_TOKFILE_H
#define SLM_TRAIN_TOKFILE_H

#include <stdbool.h>
#include <stdint.h>

#include "base/mmap.h"
#include "slm.h"

#define SLM_TOKFILE_MAGIC "SLMTOKEN"
#define SLM_TOKFILE_VERSION 1
#define SLM_TOKFILE_HEADER 64
#define LLMC_MAGIC_U16 20240520
#define LLMC_MAGIC_U32 20240801
#define LLMC_HEADER_BYTES 1024

typedef enum { SLM_TOKFILE_SLM = 1, SLM_TOKFILE_LLMC = 2 } slm_tokfile_kind;

typedef struct {
    char *path;
    slm_file_map map;
    slm_tokfile_kind kind;
    const uint8_t *tokens; /* into the mapping */
    int token_bytes;       /* 2 or 4 */
    int64_t n_tokens;
    int32_t vocab_size;    /* from the header; 0 for llm.c files */
    int32_t bos, eos;      /* -1 if none / unknown */
    int64_t n_docs;        /* 0 if unknown */
    int32_t max_token;     /* the largest token in the file */
} slm_tokfile;

/* Maps and checks a file of either kind. */
slm_status slm_tokfile_open(const char *path, slm_tokfile *out);
void slm_tokfile_close(slm_tokfile *f);

static inline int32_t slm_tokfile_get(const slm_tokfile *f, int64_t i) {
    const uint8_t *p = f->tokens + (size_t)i * (size_t)f->token_bytes;
    if (f->token_bytes == 2) return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8);
    return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
}

/* A shard being written: the header is filled in at close. Writes go to
 * path.tmp.<pid>, renamed over path by slm_tokwriter_close. */
typedef struct {
    char *path, *tmp;
    void *fp;
    int token_bytes;
    int32_t vocab_size, bos, eos;
    int64_t n_tokens, n_docs;
    bool failed;
} slm_tokwriter;

slm_status slm_tokwriter_open(slm_tokwriter *w, const char *path, int token_bytes, int32_t vocab_size, int32_t bos,
                              int32_t eos);
void slm_tokwriter_put(slm_tokwriter *w, const int32_t *tokens, int64_t n);
/* Completes the header, syncs and renames (or removes the temp file and
 * fails with SLM_ERR_IO). */
slm_status slm_tokwriter_close(slm_tokwriter *w);
/* Removes the temp file without renaming. */
void slm_tokwriter_abort(slm_tokwriter *w);

#endif
