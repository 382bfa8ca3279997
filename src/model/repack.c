/*
 * repack.c — slm_model_repack(): the weights decoding streams, moved at load
 * from the file mapping into owned memory laid out for the kernels.
 *
 * Why: generating a token reads every matrix once, so how the bytes sit in
 * memory sets the speed. In huge pages (2 MiB, where the OS has transparent
 * huge pages) the stream costs far fewer TLB misses than through a file
 * mapping's 4 KiB pages (model_load.c measured ~2x), and for the types with
 * an interleaved layout (kernels/packed.h: Q4_0, Q4_K on AVX-512 VNNI) a
 * group of 16 rows is dotted at once, which takes 4-bit decoding from
 * compute- to memory-bound on few cores. The packed bytes are a permutation
 * of the GGUF blocks, so the copy is the same size as the original.
 *
 * What stays in the mapping: the token embedding (one row per token is
 * read; a tied output gets its own copy), norms, biases and other small
 * tensors. The pages of every copied range are dropped from the mapping
 * (MADV_DONTNEED: a later read, e.g. `slm export --merge` reading the file's
 * tensors, faults them in again from the page cache), so resident memory
 * holds each weight once, at load as after it.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/error.h"
#include "base/mmap.h"
#include "kernels/kernels.h"
#include "kernels/packed.h"
#include "model/model.h"

/* The matrices to copy: up to 8 per layer and the output. */
static int streamed(slm_model *m, slm_tensor **out, int cap) {
    int n = 0;
    for (int il = 0; il < m->hp.n_layer; il++) {
        slm_layer *L = &m->layers[il];
        slm_tensor *ts[] = {&L->wq, &L->wk, &L->wv, &L->wqkv, &L->wo, &L->ffn_gate, &L->ffn_up, &L->ffn_down,
                            &L->ffn_gate_exps, &L->ffn_up_exps, &L->ffn_down_exps};
        for (size_t i = 0; i < sizeof ts / sizeof *ts; i++)
            if (ts[i]->data && n < cap) out[n++] = ts[i];
    }
    if (m->output.data && n < cap) out[n++] = &m->output;
    return n;
}

static bool packs(const slm_tensor *t) {
    return t->n_dims == 2 && slm_pack_type(t->type) && slm_kernels()->gemv_packed[t->type] != NULL;
}

static size_t copy_size(const slm_tensor *t) {
    const size_t plain = t->row_bytes * (size_t)t->ne[1] * (size_t)t->ne[2];
    return ((packs(t) ? slm_packed_size(t->row_bytes, t->ne[1]) : plain) + 63) / 64 * 64;
}

/* Rows [r0, r1) of src (a multiple of 16 apart, but for the last) into dst,
 * the threads splitting them. */
typedef struct {
    const slm_tensor *src;
    uint8_t *dst;
    bool pack;
    int64_t r0, r1; /* rows of all ne[2] matrices together when copying */
} copy_task;

/* Part ith of nth: groups of 16 rows (packing) or a byte range (copying). */
static void copy_worker(void *arg, int ith, int nth) {
    const copy_task *c = arg;
    const slm_tensor *t = c->src;
    const uint8_t *src = t->data;
    if (!c->pack) {
        const size_t b0 = (size_t)c->r0 * t->row_bytes, bytes = (size_t)(c->r1 - c->r0) * t->row_bytes;
        int64_t lo, hi;
        slm_split_range((int64_t)((bytes + 4095) / 4096), ith, nth, &lo, &hi);
        const size_t p0 = (size_t)lo * 4096, p1 = (size_t)hi * 4096 < bytes ? (size_t)hi * 4096 : bytes;
        if (p0 < p1) memcpy(c->dst + b0 + p0, src + b0 + p0, p1 - p0);
        return;
    }
    int64_t lo, hi;
    slm_split_range((c->r1 - c->r0 + SLM_PACK_ROWS - 1) / SLM_PACK_ROWS, ith, nth, &lo, &hi);
    lo += c->r0 / SLM_PACK_ROWS;
    hi += c->r0 / SLM_PACK_ROWS;
    for (int64_t g = lo; g < hi; g++) {
        const int64_t r0 = g * SLM_PACK_ROWS;
        const int nr = (int)(t->ne[1] - r0 < SLM_PACK_ROWS ? t->ne[1] - r0 : SLM_PACK_ROWS);
        slm_pack_rows(t->type, t->ne[0], src + (size_t)r0 * t->row_bytes, t->row_bytes, nr,
                      c->dst + (size_t)g * SLM_PACK_ROWS * t->row_bytes);
    }
}

/* Drops the whole pages of [p, p + n) from the mapping (not those shared
 * with neighbouring tensors, nor anything outside the file's mapping). */
static void drop_pages(const slm_model *m, const void *p, size_t n) {
    const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    const uintptr_t lo = ((uintptr_t)p + page - 1) / page * page, hi = ((uintptr_t)p + n) / page * page;
    const uintptr_t base = (uintptr_t)m->gguf->base, end = base + m->gguf->size;
    if (lo < hi && lo >= base && hi <= end) madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

slm_status slm_model_repack(slm_model *m) {
    enum { CAP = 16 * 4096 };
    if (m->gguf->in_memory || !m->layers) return SLM_OK;
    slm_tensor **ts = malloc(CAP * sizeof *ts);
    if (!ts) return slm_err(SLM_ERR_NOMEM, "%s: out of memory", m->gguf->path);
    const int n = streamed(m, ts, CAP);
    size_t total = 0;
    for (int i = 0; i < n; i++) total += copy_size(ts[i]);
    if (total == 0) {
        free(ts);
        return SLM_OK;
    }
    m->weights = slm_huge_alloc(total, &m->weights_alloc);
    if (!m->weights) {
        free(ts);
        return slm_err(SLM_ERR_NOMEM, "%s: cannot allocate %.1f MiB for the weights", m->gguf->path,
                       (double)total / 1048576.0);
    }
    uint8_t *dst = m->weights;
    for (int i = 0; i < n; i++) {
        slm_tensor *t = ts[i];
        copy_task c = {t, dst, packs(t), 0, 0};
        /* in pieces of ~8 MiB, each piece's source pages dropped as soon as it is copied, so that
         * resident memory never holds a large matrix twice (the tied output: the whole embedding);
         * the embedding's pages go too: it is read a row at a time and faults them back */
        const int64_t rows = t->ne[1] * t->ne[2];
        int64_t step = (int64_t)((8u << 20) / t->row_bytes) / SLM_PACK_ROWS * SLM_PACK_ROWS;
        if (step < SLM_PACK_ROWS) step = SLM_PACK_ROWS;
        for (c.r0 = 0; c.r0 < rows; c.r0 += step) {
            c.r1 = c.r0 + step < rows ? c.r0 + step : rows;
            slm_pool_run(m->pool, copy_worker, &c);
            drop_pages(m, (const uint8_t *)t->data + (size_t)c.r0 * t->row_bytes,
                       (size_t)(c.r1 - c.r0) * t->row_bytes);
        }
        t->data = dst;
        t->packed = c.pack;
        dst += copy_size(t);
    }
    free(ts);
    return SLM_OK;
}
