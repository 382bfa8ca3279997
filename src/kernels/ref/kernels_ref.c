/*
 * kernels_ref.c — the scalar reference kernel table: float32 activations for
 * every weight type; quantized rows are dequantized in chunks with the
 * reference to_float of quant/ and dotted in float. Slow and obviously right:
 * the yardstick for every SIMD table. Also the attention kernels over an
 * F32 or F16 KV cache, and the F16 row writer of that cache.
 */
#include "kernels/kernels.h"

#include <math.h>
#include <string.h>

#include "base/fp16.h"
#include "quant/blocks.h"
#include "quant/quant.h"

static float dot_f32_ref(int64_t n, const float *a, const float *b) {
    float s = 0.0f;
    for (int64_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

static float vec_dot_f32(int64_t n, const void *w, const void *x) {
    return dot_f32_ref(n, (const float *)w, (const float *)x);
}

/* Dequantize 256 elements at a time (every block size divides 256, and rows
 * of K-quants are multiples of it). Rows of other types that are not a
 * multiple of 256 finish with a shorter chunk. */
#define CHUNK 256
static float vec_dot_dequant(int type, int64_t n, const void *w, const float *x) {
    const slm_type_traits *tr = slm_type_traits_get(type);
    float buf[CHUNK];
    float s = 0.0f;
    const uint8_t *row = w;
    for (int64_t i = 0; i < n; i += CHUNK) {
        int64_t m = n - i < CHUNK ? n - i : CHUNK;
        tr->to_float(row + (size_t)(i / tr->blck_size) * tr->type_size, buf, m);
        for (int64_t j = 0; j < m; j++) s += buf[j] * x[i + j];
    }
    return s;
}

#define DEQ_DOT(T)                                                                  \
    static float vec_dot_##T(int64_t n, const void *w, const void *x) {             \
        return vec_dot_dequant(SLM_TYPE_##T, n, w, (const float *)x);               \
    }
DEQ_DOT(F16)
DEQ_DOT(BF16)
DEQ_DOT(Q4_0)
DEQ_DOT(Q4_1)
DEQ_DOT(Q5_0)
DEQ_DOT(Q5_1)
DEQ_DOT(Q8_0)
DEQ_DOT(Q2_K)
DEQ_DOT(Q3_K)
DEQ_DOT(Q4_K)
DEQ_DOT(Q5_K)
DEQ_DOT(Q6_K)

static void from_float_f32(const float *x, void *dst, int64_t n) { memcpy(dst, x, (size_t)n * sizeof(float)); }
static void from_float_f16(const float *x, void *dst, int64_t n) { slm_quant_row_f16(x, dst, n); }

/* Attention over F32 / F16 cache rows: dots and weighted sums in order. */
static inline float kv_f32(const uint8_t *row, int64_t d) { return ((const float *)row)[d]; }
static inline float kv_f16(const uint8_t *row, int64_t d) {
    uint16_t h;
    memcpy(&h, row + 2 * d, 2);
    return slm_fp16_to_fp32(h);
}
#define ATTN_REF(T)                                                                                         \
    static void attn_qk_##T(int64_t hd, int nq, const float *const *q, const uint8_t *k, size_t stride, int64_t n, \
                            float *s, size_t ss) {                                                          \
        for (int i = 0; i < nq; i++)                                                                        \
            for (int64_t j = 0; j < n; j++) {                                                               \
                const uint8_t *kj = k + (size_t)j * stride;                                                 \
                float acc = 0.0f;                                                                           \
                for (int64_t d = 0; d < hd; d++) acc += q[i][d] * kv_##T(kj, d);                            \
                s[(size_t)i * ss + (size_t)j] = acc;                                                        \
            }                                                                                               \
    }                                                                                                       \
    static void attn_pv_##T(int64_t hd, int nq, const float *p, size_t ps, const uint8_t *v, size_t stride,  \
                            int64_t n, float *const *out) {                                                 \
        for (int i = 0; i < nq; i++)                                                                        \
            for (int64_t j = 0; j < n; j++) {                                                               \
                const uint8_t *vj = v + (size_t)j * stride;                                                 \
                const float pj = p[(size_t)i * ps + (size_t)j];                                             \
                for (int64_t d = 0; d < hd; d++) out[i][d] += pj * kv_##T(vj, d);                           \
            }                                                                                               \
    }
ATTN_REF(f32)
ATTN_REF(f16)

static uint64_t read_sum_ref(const uint8_t *p, size_t bytes) {
    const uint64_t *w = (const uint64_t *)(const void *)p;
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (size_t i = 0; i < bytes / 8; i += 4) {
        s0 += w[i];
        s1 += w[i + 1];
        s2 += w[i + 2];
        s3 += w[i + 3];
    }
    return s0 + s1 + s2 + s3;
}

static void softmax_ref(float *x, int64_t n) {
    float mx = -INFINITY;
    for (int64_t i = 0; i < n; i++)
        if (x[i] > mx) mx = x[i];
    float sum = 0.0f;
    for (int64_t i = 0; i < n; i++) {
        x[i] = expf(x[i] - mx);
        sum += x[i];
    }
    const float inv = 1.0f / sum;
    for (int64_t i = 0; i < n; i++) x[i] *= inv;
}

static void swiglu_ref(float *g, const float *u, int64_t n) {
    for (int64_t i = 0; i < n; i++) g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

static slm_kernel_table g_ref;

static void init_ref(void) {
    slm_kernel_table *t = &g_ref;
    t->name = "scalar";
    for (int i = 0; i < SLM_TYPE_COUNT; i++) t->vec_dot_type[i] = SLM_TYPE_F32;
    t->vec_dot[SLM_TYPE_F32] = vec_dot_f32;
    t->vec_dot[SLM_TYPE_F16] = vec_dot_F16;
    t->vec_dot[SLM_TYPE_BF16] = vec_dot_BF16;
    t->vec_dot[SLM_TYPE_Q4_0] = vec_dot_Q4_0;
    t->vec_dot[SLM_TYPE_Q4_1] = vec_dot_Q4_1;
    t->vec_dot[SLM_TYPE_Q5_0] = vec_dot_Q5_0;
    t->vec_dot[SLM_TYPE_Q5_1] = vec_dot_Q5_1;
    t->vec_dot[SLM_TYPE_Q8_0] = vec_dot_Q8_0;
    t->vec_dot[SLM_TYPE_Q2_K] = vec_dot_Q2_K;
    t->vec_dot[SLM_TYPE_Q3_K] = vec_dot_Q3_K;
    t->vec_dot[SLM_TYPE_Q4_K] = vec_dot_Q4_K;
    t->vec_dot[SLM_TYPE_Q5_K] = vec_dot_Q5_K;
    t->vec_dot[SLM_TYPE_Q6_K] = vec_dot_Q6_K;
    t->from_float[SLM_TYPE_F32] = from_float_f32;
    t->from_float[SLM_TYPE_F16] = from_float_f16;
    t->dot_f32 = dot_f32_ref;
    t->attn_qk[SLM_TYPE_F32] = attn_qk_f32;
    t->attn_qk[SLM_TYPE_F16] = attn_qk_f16;
    t->attn_pv[SLM_TYPE_F32] = attn_pv_f32;
    t->attn_pv[SLM_TYPE_F16] = attn_pv_f16;
    t->read_sum = read_sum_ref;
    t->softmax = softmax_ref;
    t->swiglu = swiglu_ref;
}

const slm_kernel_table *slm_kernels_ref_build(void);
const slm_kernel_table *slm_kernels_ref_build(void) {
    init_ref();
    return &g_ref;
}
