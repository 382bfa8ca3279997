/*
 * kernels_ref.c — the scalar reference kernel table: float32 activations for
 * every weight type; quantized rows are dequantized in chunks with the
 * reference to_float of quant/ and dotted in float. Slow and obviously right:
 * the yardstick for every SIMD table.
 */
#include "kernels/kernels.h"

#include <string.h>

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
    t->dot_f32 = dot_f32_ref;
}

const slm_kernel_table *slm_kernels_ref_build(void);
const slm_kernel_table *slm_kernels_ref_build(void) {
    init_ref();
    return &g_ref;
}
