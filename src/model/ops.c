/* ops.c — float32 building blocks of the forward pass (see ops.h). */
#include "model/ops.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "kernels/kernels.h"
#include "kernels/packed.h"
#include "quant/quant.h"

void slm_rmsnorm(float *out, const float *x, const float *w, int64_t n, float eps) {
    float ss = 0.0f;
    for (int64_t i = 0; i < n; i++) ss += x[i] * x[i];
    float scale = 1.0f / sqrtf(ss / (float)n + eps);
    if (w)
        for (int64_t i = 0; i < n; i++) out[i] = x[i] * scale * w[i];
    else
        for (int64_t i = 0; i < n; i++) out[i] = x[i] * scale;
}

void slm_layernorm(float *out, const float *x, const float *w, const float *b, int64_t n, float eps) {
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) sum += x[i];
    float mean = (float)(sum / (double)n);
    double sum2 = 0.0;
    for (int64_t i = 0; i < n; i++) sum2 += (double)(x[i] - mean) * (double)(x[i] - mean);
    float scale = 1.0f / sqrtf((float)(sum2 / (double)n) + eps);
    for (int64_t i = 0; i < n; i++) {
        float y = (x[i] - mean) * scale;
        if (w) y *= w[i];
        if (b) y += b[i];
        out[i] = y;
    }
}

void slm_rope_ext(float *x, int n_heads, int head_dim, int n_rot, int32_t pos, const float *inv_freq,
                  slm_rope_type type, float mscale) {
    int half = n_rot / 2;
    for (int i = 0; i < half; i++) {
        float theta = (float)pos * inv_freq[i];
        float c = cosf(theta) * mscale, s = sinf(theta) * mscale;
        for (int h = 0; h < n_heads; h++) {
            float *v = x + (int64_t)h * head_dim;
            int a = type == SLM_ROPE_NEOX ? i : 2 * i;
            int b = type == SLM_ROPE_NEOX ? i + half : 2 * i + 1;
            float x0 = v[a], x1 = v[b];
            v[a] = x0 * c - x1 * s;
            v[b] = x0 * s + x1 * c;
        }
    }
}

void slm_rope(float *x, int n_heads, int head_dim, int n_rot, int32_t pos, const float *inv_freq,
              slm_rope_type type) {
    slm_rope_ext(x, n_heads, head_dim, n_rot, pos, inv_freq, type, 1.0f);
}

void slm_add_bias(float *y, const slm_tensor *b, int64_t n_rows, int64_t n) {
    if (!b->data) return;
    const float *bv = b->data;
    for (int64_t i = 0; i < n_rows; i++)
        for (int64_t j = 0; j < n; j++) y[i * n + j] += bv[j];
}

void slm_softmax(float *x, int64_t n) { slm_kernels()->softmax(x, n); }

void slm_swiglu(float *g, const float *u, int64_t n) { slm_kernels()->swiglu(g, u, n); }

size_t slm_matmul_xconv_size(int64_t n_tok, int64_t n) {
    /* the largest activation type is float32 (4 bytes per value); integer
     * block types take less */
    return (size_t)(n_tok * n) * sizeof(float) + 1024;
}

/* ------------------------------------------------------------------------ */
/* Matrix product                                                             */
/* ------------------------------------------------------------------------ */
/*
 * Y = X · Wᵀ in two parallel phases:
 *  1. the activations X (n_tok, n_in) are converted once to the kernel's
 *     activation type (Q8_0 / Q8_K blocks ... or left float32), tokens split
 *     across threads;
 *  2. the weight rows are split in contiguous ranges, a few per thread,
 *     which the threads claim one at a time (slm_pool_run_chunks: a thread
 *     the OS keeps off a core then delays only its current range); each
 *     range of W is streamed once, through vec_dot_tile: tiles of
 *     SLM_TILE_ROWS weight rows x SLM_TILE_COLS tokens, so that a weight
 *     block is unpacked once per group of tokens and an activation block is
 *     loaded once per group of rows. With several tokens, a thread walks its
 *     range in blocks of rows small enough to stay in L1 (~16 KiB) and runs
 *     every token group over each block, while the activations of a token
 *     chunk (<= ~256 KiB) stay in L2.
 * Batches of MATMUL_GEMM_MIN_TOKENS tokens or more go through the kernel
 * table's gemm where it has one (weights packed per thread into panels of
 * 16 rows, every token run over each panel), at several times the speed of
 * the tiles. Decoding (one token, or up to SLM_TILE_COLS rows of several
 * sequences) is one pass over each range (see matmul_rows for how it
 * streams).
 */

#define MATMUL_ROW_BLOCK_BYTES (16 * 1024)
#define MATMUL_PARTS_PER_THREAD 4
#define MATMUL_PREFETCH_BYTES 2048
#define MATMUL_LONG_ROW_BYTES 1024
#define MATMUL_PARALLEL_CONVERT (64 * 1024) /* values */
/* Batches from this many tokens on go through the kernel's gemm (packed
 * panels) where it has one; fewer through tiles (packing would not pay). */
#define MATMUL_GEMM_MIN_TOKENS 8
#define MATMUL_PART_ROWS 32
#define MATMUL_TOKEN_CHUNK_BYTES (256 * 1024)

typedef struct {
    slm_from_float_fn conv;
    const float *X;
    int64_t n_in, n_tok;
    uint8_t *xq;
    size_t xq_row;
} convert_task;

static void convert_worker(void *arg, int ith, int nth) {
    convert_task *t = arg;
    int64_t lo, hi;
    slm_split_range(t->n_tok, ith, nth, &lo, &hi);
    for (int64_t j = lo; j < hi; j++) t->conv(t->X + j * t->n_in, t->xq + (size_t)j * t->xq_row, t->n_in);
}

typedef struct {
    slm_vec_dot_fn dot;
    slm_vec_dot_tile_fn tile; /* NULL: dot per (row, token) */
    slm_gemm_fn gemm;         /* non-NULL: batches through packed panels */
    slm_pool *pool;           /* for the gemm's per-thread scratch */
    const uint8_t *w;         /* (n_out, w_row bytes), or packed groups (packed.h) */
    int type;
    size_t w_row;
    int64_t n_in, n_out;
    const uint8_t *xq; /* (n_tok, xq_row bytes) converted activations */
    size_t xq_row;
    int64_t n_tok;
    float *Y; /* (n_tok, n_out) */
} matmul_task;

/* Rows [r0, r1) against tokens [j0, j0 + nx), tile by tile. */
static void matmul_rows(const matmul_task *t, int64_t r0, int64_t r1, int64_t j0, int nx) {
    const uint8_t *xj = t->xq + (size_t)j0 * t->xq_row;
    float *yj = t->Y + j0 * t->n_out;
    const uint8_t *end = t->w + (size_t)r1 * t->w_row;
    /* Streaming weights for one token or a few (each row read once), two
     * ways, measured on the 2-core Zen 4 VM (generation, one thread):
     *  - rows of MATMUL_LONG_ROW_BYTES or more: one row at a time and no
     *    software prefetch: the hardware prefetcher follows one long stream
     *    best (two rows at once are two streams, which this memory system
     *    serves markedly slower: F16 0.5B +10%, Q4_K_M 1B +35% over the other
     *    way);
     *  - shorter rows, or several tokens: tiles of two rows, each tile's
     *    bytes prefetched MATMUL_PREFETCH_BYTES ahead: short runs give the
     *    hardware prefetcher little to lock onto, and a dot kernel spends
     *    many instructions per byte, keeping few misses in flight on its own
     *    (Q4_0 SmolLM2-135M: +25% over one row without prefetch; 4 rows of
     *    F32 in a batch: x1.6 over a whole tile ahead).
     * Prompt batches reuse each row block for many tokens and need neither. */
    const bool decode = t->n_tok < MATMUL_GEMM_MIN_TOKENS && j0 == 0;
    const bool long_rows = t->n_tok == 1 && t->w_row >= MATMUL_LONG_ROW_BYTES;
    const int64_t rows = long_rows ? 1 : SLM_TILE_ROWS;
    for (int64_t r = r0; r < r1; r += rows) {
        const int nr = (int)(r1 - r < rows ? r1 - r : rows);
        const uint8_t *w = t->w + (size_t)r * t->w_row;
        if (decode && !long_rows) {
            const size_t tile = (size_t)nr * t->w_row;
            const uint8_t *pf = w + MATMUL_PREFETCH_BYTES;
            for (size_t b = 0; b < tile && pf + b < end; b += 64) __builtin_prefetch(pf + b, 0, 0);
        }
        t->tile(t->n_in, w, t->w_row, nr, xj, t->xq_row, nx, yj + r, (size_t)t->n_out);
    }
}

/* Rows [lo, hi) of t->w, all tokens. gemm_scratch: the gemm's scratch, or
 * NULL to take the thread's pool scratch. */
static void matmul_range(const matmul_task *t, int64_t lo, int64_t hi, void *gemm_scratch) {
    if (t->gemm) {
        void *scratch = gemm_scratch ? gemm_scratch : slm_pool_scratch(t->pool, slm_gemm_scratch_size(t->n_in, t->n_tok));
        if (scratch) {
            t->gemm(t->n_in, t->w + (size_t)lo * t->w_row, t->w_row, hi - lo, t->xq, t->xq_row, t->n_tok, t->Y + lo,
                    (size_t)t->n_out, scratch);
            return;
        }
        /* out of memory: fall through to the tiles, which need none */
    }
    if (!t->tile) { /* rows outer, tokens inner: a weight row is read once per batch */
        for (int64_t r = lo; r < hi; r++) {
            const void *wr = t->w + (size_t)r * t->w_row;
            for (int64_t j = 0; j < t->n_tok; j++)
                t->Y[j * t->n_out + r] = t->dot(t->n_in, wr, t->xq + (size_t)j * t->xq_row);
        }
        return;
    }
    if (t->n_tok <= SLM_TILE_COLS) { /* decoding (one or a few sequences): one pass over the rows */
        matmul_rows(t, lo, hi, 0, (int)t->n_tok);
        return;
    }
    int64_t rows_per_block = (int64_t)(MATMUL_ROW_BLOCK_BYTES / (t->w_row ? t->w_row : 1));
    rows_per_block = rows_per_block < 4 ? 4 : rows_per_block / SLM_TILE_ROWS * SLM_TILE_ROWS;
    int64_t toks_per_chunk = (int64_t)(MATMUL_TOKEN_CHUNK_BYTES / t->xq_row) / SLM_TILE_COLS * SLM_TILE_COLS;
    if (toks_per_chunk < SLM_TILE_COLS) toks_per_chunk = SLM_TILE_COLS;
    for (int64_t j0 = 0; j0 < t->n_tok; j0 += toks_per_chunk) {
        const int64_t j1 = j0 + toks_per_chunk < t->n_tok ? j0 + toks_per_chunk : t->n_tok;
        for (int64_t r0 = lo; r0 < hi; r0 += rows_per_block) {
            const int64_t r1 = r0 + rows_per_block < hi ? r0 + rows_per_block : hi;
            for (int64_t j = j0; j < j1; j += SLM_TILE_COLS)
                matmul_rows(t, r0, r1, j, (int)(j1 - j < SLM_TILE_COLS ? j1 - j : SLM_TILE_COLS));
        }
    }
}

/* Part `part` of n_parts: a contiguous range of weight rows, all tokens. */
static void matmul_worker(void *arg, int part, int n_parts) {
    const matmul_task *t = arg;
    int64_t lo, hi;
    const int64_t unit = t->gemm ? SLM_GEMM_ROWS : SLM_TILE_ROWS; /* ranges start on a multiple */
    slm_split_range((t->n_out + unit - 1) / unit, part, n_parts, &lo, &hi);
    lo *= unit;
    hi = hi * unit < t->n_out ? hi * unit : t->n_out;
    if (lo < hi) matmul_range(t, lo, hi, NULL);
}

/*
 * Packed weights (kernels/packed.h: groups of 16 interleaved rows). Parts are
 * ranges of groups. Decoding (fewer than MATMUL_GEMM_MIN_TOKENS tokens) runs
 * the table's gemv_packed over the range, up to SLM_TILE_COLS tokens per
 * pass; batches its gemm_packed, which builds its panels straight from the
 * groups. Tables without those kernels for the type unpack a few groups at a
 * time into the thread's scratch (GGUF rows again, ~L2-sized) and run the
 * usual row path over them.
 */
#define MATMUL_UNPACK_BYTES (256 * 1024)

static void matmul_packed_worker(void *arg, int part, int n_parts) {
    const matmul_task *t = arg;
    const slm_kernel_table *k = slm_kernels();
    const int64_t n_groups = (t->n_out + SLM_PACK_ROWS - 1) / SLM_PACK_ROWS;
    const size_t group_bytes = SLM_PACK_ROWS * t->w_row;
    int64_t g0, g1;
    slm_split_range(n_groups, part, n_parts, &g0, &g1);
    if (g0 >= g1) return;
    slm_gemv_packed_fn gemv = k->gemv_packed[t->type];
    if (gemv && t->n_tok < MATMUL_GEMM_MIN_TOKENS) {
        for (int64_t j = 0; j < t->n_tok; j += SLM_TILE_COLS) {
            const int nx = (int)(t->n_tok - j < SLM_TILE_COLS ? t->n_tok - j : SLM_TILE_COLS);
            gemv(t->n_in, t->w + (size_t)g0 * group_bytes, g1 - g0, t->xq + (size_t)j * t->xq_row, t->xq_row, nx,
                 t->Y + j * t->n_out + g0 * SLM_PACK_ROWS, (size_t)t->n_out, t->n_out - g0 * SLM_PACK_ROWS);
        }
        return;
    }
    slm_gemm_fn gemm_packed = k->gemm_packed[t->type];
    if (gemm_packed && t->n_tok >= MATMUL_GEMM_MIN_TOKENS) { /* the gemm builds its panels from the groups */
        void *scratch = slm_pool_scratch(t->pool, slm_gemm_scratch_size(t->n_in, t->n_tok));
        SLM_CHECK(scratch != NULL);
        const int64_t r0 = g0 * SLM_PACK_ROWS, r1 = g1 * SLM_PACK_ROWS < t->n_out ? g1 * SLM_PACK_ROWS : t->n_out;
        gemm_packed(t->n_in, t->w + (size_t)g0 * group_bytes, t->w_row, r1 - r0, t->xq, t->xq_row, t->n_tok, t->Y + r0,
                    (size_t)t->n_out, scratch);
        return;
    }
    int64_t per = (int64_t)(MATMUL_UNPACK_BYTES / group_bytes);
    if (per < 1) per = 1;
    const size_t gemm_bytes = t->gemm ? slm_gemm_scratch_size(t->n_in, t->n_tok) : 0;
    uint8_t *rows = slm_pool_scratch(t->pool, (size_t)per * group_bytes + gemm_bytes + 64);
    SLM_CHECK(rows != NULL); /* a few hundred KiB; out of memory here has no way back */
    void *gemm_scratch = t->gemm ? rows + ((size_t)per * group_bytes + 63) / 64 * 64 : NULL;
    for (int64_t g = g0; g < g1; g += per) {
        const int64_t ng = g1 - g < per ? g1 - g : per, r0 = g * SLM_PACK_ROWS;
        const int64_t nr = t->n_out - r0 < ng * SLM_PACK_ROWS ? t->n_out - r0 : ng * SLM_PACK_ROWS;
        for (int64_t i = 0; i * SLM_PACK_ROWS < nr; i++) {
            const int gr = (int)(nr - i * SLM_PACK_ROWS < SLM_PACK_ROWS ? nr - i * SLM_PACK_ROWS : SLM_PACK_ROWS);
            slm_unpack_rows(t->type, t->n_in, t->w + (size_t)(g + i) * group_bytes, gr,
                            rows + (size_t)i * group_bytes, t->w_row);
        }
        matmul_task sub = *t; /* the same product over the unpacked rows; Y keeps its row stride n_out */
        sub.w = rows;
        sub.Y = t->Y + r0;
        matmul_range(&sub, 0, nr, gemm_scratch);
    }
}

void slm_matmul(slm_pool *pool, const slm_tensor *W, const float *X, int64_t n_tok, float *Y, void *xconv,
                size_t xconv_bytes) {
    const slm_kernel_table *k = slm_kernels();
    const int64_t n_in = W->ne[0];
    SLM_CHECK(k->vec_dot[W->type] != NULL);
    const int vt = k->vec_dot_type[W->type];
    matmul_task t = {k->vec_dot[W->type], k->vec_dot_tile[W->type], NULL, pool, W->data, W->type, W->row_bytes,
                     n_in, W->ne[1], (const uint8_t *)X, (size_t)n_in * sizeof(float), n_tok, Y};
    if (n_tok >= MATMUL_GEMM_MIN_TOKENS) t.gemm = k->gemm[W->type];
    if (vt != SLM_TYPE_F32) {
        const size_t row = slm_row_size(vt, n_in);
        SLM_CHECK(row > 0 && row * (size_t)n_tok <= xconv_bytes && k->from_float[vt] != NULL);
        convert_task ct = {k->from_float[vt], X, n_in, n_tok, xconv, row};
        /* in parallel only when it is worth a run of the pool (~µs) */
        if (n_tok * n_in >= MATMUL_PARALLEL_CONVERT) slm_pool_run(pool, convert_worker, &ct);
        else convert_worker(&ct, 0, 1);
        t.xq = xconv;
        t.xq_row = row;
    }
    /* parts for the threads to claim (threadpool.h). One per thread when
     * decoding (one token, or a few of several sequences): a matmul then
     * takes tens of microseconds, finer parts cost more in claims and broken
     * prefetch streams (measured: -7% tokens/s) than they gain, and a thread
     * the OS keeps off a core has its whole part taken by the others anyway.
     * A few per thread for prompt batches, whose parts are long enough to be
     * preempted in the middle; each part has at least MATMUL_PART_ROWS rows. */
    const int nth = slm_pool_size(pool);
    if (W->packed) { /* parts: whole groups, one per thread when decoding (see below) */
        const int64_t n_groups = (t.n_out + SLM_PACK_ROWS - 1) / SLM_PACK_ROWS;
        int64_t n_parts = (int64_t)nth * (n_tok < MATMUL_GEMM_MIN_TOKENS ? 1 : MATMUL_PARTS_PER_THREAD);
        if (n_parts > n_groups) n_parts = n_groups;
        slm_pool_run_chunks(pool, matmul_packed_worker, &t, (int)n_parts);
        return;
    }
    int64_t n_parts = (int64_t)nth * (n_tok < MATMUL_GEMM_MIN_TOKENS ? 1 : MATMUL_PARTS_PER_THREAD);
    if (n_parts > t.n_out / MATMUL_PART_ROWS) n_parts = t.n_out / MATMUL_PART_ROWS;
    if (n_parts < 1) n_parts = 1;
    slm_pool_run_chunks(pool, matmul_worker, &t, (int)n_parts);
}

void slm_kv_write(int kv_type, const float *src, void *dst, int64_t n) {
    if (kv_type == SLM_TYPE_F32) {
        memcpy(dst, src, (size_t)n * sizeof(float));
        return;
    }
    SLM_CHECK(kv_type == SLM_TYPE_F16);
    slm_kernels()->from_float[SLM_TYPE_F16](src, dst, n);
}

void slm_tensor_get_row(const slm_tensor *t, int64_t r, float *out) {
    if (t->packed) { /* a tied embedding read from the output's packed copy (repack.c): the row back out of its group */
        uint8_t local[16384];
        uint8_t *row = t->row_bytes <= sizeof local ? local : malloc(t->row_bytes);
        SLM_CHECK(row != NULL);
        slm_unpack_row(t->type, t->ne[0], (const uint8_t *)t->data + (size_t)(r / SLM_PACK_ROWS) * SLM_PACK_ROWS * t->row_bytes,
                       (int)(r % SLM_PACK_ROWS), row);
        slm_type_traits_get(t->type)->to_float(row, out, t->ne[0]);
        if (row != local) free(row);
        return;
    }
    const uint8_t *row = (const uint8_t *)t->data + (size_t)r * t->row_bytes;
    if (t->type == SLM_TYPE_F32) {
        memcpy(out, row, (size_t)t->ne[0] * sizeof(float));
        return;
    }
    slm_type_traits_get(t->type)->to_float(row, out, t->ne[0]);
}
