/*
 * vec_avx512.c — AVX-512F versions of the training row operations (see
 * vec.h), compiled through function attributes and used only when cpuid
 * and XCR0 report AVX-512. Sixteen lanes, and masked loads and stores for
 * the tails instead of scalar loops. The exponential is the AVX2 table's
 * (the same polynomial, the same bits lane for lane); AdamW and the scaling
 * give exactly the reference's bits. Must match vec_ref.c to a few ulp.
 */
#include "train/vec.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#include <math.h>

#define AVX512 __attribute__((target("avx512f,avx512dq,avx2,fma")))

/* lanes [0, n) of 16, n <= 16 */
AVX512 static inline __mmask16 tail_mask(int64_t n) { return (__mmask16)((1u << n) - 1u); }

/* exp(x), Cephes expf as vec_avx2.c's exp8: x = n ln2 + r, |r| <= ln2/2,
 * exp(r) by a degree-6 polynomial, 2^n through the exponent bits. Inputs
 * are clamped to [-88.376, 88.376]; the low end gives 0. */
AVX512 static inline __m512 exp16(__m512 x) {
    x = _mm512_min_ps(x, _mm512_set1_ps(88.3762626647949f));
    x = _mm512_max_ps(x, _mm512_set1_ps(-88.3762626647949f));
    __m512 fx = _mm512_fmadd_ps(x, _mm512_set1_ps(1.44269504088896341f), _mm512_set1_ps(0.5f));
    fx = _mm512_roundscale_ps(fx, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    x = _mm512_fnmadd_ps(fx, _mm512_set1_ps(0.693359375f), x);
    x = _mm512_fnmadd_ps(fx, _mm512_set1_ps(-2.12194440e-4f), x);
    __m512 y = _mm512_set1_ps(1.9875691500e-4f);
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(1.3981999507e-3f));
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(8.3334519073e-3f));
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(4.1665795894e-2f));
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(1.6666665459e-1f));
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(5.0000001201e-1f));
    y = _mm512_fmadd_ps(y, _mm512_mul_ps(x, x), _mm512_add_ps(x, _mm512_set1_ps(1.0f)));
    __m512i n = _mm512_add_epi32(_mm512_cvttps_epi32(fx), _mm512_set1_epi32(127));
    return _mm512_mul_ps(y, _mm512_castsi512_ps(_mm512_slli_epi32(n, 23)));
}

AVX512 static float max_avx512(const float *x, int64_t n) {
    __m512 vm = _mm512_set1_ps(x[0]);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) vm = _mm512_max_ps(vm, _mm512_loadu_ps(x + i));
    if (i < n) vm = _mm512_mask_max_ps(vm, tail_mask(n - i), vm, _mm512_maskz_loadu_ps(tail_mask(n - i), x + i));
    return _mm512_reduce_max_ps(vm);
}

AVX512 static float exp_sum_avx512(float *out, const float *x, int64_t n, float shift, float scale) {
    const __m512 vs = _mm512_set1_ps(shift), vc = _mm512_set1_ps(scale);
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 e0 = exp16(_mm512_sub_ps(_mm512_loadu_ps(x + i), vs));
        __m512 e1 = exp16(_mm512_sub_ps(_mm512_loadu_ps(x + i + 16), vs));
        acc0 = _mm512_add_ps(acc0, e0);
        acc1 = _mm512_add_ps(acc1, e1);
        if (out) {
            _mm512_storeu_ps(out + i, _mm512_mul_ps(e0, vc));
            _mm512_storeu_ps(out + i + 16, _mm512_mul_ps(e1, vc));
        }
    }
    for (; i < n; i += 16) {
        __mmask16 k = n - i >= 16 ? (__mmask16)0xffff : tail_mask(n - i);
        __m512 e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), vs));
        acc0 = _mm512_mask_add_ps(acc0, k, acc0, e);
        if (out) _mm512_mask_storeu_ps(out + i, k, _mm512_mul_ps(e, vc));
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

AVX512 static void swiglu_forward_avx512(float *out, const float *h1, const float *h3, int64_t n) {
    const __m512 one = _mm512_set1_ps(1.0f), zero = _mm512_setzero_ps();
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 k = n - i >= 16 ? (__mmask16)0xffff : tail_mask(n - i);
        __m512 a = _mm512_maskz_loadu_ps(k, h1 + i);
        __m512 s = _mm512_div_ps(one, _mm512_add_ps(one, exp16(_mm512_sub_ps(zero, a))));
        _mm512_mask_storeu_ps(out + i, k, _mm512_mul_ps(_mm512_mul_ps(a, s), _mm512_maskz_loadu_ps(k, h3 + i)));
    }
}

AVX512 static void swiglu_backward_avx512(float *dh1, float *dh3, const float *dout, const float *h1,
                                          const float *h3, int64_t n) {
    const __m512 one = _mm512_set1_ps(1.0f), zero = _mm512_setzero_ps();
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 k = n - i >= 16 ? (__mmask16)0xffff : tail_mask(n - i);
        __m512 a = _mm512_maskz_loadu_ps(k, h1 + i), d = _mm512_maskz_loadu_ps(k, dout + i);
        __m512 s = _mm512_div_ps(one, _mm512_add_ps(one, exp16(_mm512_sub_ps(zero, a))));
        __m512 as = _mm512_mul_ps(a, s);
        _mm512_mask_storeu_ps(dh3 + i, k, _mm512_add_ps(_mm512_maskz_loadu_ps(k, dh3 + i), _mm512_mul_ps(d, as)));
        /* h3 * s * (1 + a (1 - s)) = h3 * (s + as - as * s) */
        __m512 g = _mm512_sub_ps(_mm512_add_ps(s, as), _mm512_mul_ps(as, s));
        __m512 t = _mm512_mul_ps(_mm512_mul_ps(d, _mm512_maskz_loadu_ps(k, h3 + i)), g);
        _mm512_mask_storeu_ps(dh1 + i, k, _mm512_add_ps(_mm512_maskz_loadu_ps(k, dh1 + i), t));
    }
}

/* The reference's operations in its order (vec.h): the same bits. */
AVX512 static void adamw_avx512(float *x, float *m, float *v, const float *g, int64_t n, const slm_adamw_coef *c) {
    const __m512 b1 = _mm512_set1_ps(c->beta1), b2 = _mm512_set1_ps(c->beta2);
    const __m512 ob1 = _mm512_set1_ps(c->one_minus_beta1), ob2 = _mm512_set1_ps(c->one_minus_beta2);
    const __m512 decay = _mm512_set1_ps(c->decay), step = _mm512_set1_ps(c->step_size);
    const __m512 bc2 = _mm512_set1_ps(c->bc2_sqrt), eps = _mm512_set1_ps(c->eps);
    for (int64_t j = 0; j < n; j += 16) {
        __mmask16 k = n - j >= 16 ? (__mmask16)0xffff : tail_mask(n - j);
        __m512 gj = _mm512_maskz_loadu_ps(k, g + j);
        __m512 mj = _mm512_add_ps(_mm512_mul_ps(b1, _mm512_maskz_loadu_ps(k, m + j)), _mm512_mul_ps(ob1, gj));
        __m512 vj = _mm512_add_ps(_mm512_mul_ps(b2, _mm512_maskz_loadu_ps(k, v + j)),
                                  _mm512_mul_ps(_mm512_mul_ps(ob2, gj), gj));
        __m512 den = _mm512_add_ps(_mm512_div_ps(_mm512_sqrt_ps(vj), bc2), eps);
        __m512 xj = _mm512_sub_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(k, x + j), decay),
                                  _mm512_div_ps(_mm512_mul_ps(step, mj), den));
        _mm512_mask_storeu_ps(m + j, k, mj);
        _mm512_mask_storeu_ps(v + j, k, vj);
        _mm512_mask_storeu_ps(x + j, k, xj);
    }
}

/* four double accumulators of eight lanes each, added at the end */
AVX512 static double sumsq_avx512(const float *x, int64_t n) {
    __m512d s0 = _mm512_setzero_pd(), s1 = _mm512_setzero_pd(), s2 = _mm512_setzero_pd(), s3 = _mm512_setzero_pd();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 a = _mm512_loadu_ps(x + i), b = _mm512_loadu_ps(x + i + 16);
        __m512d a0 = _mm512_cvtps_pd(_mm512_castps512_ps256(a));
        __m512d a1 = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a), 1)));
        __m512d b0 = _mm512_cvtps_pd(_mm512_castps512_ps256(b));
        __m512d b1 = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(b), 1)));
        s0 = _mm512_fmadd_pd(a0, a0, s0);
        s1 = _mm512_fmadd_pd(a1, a1, s1);
        s2 = _mm512_fmadd_pd(b0, b0, s2);
        s3 = _mm512_fmadd_pd(b1, b1, s3);
    }
    double r = _mm512_reduce_add_pd(_mm512_add_pd(_mm512_add_pd(s0, s1), _mm512_add_pd(s2, s3)));
    for (; i < n; i++) r += (double)x[i] * x[i];
    return r;
}

AVX512 static void scale_avx512(float *x, int64_t n, float s) {
    const __m512 vs = _mm512_set1_ps(s);
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 k = n - i >= 16 ? (__mmask16)0xffff : tail_mask(n - i);
        _mm512_mask_storeu_ps(x + i, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, x + i), vs));
    }
}

/* lanes [i, i+16) of x as two vectors of 8 doubles (masked: zeros past n) */
#define CVT_LO(v) _mm512_cvtps_pd(_mm512_castps512_ps256(v))
#define CVT_HI(v) _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)))

AVX512 static float rmsnorm_row_avx512(float *out, const float *x, const float *w, int64_t n, float eps) {
    __m512d s0 = _mm512_setzero_pd(), s1 = _mm512_setzero_pd();
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 k = n - i >= 16 ? (__mmask16)0xffff : tail_mask(n - i);
        __m512 v = _mm512_maskz_loadu_ps(k, x + i);
        __m512d lo = CVT_LO(v), hi = CVT_HI(v);
        s0 = _mm512_fmadd_pd(lo, lo, s0);
        s1 = _mm512_fmadd_pd(hi, hi, s1);
    }
    double ss = _mm512_reduce_add_pd(_mm512_add_pd(s0, s1));
    float r = (float)(1.0 / sqrt(ss / (double)n + eps));
    const __m512 vr = _mm512_set1_ps(r);
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 k = n - i >= 16 ? (__mmask16)0xffff : tail_mask(n - i);
        __m512 o = _mm512_mul_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(k, x + i), vr), _mm512_maskz_loadu_ps(k, w + i));
        _mm512_mask_storeu_ps(out + i, k, o);
    }
    return r;
}

AVX512 static void rmsnorm_backward_row_avx512(float *dx, const float *x, const float *w, const float *d, float r,
                                               int64_t n) {
    __m512d s0 = _mm512_setzero_pd(), s1 = _mm512_setzero_pd();
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 k = n - i >= 16 ? (__mmask16)0xffff : tail_mask(n - i);
        __m512 wv = _mm512_maskz_loadu_ps(k, w + i), dv = _mm512_maskz_loadu_ps(k, d + i);
        __m512 xv = _mm512_maskz_loadu_ps(k, x + i);
        s0 = _mm512_add_pd(s0, _mm512_mul_pd(_mm512_mul_pd(CVT_LO(wv), CVT_LO(dv)), CVT_LO(xv)));
        s1 = _mm512_add_pd(s1, _mm512_mul_pd(_mm512_mul_pd(CVT_HI(wv), CVT_HI(dv)), CVT_HI(xv)));
    }
    double dot = _mm512_reduce_add_pd(_mm512_add_pd(s0, s1));
    const __m512 vc = _mm512_set1_ps((float)(dot * r * r * r / (double)n)), vr = _mm512_set1_ps(r);
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 k = n - i >= 16 ? (__mmask16)0xffff : tail_mask(n - i);
        __m512 t = _mm512_sub_ps(_mm512_mul_ps(_mm512_mul_ps(vr, _mm512_maskz_loadu_ps(k, w + i)),
                                               _mm512_maskz_loadu_ps(k, d + i)),
                                 _mm512_mul_ps(vc, _mm512_maskz_loadu_ps(k, x + i)));
        _mm512_mask_storeu_ps(dx + i, k, _mm512_add_ps(_mm512_maskz_loadu_ps(k, dx + i), t));
    }
}

/* the reference's operations per element: the same bits */
AVX512 static void rmsnorm_gain_row_avx512(double *s, const float *d, const float *x, double r, int64_t n) {
    const __m512d vr = _mm512_set1_pd(r);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 dv = _mm512_loadu_ps(d + i), xv = _mm512_loadu_ps(x + i);
        __m512d lo = _mm512_mul_pd(_mm512_mul_pd(CVT_LO(dv), CVT_LO(xv)), vr);
        __m512d hi = _mm512_mul_pd(_mm512_mul_pd(CVT_HI(dv), CVT_HI(xv)), vr);
        _mm512_storeu_pd(s + i, _mm512_add_pd(_mm512_loadu_pd(s + i), lo));
        _mm512_storeu_pd(s + i + 8, _mm512_add_pd(_mm512_loadu_pd(s + i + 8), hi));
    }
    for (; i < n; i++) s[i] += (double)d[i] * x[i] * r;
}

static const slm_train_vec_kernels g_avx512 = {"avx512",
                                               max_avx512,
                                               exp_sum_avx512,
                                               swiglu_forward_avx512,
                                               swiglu_backward_avx512,
                                               adamw_avx512,
                                               sumsq_avx512,
                                               scale_avx512,
                                               rmsnorm_row_avx512,
                                               rmsnorm_backward_row_avx512,
                                               rmsnorm_gain_row_avx512};

const slm_train_vec_kernels *slm_train_vec_avx512(void) { return &g_avx512; }

#else

const slm_train_vec_kernels *slm_train_vec_avx512(void) { return 0; }

#endif
