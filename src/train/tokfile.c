/*
 * tokfile.c — reading slm's and llm.c's token files, writing slm's shards
 * (see tokfile.h for both layouts).
 */
#include "train/tokfile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"

static uint32_t rd_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd_u64(const uint8_t *p) { return (uint64_t)rd_u32(p) | (uint64_t)rd_u32(p + 4) << 32; }
static void wr_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void wr_u64(uint8_t *p, uint64_t v) {
    wr_u32(p, (uint32_t)v);
    wr_u32(p + 4, (uint32_t)(v >> 32));
}

/* ======================================================================== */
/* Reading                                                                   */
/* ======================================================================== */

static slm_status parse_slm(slm_tokfile *f) {
    const uint8_t *b = f->map.data;
    uint32_t version = rd_u32(b + 8), tb = rd_u32(b + 12);
    uint64_t n = rd_u64(b + 16);
    if (version != SLM_TOKFILE_VERSION)
        return slm_err(SLM_ERR_FORMAT, "%s: token file version %u (slm reads %d)", f->path, version,
                       SLM_TOKFILE_VERSION);
    if (tb != 2 && tb != 4) return slm_err(SLM_ERR_FORMAT, "%s: token size %u (expected 2 or 4)", f->path, tb);
    size_t avail = f->map.size - SLM_TOKFILE_HEADER;
    if (n > avail / tb || n * tb != avail)
        return slm_err(SLM_ERR_FORMAT,
                       "%s: the header says %llu tokens of %u bytes but the file holds %zu bytes of tokens", f->path,
                       (unsigned long long)n, tb, avail);
    uint32_t vocab = rd_u32(b + 24);
    int32_t bos = (int32_t)rd_u32(b + 28), eos = (int32_t)rd_u32(b + 32);
    if (vocab == 0 || vocab > (1u << 30) || (tb == 2 && vocab > 65536))
        return slm_err(SLM_ERR_FORMAT, "%s: vocabulary size %u does not fit %u-byte tokens", f->path, vocab, tb);
    if (bos < -1 || bos >= (int32_t)vocab || eos < -1 || eos >= (int32_t)vocab)
        return slm_err(SLM_ERR_FORMAT, "%s: BOS %d / EOS %d outside the vocabulary of %u", f->path, bos, eos, vocab);
    f->kind = SLM_TOKFILE_SLM;
    f->token_bytes = (int)tb;
    f->n_tokens = (int64_t)n;
    f->vocab_size = (int32_t)vocab;
    f->bos = bos;
    f->eos = eos;
    f->n_docs = (int64_t)rd_u64(b + 40);
    f->tokens = b + SLM_TOKFILE_HEADER;
    return SLM_OK;
}

static slm_status parse_llmc(slm_tokfile *f) {
    const uint8_t *b = f->map.data;
    uint32_t magic = rd_u32(b), version = rd_u32(b + 4);
    int32_t n = (int32_t)rd_u32(b + 8);
    int tb;
    if (magic == LLMC_MAGIC_U16 && version == 1) tb = 2;
    else if (magic == LLMC_MAGIC_U32 && version == 7) tb = 4;
    else
        return slm_err(SLM_ERR_FORMAT, "%s: llm.c token file with magic %u version %u (slm reads 20240520 v1 and "
                       "20240801 v7)", f->path, magic, version);
    size_t avail = f->map.size - LLMC_HEADER_BYTES;
    if (n < 0 || (size_t)n > avail / (size_t)tb || (size_t)n * (size_t)tb != avail)
        return slm_err(SLM_ERR_FORMAT,
                       "%s: the header says %d tokens of %d bytes but the file holds %zu bytes of tokens", f->path, n,
                       tb, avail);
    f->kind = SLM_TOKFILE_LLMC;
    f->token_bytes = tb;
    f->n_tokens = n;
    f->vocab_size = 0;
    f->bos = f->eos = -1;
    f->n_docs = 0;
    f->tokens = b + LLMC_HEADER_BYTES;
    return SLM_OK;
}

slm_status slm_tokfile_open(const char *path, slm_tokfile *out) {
    memset(out, 0, sizeof *out);
    out->path = strdup(path);
    if (!out->path) return slm_err(SLM_ERR_NOMEM, "%s: out of memory", __func__);
    slm_status st = slm_map_file(path, &out->map);
    if (st != SLM_OK) {
        free(out->path);
        out->path = NULL;
        return st;
    }
    const uint8_t *b = out->map.data;
    if (out->map.size >= SLM_TOKFILE_HEADER && !memcmp(b, SLM_TOKFILE_MAGIC, 8)) {
        st = parse_slm(out);
    } else if (out->map.size >= LLMC_HEADER_BYTES && (rd_u32(b) == LLMC_MAGIC_U16 || rd_u32(b) == LLMC_MAGIC_U32)) {
        st = parse_llmc(out);
    } else {
        st = slm_err(SLM_ERR_FORMAT, "%s: not a token file (expected slm's \"SLMTOKEN\" header or llm.c's magic "
                     "20240520 / 20240801; make one with `slm data prepare`)", path);
    }
    if (st == SLM_OK) {
        int32_t mx = -1;
        for (int64_t i = 0; i < out->n_tokens; i++) {
            int32_t t = slm_tokfile_get(out, i);
            if (t < 0) {
                st = slm_err(SLM_ERR_FORMAT, "%s: token %lld is %u (> 2^31)", path, (long long)i, (unsigned)t);
                break;
            }
            if (t > mx) mx = t;
        }
        out->max_token = mx;
        if (st == SLM_OK && out->vocab_size > 0 && mx >= out->vocab_size)
            st = slm_err(SLM_ERR_FORMAT, "%s: token %d >= the file's vocabulary size %d", path, (int)mx,
                         (int)out->vocab_size);
    }
    if (st != SLM_OK) slm_tokfile_close(out);
    return st;
}

void slm_tokfile_close(slm_tokfile *f) {
    if (!f) return;
    slm_unmap_file(&f->map);
    free(f->path);
    memset(f, 0, sizeof *f);
}

/* ======================================================================== */
/* Writing                                                                   */
/* ======================================================================== */

static slm_status open_tmp(const char *path, char **tmp_out, FILE **fp) {
    size_t n = strlen(path) + 32;
    char *tmp = malloc(n);
    if (!tmp) return slm_err(SLM_ERR_NOMEM, "%s: out of memory", path);
    snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        slm_status st = slm_err(SLM_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
        free(tmp);
        return st;
    }
    *tmp_out = tmp;
    *fp = f;
    return SLM_OK;
}

/* fflush + fsync + fclose, then rename tmp over path; on failure removes tmp. */
static slm_status finish_tmp(FILE *f, const char *tmp, const char *path, bool failed) {
    int err = failed ? (errno ? errno : EIO) : 0;
    bool ok = !failed && fflush(f) == 0 && fsync(fileno(f)) == 0;
    if (!ok && !err) err = errno;
    if (fclose(f) != 0 && ok) {
        ok = false;
        err = errno;
    }
    if (ok && rename(tmp, path) != 0) {
        ok = false;
        err = errno;
    }
    if (ok) return SLM_OK;
    unlink(tmp);
    return slm_err(SLM_ERR_IO, "%s: write failed: %s", path, strerror(err ? err : EIO));
}

slm_status slm_tokwriter_open(slm_tokwriter *w, const char *path, int token_bytes, int32_t vocab_size, int32_t bos,
                              int32_t eos) {
    memset(w, 0, sizeof *w);
    w->path = strdup(path);
    if (!w->path) return slm_err(SLM_ERR_NOMEM, "%s: out of memory", path);
    FILE *f = NULL;
    slm_status st = open_tmp(path, &w->tmp, &f);
    if (st != SLM_OK) {
        free(w->path);
        w->path = NULL;
        return st;
    }
    w->fp = f;
    w->token_bytes = token_bytes;
    w->vocab_size = vocab_size;
    w->bos = bos;
    w->eos = eos;
    uint8_t hdr[SLM_TOKFILE_HEADER] = {0}; /* rewritten at close */
    if (fwrite(hdr, 1, sizeof hdr, f) != sizeof hdr) w->failed = true;
    return SLM_OK;
}

void slm_tokwriter_put(slm_tokwriter *w, const int32_t *tokens, int64_t n) {
    uint8_t buf[4096];
    size_t k = 0;
    for (int64_t i = 0; i < n && !w->failed; i++) {
        uint32_t t = (uint32_t)tokens[i];
        for (int b = 0; b < w->token_bytes; b++) buf[k++] = (uint8_t)(t >> (8 * b));
        if (k + 4 > sizeof buf || i + 1 == n) {
            if (fwrite(buf, 1, k, w->fp) != k) w->failed = true;
            k = 0;
        }
    }
    w->n_tokens += n;
}

slm_status slm_tokwriter_close(slm_tokwriter *w) {
    FILE *f = w->fp;
    uint8_t hdr[SLM_TOKFILE_HEADER] = {0};
    memcpy(hdr, SLM_TOKFILE_MAGIC, 8);
    wr_u32(hdr + 8, SLM_TOKFILE_VERSION);
    wr_u32(hdr + 12, (uint32_t)w->token_bytes);
    wr_u64(hdr + 16, (uint64_t)w->n_tokens);
    wr_u32(hdr + 24, (uint32_t)w->vocab_size);
    wr_u32(hdr + 28, (uint32_t)w->bos);
    wr_u32(hdr + 32, (uint32_t)w->eos);
    wr_u64(hdr + 40, (uint64_t)w->n_docs);
    if (!w->failed && (fseek(f, 0, SEEK_SET) != 0 || fwrite(hdr, 1, sizeof hdr, f) != sizeof hdr)) w->failed = true;
    slm_status st = finish_tmp(f, w->tmp, w->path, w->failed);
    free(w->tmp);
    free(w->path);
    memset(w, 0, sizeof *w);
    return st;
}

void slm_tokwriter_abort(slm_tokwriter *w) {
    if (!w->fp) return;
    fclose(w->fp);
    unlink(w->tmp);
    free(w->tmp);
    free(w->path);
    memset(w, 0, sizeof *w);
}
