/*
 * repack.c — slm_model_repack(): the matrices decoding streams whose type
 * has an interleaved layout the kernel table runs (kernels/packed.h: Q4_0,
 * Q5_0, Q8_0, Q4_K, Q6_K on AVX-512 VNNI), moved at load from the file
 * mapping into owned huge-page memory, 16 rows interleaved per group.
 *
 * Why: generating a token reads every matrix once; a row-by-row dot of 4-bit
 * blocks spends more instructions per byte than two cores can issue while
 * memory delivers (measured here: 17 GB/s per core in cache against ~30 GB/s
 * of memory for both), and a group of 16 rows is dotted for about a third of
 * the instructions, so decoding becomes memory-bound. The packed bytes are a
 * permutation of the GGUF blocks: the copy is the same size as the original.
 *
 * Everything else stays in the mapping and is used in place (as llama.cpp
 * does): float matrices, types without a packed kernel, norms, the token
 * embedding (a tied one reads its rows from the output's copy when that is
 * packed). Copying those into huge pages as well measured no faster to
 * decode on this machine and slower to the first token (the kernel zeroes
 * every fresh page: 1-3 s for a 2.5 GB F16 model on this VM).
 *
 * The copies are read from the file (pread, several threads), not through
 * the mapping, whose pages for them are never touched: resident memory holds
 * each weight once, at load as after it, and a later reader of the file's
 * tensors (`slm export --merge`) still finds them in the mapping.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "base/mmap.h"
#include "kernels/kernels.h"
#include "kernels/packed.h"
#include "model/model.h"

static bool packs(const slm_tensor *t);

/* The matrices to pack: those of the attention and FFN and the output. */
static int streamed(slm_model *m, slm_tensor **out, int cap) {
    int n = 0;
    for (int il = 0; il < m->hp.n_layer; il++) {
        slm_layer *L = &m->layers[il];
        slm_tensor *ts[] = {&L->wq, &L->wk, &L->wv, &L->wqkv, &L->wo, &L->ffn_gate, &L->ffn_up, &L->ffn_down,
                            &L->ffn_gate_exps, &L->ffn_up_exps, &L->ffn_down_exps};
        for (size_t i = 0; i < sizeof ts / sizeof *ts; i++)
            if (ts[i]->data && packs(ts[i]) && n < cap) out[n++] = ts[i];
    }
    if (m->output.data && packs(&m->output) && n < cap) out[n++] = &m->output;
    return n;
}

static bool packs(const slm_tensor *t) {
    return t->n_dims == 2 && slm_pack_type(t->type) && slm_kernels()->gemv_packed[t->type] != NULL;
}

static size_t copy_size(const slm_tensor *t) { return (slm_packed_size(t->row_bytes, t->ne[1]) + 63) / 64 * 64; }

/* Rows [r0, r1) of src (a multiple of 16 apart, but for the last) packed
 * into dst, the threads splitting them, read from the file with pread: the copied
 * ranges of the mapping are never touched, so they never count as resident
 * memory, and reading (page cache -> huge pages, several threads) is far
 * faster than faulting in 4 KiB pages of the mapping. */
typedef struct {
    const slm_tensor *src;
    uint8_t *dst;
    int64_t r0, r1;
    int fd;
    off_t off;      /* file offset of row 0 */
    slm_pool *pool; /* for the per-thread staging buffers */
    atomic_int failed;
} copy_task;

static bool pread_full(int fd, uint8_t *p, size_t n, off_t off) {
    while (n > 0) {
        const ssize_t got = pread(fd, p, n, off);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return false;
        p += got;
        n -= (size_t)got;
        off += got;
    }
    return true;
}

#define STAGE_BYTES (1u << 20) /* rows read at a time before packing */

/* Part ith of nth: a share of the groups of 16 rows. */
static void copy_worker(void *arg, int ith, int nth) {
    copy_task *c = arg;
    const slm_tensor *t = c->src;
    const size_t rb = t->row_bytes;
    int64_t lo, hi;
    slm_split_range((c->r1 - c->r0 + SLM_PACK_ROWS - 1) / SLM_PACK_ROWS, ith, nth, &lo, &hi);
    lo += c->r0 / SLM_PACK_ROWS;
    hi += c->r0 / SLM_PACK_ROWS;
    int64_t per = (int64_t)(STAGE_BYTES / (SLM_PACK_ROWS * rb));
    if (per < 1) per = 1;
    uint8_t *stage = lo < hi ? slm_pool_scratch(c->pool, (size_t)per * SLM_PACK_ROWS * rb) : NULL;
    if (lo < hi && !stage) {
        c->failed = 2;
        return;
    }
    for (int64_t g0 = lo; g0 < hi; g0 += per) {
        const int64_t g1 = g0 + per < hi ? g0 + per : hi, row0 = g0 * SLM_PACK_ROWS;
        const int64_t rows = (g1 * SLM_PACK_ROWS < t->ne[1] ? g1 * SLM_PACK_ROWS : t->ne[1]) - row0;
        if (!pread_full(c->fd, stage, (size_t)rows * rb, c->off + (off_t)((size_t)row0 * rb))) {
            c->failed = 1;
            return;
        }
        for (int64_t g = g0; g < g1; g++) {
            const int64_t r = g * SLM_PACK_ROWS - row0;
            const int nr = (int)(rows - r < SLM_PACK_ROWS ? rows - r : SLM_PACK_ROWS);
            slm_pack_rows(t->type, t->ne[0], stage + (size_t)r * rb, rb, nr, c->dst + (size_t)g * SLM_PACK_ROWS * rb);
        }
    }
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
    const int fd = open(m->gguf->path, O_RDONLY);
    if (fd < 0) {
        free(ts);
        return slm_err(SLM_ERR_IO, "%s: cannot open to read the weights: %s", m->gguf->path, strerror(errno));
    }
    uint8_t *dst = m->weights;
    slm_status st = SLM_OK;
    for (int i = 0; i < n && !st; i++) {
        slm_tensor *t = ts[i];
        copy_task c = {.src = t, .dst = dst, .fd = fd, .pool = m->pool,
                       .off = (off_t)((const uint8_t *)t->data - m->gguf->base)};
        atomic_init(&c.failed, 0);
        const int64_t rows = t->ne[1];
        int64_t step = (int64_t)((32u << 20) / t->row_bytes) / SLM_PACK_ROWS * SLM_PACK_ROWS;
        if (step < SLM_PACK_ROWS) step = SLM_PACK_ROWS;
        for (c.r0 = 0; c.r0 < rows && !c.failed; c.r0 += step) {
            c.r1 = c.r0 + step < rows ? c.r0 + step : rows;
            slm_pool_run(m->pool, copy_worker, &c);
        }
        if (c.failed)
            st = c.failed == 2 ? slm_err(SLM_ERR_NOMEM, "%s: out of memory repacking '%s'", m->gguf->path, t->name)
                               : slm_err(SLM_ERR_IO, "%s: cannot read tensor '%s' (file truncated or unreadable)",
                                         m->gguf->path, t->name);
        t->data = dst;
        t->packed = true;
        dst += copy_size(t);
    }
    close(fd);
    free(ts);
    /* A tied embedding reads its rows from the output's copy too: read through the mapping, each
     * token's row would map the 64 KiB around it (the kernel's fault-around), measured +38 MiB of
     * resident memory over a 512-token prompt on SmolLM2-135M F16. */
    if (!st && m->output_tied && m->output.packed) {
        m->tok_embd.data = m->output.data;
        m->tok_embd.packed = m->output.packed;
    }
    return st;
}
