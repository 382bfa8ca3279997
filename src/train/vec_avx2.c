/*
 * vec_avx2.c — AVX2 + FMA versions of the training row operations (see
 * vec.h), compiled through function attributes and used only when cpuid
 * reports AVX2 and FMA. Must match vec_ref.c to a few ulp (AdamW and the
 * scaling: exactly).
 */
#include "train/vec.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#include <math.h>

#define AVX2 __attribute__((target("avx2,fma")))

/* exp(x), Cephes expf: x = n ln2 + r, |r| <= ln2/2, exp(r) by a degree-6
 * polynomial, 2^n through the exponent bits. Inputs are clamped to
 * [-88.376, 88.376]; the low end gives 0. */
AVX2 static inline __m256 exp8(__m256 x) {
    x = _mm256_min_ps(x, _mm256_set1_ps(88.3762626647949f));
    x = _mm256_max_ps(x, _mm256_set1_ps(-88.3762626647949f));
    __m256 fx = _mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), _mm256_set1_ps(0.5f));
    fx = _mm256_floor_ps(fx);
    x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
    x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), x);
    __m256 y = _mm256_set1_ps(1.9875691500e-4f);
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.3981999507e-3f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(8.3334519073e-3f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(4.1665795894e-2f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.6666665459e-1f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(5.0000001201e-1f));
    y = _mm256_fmadd_ps(y, _mm256_mul_ps(x, x), _mm256_add_ps(x, _mm256_set1_ps(1.0f)));
    __m256i n = _mm256_add_epi32(_mm256_cvttps_epi32(fx), _mm256_set1_epi32(127));
    return _mm256_mul_ps(y, _mm256_castsi256_ps(_mm256_slli_epi32(n, 23)));
}

AVX2 static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

AVX2 static float max_avx2(const float *x, int64_t n) {
    int64_t i = 0;
    float m = x[0];
    if (n >= 8) {
        __m256 vm = _mm256_loadu_ps(x);
        for (i = 8; i + 8 <= n; i += 8) vm = _mm256_max_ps(vm, _mm256_loadu_ps(x + i));
        __m128 h = _mm_max_ps(_mm256_castps256_ps128(vm), _mm256_extractf128_ps(vm, 1));
        h = _mm_max_ps(h, _mm_movehl_ps(h, h));
        h = _mm_max_ss(h, _mm_movehdup_ps(h));
        m = _mm_cvtss_f32(h);
    }
    for (; i < n; i++) m = x[i] > m ? x[i] : m;
    return m;
}

AVX2 static float exp_sum_avx2(float *out, const float *x, int64_t n, float shift, float scale) {
    __m256 vs = _mm256_set1_ps(shift), vc = _mm256_set1_ps(scale);
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 e0 = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), vs));
        __m256 e1 = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i + 8), vs));
        acc0 = _mm256_add_ps(acc0, e0);
        acc1 = _mm256_add_ps(acc1, e1);
        if (out) {
            _mm256_storeu_ps(out + i, _mm256_mul_ps(e0, vc));
            _mm256_storeu_ps(out + i + 8, _mm256_mul_ps(e1, vc));
        }
    }
    for (; i + 8 <= n; i += 8) {
        __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), vs));
        acc0 = _mm256_add_ps(acc0, e);
        if (out) _mm256_storeu_ps(out + i, _mm256_mul_ps(e, vc));
    }
    float s = hsum8(_mm256_add_ps(acc0, acc1));
    for (; i < n; i++) {
        float e = expf(x[i] - shift);
        s += e;
        if (out) out[i] = e * scale;
    }
    return s;
}

AVX2 static void swiglu_forward_avx2(float *out, const float *h1, const float *h3, int64_t n) {
    const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 a = _mm256_loadu_ps(h1 + i);
        __m256 s = _mm256_div_ps(one, _mm256_add_ps(one, exp8(_mm256_sub_ps(zero, a))));
        _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_mul_ps(a, s), _mm256_loadu_ps(h3 + i)));
    }
    for (; i < n; i++) {
        float a = h1[i];
        out[i] = a / (1.0f + expf(-a)) * h3[i];
    }
}

AVX2 static void swiglu_backward_avx2(float *dh1, float *dh3, const float *dout, const float *h1, const float *h3,
                                      int64_t n) {
    const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 a = _mm256_loadu_ps(h1 + i), d = _mm256_loadu_ps(dout + i);
        __m256 s = _mm256_div_ps(one, _mm256_add_ps(one, exp8(_mm256_sub_ps(zero, a))));
        __m256 as = _mm256_mul_ps(a, s);
        _mm256_storeu_ps(dh3 + i, _mm256_add_ps(_mm256_loadu_ps(dh3 + i), _mm256_mul_ps(d, as)));
        /* h3 * s * (1 + a (1 - s)) = h3 * (s + as - as * s) */
        __m256 g = _mm256_sub_ps(_mm256_add_ps(s, as), _mm256_mul_ps(as, s));
        __m256 t = _mm256_mul_ps(_mm256_mul_ps(d, _mm256_loadu_ps(h3 + i)), g);
        _mm256_storeu_ps(dh1 + i, _mm256_add_ps(_mm256_loadu_ps(dh1 + i), t));
    }
    for (; i < n; i++) {
        float a = h1[i], s = 1.0f / (1.0f + expf(-a)), d = dout[i];
        dh3[i] += d * a * s;
        dh1[i] += d * h3[i] * s * (1.0f + a * (1.0f - s));
    }
}

/* The reference's operations in its order (vec.h): the same bits. */
AVX2 static void adamw_avx2(float *x, float *m, float *v, const float *g, int64_t n, const slm_adamw_coef *c) {
    const __m256 b1 = _mm256_set1_ps(c->beta1), b2 = _mm256_set1_ps(c->beta2);
    const __m256 ob1 = _mm256_set1_ps(c->one_minus_beta1), ob2 = _mm256_set1_ps(c->one_minus_beta2);
    const __m256 decay = _mm256_set1_ps(c->decay), step = _mm256_set1_ps(c->step_size);
    const __m256 bc2 = _mm256_set1_ps(c->bc2_sqrt), eps = _mm256_set1_ps(c->eps);
    int64_t j = 0;
    for (; j + 8 <= n; j += 8) {
        __m256 gj = _mm256_loadu_ps(g + j);
        __m256 mj = _mm256_add_ps(_mm256_mul_ps(b1, _mm256_loadu_ps(m + j)), _mm256_mul_ps(ob1, gj));
        __m256 vj = _mm256_add_ps(_mm256_mul_ps(b2, _mm256_loadu_ps(v + j)), _mm256_mul_ps(_mm256_mul_ps(ob2, gj), gj));
        __m256 den = _mm256_add_ps(_mm256_div_ps(_mm256_sqrt_ps(vj), bc2), eps);
        __m256 xj = _mm256_sub_ps(_mm256_mul_ps(_mm256_loadu_ps(x + j), decay),
                                  _mm256_div_ps(_mm256_mul_ps(step, mj), den));
        _mm256_storeu_ps(m + j, mj);
        _mm256_storeu_ps(v + j, vj);
        _mm256_storeu_ps(x + j, xj);
    }
    for (; j < n; j++) {
        float gj = g[j];
        m[j] = c->beta1 * m[j] + c->one_minus_beta1 * gj;
        v[j] = c->beta2 * v[j] + c->one_minus_beta2 * gj * gj;
        x[j] = x[j] * c->decay - c->step_size * m[j] / (sqrtf(v[j]) / c->bc2_sqrt + c->eps);
    }
}

/* four double accumulators of four lanes each, added at the end */
AVX2 static double sumsq_avx2(const float *x, int64_t n) {
    __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd(), s2 = _mm256_setzero_pd(), s3 = _mm256_setzero_pd();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 a = _mm256_loadu_ps(x + i), b = _mm256_loadu_ps(x + i + 8);
        __m256d a0 = _mm256_cvtps_pd(_mm256_castps256_ps128(a)), a1 = _mm256_cvtps_pd(_mm256_extractf128_ps(a, 1));
        __m256d b0 = _mm256_cvtps_pd(_mm256_castps256_ps128(b)), b1 = _mm256_cvtps_pd(_mm256_extractf128_ps(b, 1));
        s0 = _mm256_fmadd_pd(a0, a0, s0);
        s1 = _mm256_fmadd_pd(a1, a1, s1);
        s2 = _mm256_fmadd_pd(b0, b0, s2);
        s3 = _mm256_fmadd_pd(b1, b1, s3);
    }
    __m256d s = _mm256_add_pd(_mm256_add_pd(s0, s1), _mm256_add_pd(s2, s3));
    double l[4];
    _mm256_storeu_pd(l, s);
    double r = (l[0] + l[1]) + (l[2] + l[3]);
    for (; i < n; i++) r += (double)x[i] * x[i];
    return r;
}

AVX2 static void scale_avx2(float *x, int64_t n, float s) {
    const __m256 vs = _mm256_set1_ps(s);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), vs));
    for (; i < n; i++) x[i] *= s;
}

/* RMSNorm rows: the reference's loops, compiled for AVX2 (the compiler
 * vectorises the element loops; the sums stay in order) */
AVX2 static float rmsnorm_row_avx2(float *out, const float *x, const float *w, int64_t n, float eps) {
    double ss = 0.0;
    for (int64_t i = 0; i < n; i++) ss += (double)x[i] * x[i];
    float r = (float)(1.0 / sqrt(ss / (double)n + eps));
    for (int64_t i = 0; i < n; i++) out[i] = x[i] * r * w[i];
    return r;
}

AVX2 static void rmsnorm_backward_row_avx2(float *dx, const float *x, const float *w, const float *d, float r,
                                           int64_t n) {
    double dot = 0.0;
    for (int64_t i = 0; i < n; i++) dot += (double)w[i] * d[i] * x[i];
    float c = (float)(dot * r * r * r / (double)n);
    for (int64_t i = 0; i < n; i++) dx[i] += r * w[i] * d[i] - c * x[i];
}

AVX2 static void rmsnorm_gain_row_avx2(double *s, const float *d, const float *x, double r, int64_t n) {
    for (int64_t i = 0; i < n; i++) s[i] += (double)d[i] * x[i] * r;
}

static const slm_train_vec_kernels g_avx2 = {"avx2",
                                             max_avx2,
                                             exp_sum_avx2,
                                             swiglu_forward_avx2,
                                             swiglu_backward_avx2,
                                             adamw_avx2,
                                             sumsq_avx2,
                                             scale_avx2,
                                             rmsnorm_row_avx2,
                                             rmsnorm_backward_row_avx2,
                                             rmsnorm_gain_row_avx2};

const slm_train_vec_kernels *slm_train_vec_avx2(void) { return &g_avx2; }

#else

const slm_train_vec_kernels *slm_train_vec_avx2(void) { return 0; }

#endif
