/*
 * gemv_packed_avx512vnni.c — decoding with packed weights (packed.h) on
 * AVX-512 VNNI: the "avx512vnni" table's gemv_packed entries, for 1 to 4
 * activation rows (SLM_TILE_COLS).
 *
 * A group of 16 rows is streamed once, front to back. Each 64-byte load holds
 * 4 bytes (8 nibbles) of every row; its low and high nibbles are two level
 * registers, and VPDPBUSD with the 4 matching activation bytes broadcast adds
 * 4 products to each row's int32 lane. Per block (Q4_0) or sub-block (Q4_K)
 * the 16 lanes are then scaled at once, so the reductions and scale handling
 * a row-by-row dot pays per row are paid once per 16 rows.
 *
 * Same integer sums as the reference (ref/kernels_ref_int.c), in lanes:
 *   Q4_0·Q8_0  acc_r += (d_r dy) * (sum q*y - 8 * sum y)
 *   Q5_0·Q8_0  acc_r += (d_r dy) * (sum q*y - 16 * sum y)
 *   Q8_0·Q8_0  acc_r += (d_r dy) * (sum (q+128)*y - 128 * sum y)   (VPDPBUSD
 *              takes unsigned bytes: the levels move up by 128)
 *   Q4_K·Q8_K  acc_r += dy d_r * sum_j sc_rj S_rj - dy dmin_r * sum_j m_rj B_j
 *   Q6_K·Q8_K  acc_r += dy d_r * sum_j sc_rj (S_rj - 32 B_j)
 * (the offsets z Σy, z B_j and the pairs of B_j are formed once per call,
 * per token and block). Results match vec_dot of the unpacked rows within float
 * rounding (tests/test_kernels.c).
 */
#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

#include "base/fp16.h"
#include "kernels/kernels.h"
#include "kernels/packed.h"
#include "kernels/tile.h"
#include "quant/blocks.h"

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c"))), \
                             apply_to = function)
#elif defined(__GNUC__)
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")
#endif

/* Blocks whose per-token terms are formed up front (on the stack); longer
 * rows form them per group. 2048 blocks: rows of 65536 values (Q4_0). */
#define PRE_BLOCKS 2048

SLM_INLINE __m512i bcast4(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
}

/* Sum of 32 signed bytes. */
SLM_INLINE int32_t sum32(const int8_t *y) {
    const __m256i s = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(1),
                                          _mm256_loadu_si256((const __m256i *)y));
    __m128i t = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    t = _mm_add_epi32(t, _mm_shuffle_epi32(t, _MM_SHUFFLE(1, 0, 3, 2)));
    t = _mm_add_epi32(t, _mm_shuffle_epi32(t, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(t);
}

SLM_INLINE void store_rows(float *out, __m512 v, int64_t rows_left) {
    const __mmask16 m = rows_left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << rows_left) - 1);
    _mm512_mask_storeu_ps(out, m, v);
}

/* ======================================================================== */
/* Legacy blocks (Q4_0, Q5_0, Q8_0) x Q8_0                                   */
/* ======================================================================== */

#define COL_BYTES(T) (SLM_PACK_ROWS * sizeof(T)) /* bytes of one block column of a group */

/* In each dword, 4 copies of its byte b (a VPSHUFB index). */
SLM_INLINE __m512i spread_byte(int b) {
    const int32_t v = (int32_t)(0x01010101u * (uint32_t)b);
    return _mm512_add_epi32(_mm512_set1_epi32(v), _mm512_set_epi32(0x0c0c0c0c, 0x08080808, 0x04040404, 0,
                                                                  0x0c0c0c0c, 0x08080808, 0x04040404, 0,
                                                                  0x0c0c0c0c, 0x08080808, 0x04040404, 0,
                                                                  0x0c0c0c0c, 0x08080808, 0x04040404, 0));
}

/* The unsigned levels of one block column c: lv[k] holds values 4k .. 4k+3
 * of the 16 rows (k < 8).
 *   Q4_0: dword k < 4 of the nibbles holds values 4k + j (low) and 16 + 4k + j (high);
 *   Q5_0: the same, | the fifth bit: bits 4 (k % 2) + j of qh byte k / 2 (low) and byte 2 + k / 2
 *         (high), which VPSHUFB spreads over the row's 4 bytes and VPTESTMB picks bit j in byte j;
 *   Q8_0: dword k is values 4k + j, + 128 (VPDPBUSD takes unsigned bytes). */
SLM_INLINE void legacy_levels(const int TYPE, const uint8_t *c, __m512i lv[8]) {
    const __m512i m4 = _mm512_set1_epi8(15);
    if (TYPE == SLM_TYPE_Q8_0) {
        _Pragma("GCC unroll 8") for (int k = 0; k < 8; k++)
            lv[k] = _mm512_xor_si512(_mm512_loadu_si512(c + 32 + 64 * k), _mm512_set1_epi8((char)0x80));
        return;
    }
    const int qs = TYPE == SLM_TYPE_Q5_0 ? 96 : 32;
    SLM_UNROLL for (int k = 0; k < 4; k++) {
        const __m512i q = _mm512_loadu_si512(c + qs + 64 * k);
        lv[k] = _mm512_and_si512(q, m4);
        lv[k + 4] = _mm512_and_si512(_mm512_srli_epi16(q, 4), m4);
        if (TYPE == SLM_TYPE_Q5_0) {
            const __m512i qh = _mm512_loadu_si512(c + 32), b16 = _mm512_set1_epi8(16);
            const __m512i bits = _mm512_set1_epi32(k % 2 ? (int)0x80402010u : 0x08040201);
            const __mmask64 ml = _mm512_test_epi8_mask(_mm512_shuffle_epi8(qh, spread_byte(k / 2)), bits);
            const __mmask64 mh = _mm512_test_epi8_mask(_mm512_shuffle_epi8(qh, spread_byte(2 + k / 2)), bits);
            lv[k] = _mm512_mask_add_epi8(lv[k], ml, lv[k], b16);
            lv[k + 4] = _mm512_mask_add_epi8(lv[k + 4], mh, lv[k + 4], b16);
        }
    }
}

/* Groups [0, ng) of TYPE (COL bytes per block column, level offset Z)
 * against NX tokens; zy[t][b] = -Z * sum y, dy[t][b] = the token's block
 * scale (pre = 1), or formed here per block (pre = 0). */
SLM_INLINE void legacy_groups(const int TYPE, const size_t COL, const int Z, const int NX, int64_t nb,
                              const uint8_t *w, int64_t ng, const uint8_t *x, size_t xs, float *out, size_t os,
                              int64_t n_rows, const int32_t *zy, const float *dy, int pre) {
    for (int64_t g = 0; g < ng; g++) {
        const uint8_t *gp = w + (size_t)g * (size_t)nb * COL;
        __m512 acc[4];
        SLM_UNROLL for (int t = 0; t < NX; t++) acc[t] = _mm512_setzero_ps();
        for (int64_t b = 0; b < nb; b++) {
            const uint8_t *c = gp + (size_t)b * COL;
            const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)c));
            __m512i lv[8];
            legacy_levels(TYPE, c, lv);
            SLM_UNROLL for (int t = 0; t < NX; t++) {
                const block_q8_0 *y = XROW(block_q8_0, x, xs, t) + b;
                const int32_t z = pre ? zy[t * nb + b] : -Z * sum32(y->qs);
                const float d = pre ? dy[t * nb + b] : slm_fp16_to_fp32(y->d);
                __m512i s0 = _mm512_set1_epi32(z), s1 = _mm512_setzero_si512();
                SLM_UNROLL for (int k = 0; k < 4; k++) {
                    s0 = _mm512_dpbusd_epi32(s0, lv[k], bcast4(y->qs + 4 * k));
                    s1 = _mm512_dpbusd_epi32(s1, lv[k + 4], bcast4(y->qs + 16 + 4 * k));
                }
                acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(s0, s1)),
                                         _mm512_mul_ps(dw, _mm512_set1_ps(d)), acc[t]);
            }
        }
        SLM_UNROLL for (int t = 0; t < NX; t++) store_rows(out + (size_t)t * os + g * 16, acc[t], n_rows - g * 16);
    }
}

/* The per-token terms of the Q8_0 activations: z * sum y and dy per block. */
SLM_INLINE void q8_0_terms(const uint8_t *x, size_t xs, int nx, int64_t nb, int z, int32_t *zy, float *dy) {
    for (int t = 0; t < nx; t++)
        for (int64_t b = 0; b < nb; b++) {
            const block_q8_0 *y = XROW(block_q8_0, x, xs, t) + b;
            zy[t * nb + b] = -z * sum32(y->qs);
            dy[t * nb + b] = slm_fp16_to_fp32(y->d);
        }
}

#define LEGACY_ENTRY(T, TYPE, BLOCK, Z)                                                                        \
    static void gemv_##T(int64_t n, const uint8_t *w, int64_t ng, const void *xv, size_t xs, int nx, float *out, \
                         size_t os, int64_t n_rows) {                                                           \
        const uint8_t *x = xv;                                                                                  \
        const int64_t nb = n / 32;                                                                              \
        int32_t zy[SLM_TILE_COLS * PRE_BLOCKS];                                                                 \
        float dy[SLM_TILE_COLS * PRE_BLOCKS];                                                                   \
        const int pre = nb <= PRE_BLOCKS;                                                                       \
        if (pre) q8_0_terms(x, xs, nx, nb, Z, zy, dy);                                                          \
        const size_t col = COL_BYTES(BLOCK);                                                                    \
        switch (nx) {                                                                                           \
        case 1: legacy_groups(TYPE, col, Z, 1, nb, w, ng, x, xs, out, os, n_rows, zy, dy, pre); break;          \
        case 2: legacy_groups(TYPE, col, Z, 2, nb, w, ng, x, xs, out, os, n_rows, zy, dy, pre); break;          \
        case 3: legacy_groups(TYPE, col, Z, 3, nb, w, ng, x, xs, out, os, n_rows, zy, dy, pre); break;          \
        default: legacy_groups(TYPE, col, Z, 4, nb, w, ng, x, xs, out, os, n_rows, zy, dy, pre); break;         \
        }                                                                                                       \
    }
LEGACY_ENTRY(q4_0, SLM_TYPE_Q4_0, block_q4_0, 8)
LEGACY_ENTRY(q5_0, SLM_TYPE_Q5_0, block_q5_0, 16)
LEGACY_ENTRY(q8_0, SLM_TYPE_Q8_0, block_q8_0, 128)

/* ======================================================================== */
/* Q4_K x Q8_K                                                               */
/* ======================================================================== */

#define Q4_K_COL (SLM_PACK_ROWS * sizeof(block_q4_K))

/* The mins term pairs sub-blocks (j, j + 2) as int16 lanes for VPDPWSSD:
 * pair p = 0..3 is (B_0, B_2), (B_1, B_3), (B_4, B_6), (B_5, B_7), with B_j =
 * bsums[2j] + bsums[2j + 1] (|B_j| <= 32 * 128, an int16). */
SLM_INLINE void q8_K_pairs(const block_q8_K *y, int32_t bp[4]) {
    int B[8];
    for (int j = 0; j < 8; j++) B[j] = y->bsums[2 * j] + y->bsums[2 * j + 1];
    static const int first[4] = {0, 1, 4, 5};
    for (int p = 0; p < 4; p++)
        bp[p] = (int32_t)((uint32_t)(uint16_t)(int16_t)B[first[p]] | (uint32_t)(uint16_t)(int16_t)B[first[p] + 2] << 16);
}

SLM_INLINE void q4_K_groups(const int NX, int64_t nb, const uint8_t *w, int64_t ng, const uint8_t *x, size_t xs,
                            float *out, size_t os, int64_t n_rows, const int32_t *bps, const int pre) {
    const __m512i m4 = _mm512_set1_epi8(15), m6 = _mm512_set1_epi32(0x3f3f3f3f), m2 = _mm512_set1_epi32(0x03030303),
                  m4w = _mm512_set1_epi32(0x0f0f0f0f), mlo = _mm512_set1_epi32(0x00ff00ff),
                  m8 = _mm512_set1_epi32(0xff);
    for (int64_t g = 0; g < ng; g++) {
        const uint8_t *gp = w + (size_t)g * (size_t)nb * Q4_K_COL;
        __m512 acc[4];
        SLM_UNROLL for (int t = 0; t < NX; t++) acc[t] = _mm512_setzero_ps();
        for (int64_t i = 0; i < nb; i++) {
            const uint8_t *c = gp + (size_t)i * Q4_K_COL;
            const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)c));
            const __m512 dmw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(c + 32)));
            /* each lane: its row's 8 scales (o[0], o[1]) and 8 mins (o[2], o[3]), a byte each (kscales.h) */
            const __m512i w0 = _mm512_loadu_si512(c + 64), w1 = _mm512_loadu_si512(c + 128),
                          w2 = _mm512_loadu_si512(c + 192);
            __m512i o[4];
            o[0] = _mm512_and_si512(w0, m6);
            o[1] = _mm512_or_si512(_mm512_and_si512(w2, m4w),
                                   _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(w0, 6), m2), 4));
            o[2] = _mm512_and_si512(w1, m6);
            o[3] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi32(w2, 4), m4w),
                                   _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(w1, 6), m2), 4));
            /* mins as int16 pairs (m_j, m_j+2) for the B pairs of q8_K_pairs */
            const __m512i mp[4] = {_mm512_and_si512(o[2], mlo), _mm512_and_si512(_mm512_srli_epi32(o[2], 8), mlo),
                                   _mm512_and_si512(o[3], mlo), _mm512_and_si512(_mm512_srli_epi32(o[3], 8), mlo)};
            __m512i isum[4], msum[4];
            const block_q8_K *y[4];
            SLM_UNROLL for (int t = 0; t < NX; t++) {
                y[t] = XROW(block_q8_K, x, xs, t) + i;
                int32_t bq[4];
                const int32_t *bp = bq;
                if (pre) bp = bps + ((size_t)t * (size_t)nb + (size_t)i) * 4;
                else q8_K_pairs(y[t], bq);
                msum[t] = _mm512_setzero_si512();
                SLM_UNROLL for (int p = 0; p < 4; p++) msum[t] = _mm512_dpwssd_epi32(msum[t], mp[p], _mm512_set1_epi32(bp[p]));
                isum[t] = _mm512_setzero_si512();
            }
            for (int ch = 0; ch < 4; ch++) {
                const int j0 = 2 * ch, j1 = 2 * ch + 1;
                const __m512i sc0 = _mm512_and_si512(_mm512_srli_epi32(o[j0 / 4], 8 * (j0 % 4)), m8);
                const __m512i sc1 = _mm512_and_si512(_mm512_srli_epi32(o[j1 / 4], 8 * (j1 % 4)), m8);
                const uint8_t *qb = c + 256 + (size_t)ch * 512;
                __m512i slo[4], shi[4];
                SLM_UNROLL for (int t = 0; t < NX; t++) slo[t] = shi[t] = _mm512_setzero_si512();
                _Pragma("GCC unroll 8") for (int k = 0; k < 8; k++) {
                    const __m512i q = _mm512_loadu_si512(qb + 64 * k);
                    const __m512i lo = _mm512_and_si512(q, m4), hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), m4);
                    SLM_UNROLL for (int t = 0; t < NX; t++) {
                        const int8_t *yq = y[t]->qs + 64 * ch;
                        slo[t] = _mm512_dpbusd_epi32(slo[t], lo, bcast4(yq + 4 * k));
                        shi[t] = _mm512_dpbusd_epi32(shi[t], hi, bcast4(yq + 32 + 4 * k));
                    }
                }
                SLM_UNROLL for (int t = 0; t < NX; t++)
                    isum[t] = _mm512_add_epi32(isum[t], _mm512_add_epi32(_mm512_mullo_epi32(slo[t], sc0),
                                                                         _mm512_mullo_epi32(shi[t], sc1)));
            }
            SLM_UNROLL for (int t = 0; t < NX; t++) {
                const __m512 d = _mm512_set1_ps(y[t]->d);
                acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[t]), _mm512_mul_ps(dw, d), acc[t]);
                acc[t] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(msum[t]), _mm512_mul_ps(dmw, d), acc[t]);
            }
        }
        SLM_UNROLL for (int t = 0; t < NX; t++) store_rows(out + (size_t)t * os + g * 16, acc[t], n_rows - g * 16);
    }
}

static void gemv_q4_K(int64_t n, const uint8_t *w, int64_t ng, const void *xv, size_t xs, int nx, float *out,
                      size_t os, int64_t n_rows) {
    const uint8_t *x = xv;
    const int64_t nb = n / QK_K;
    int32_t bps[SLM_TILE_COLS * (PRE_BLOCKS / 8) * 4];
    const int pre = nb <= PRE_BLOCKS / 8;
    if (pre)
        for (int t = 0; t < nx; t++)
            for (int64_t i = 0; i < nb; i++) q8_K_pairs(XROW(block_q8_K, x, xs, t) + i, bps + ((size_t)t * nb + i) * 4);
    switch (nx) {
    case 1: q4_K_groups(1, nb, w, ng, x, xs, out, os, n_rows, bps, pre); break;
    case 2: q4_K_groups(2, nb, w, ng, x, xs, out, os, n_rows, bps, pre); break;
    case 3: q4_K_groups(3, nb, w, ng, x, xs, out, os, n_rows, bps, pre); break;
    default: q4_K_groups(4, nb, w, ng, x, xs, out, os, n_rows, bps, pre); break;
    }
}

/* ======================================================================== */
/* Q6_K x Q8_K                                                               */
/* ======================================================================== */

#define Q6_K_COL (SLM_PACK_ROWS * sizeof(block_q6_K))

SLM_INLINE void q6_K_groups(const int NX, int64_t nb, const uint8_t *w, int64_t ng, const uint8_t *x, size_t xs,
                            float *out, size_t os, int64_t n_rows) {
    const __m512i m4 = _mm512_set1_epi8(15), m30 = _mm512_set1_epi8(0x30);
    for (int64_t g = 0; g < ng; g++) {
        const uint8_t *gp = w + (size_t)g * (size_t)nb * Q6_K_COL;
        __m512 acc[4];
        SLM_UNROLL for (int t = 0; t < NX; t++) acc[t] = _mm512_setzero_ps();
        for (int64_t i = 0; i < nb; i++) {
            const uint8_t *c = gp + (size_t)i * Q6_K_COL, *wd = c + 32; /* words: ql 0..31, qh 32..47, scales 48..51 */
            /* the loop below reads a column in three interleaved runs (ql, qh, scales), which the
             * hardware prefetcher follows poorly (measured from memory, 2 threads: 13 GB/s, against
             * 29 for the rows one by one): fetch the column 4 ahead into L2, whole (then 34 GB/s;
             * 2 or 3 ahead, or into L1, measured slower) */
            for (int l = 0; l < (int)Q6_K_COL; l += 64) _mm_prefetch((const char *)c + 4 * Q6_K_COL + l, _MM_HINT_T1);
            const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)c));
            const block_q8_K *y[4];
            __m512i isum[4];
            SLM_UNROLL for (int t = 0; t < NX; t++) {
                y[t] = XROW(block_q8_K, x, xs, t) + i;
                isum[t] = _mm512_setzero_si512();
            }
            for (int h = 0; h < 2; h++)
                for (int m = 0; m < 4; m++) { /* sub-blocks 8h + m (low nibbles) and 8h + 4 + m (high) */
                    const int jl = 8 * h + m, jh = 8 * h + 4 + m;
                    __m512i slo[4], shi[4];
                    SLM_UNROLL for (int t = 0; t < NX; t++) {
                        slo[t] = _mm512_set1_epi32(-32 * y[t]->bsums[jl]);
                        shi[t] = _mm512_set1_epi32(-32 * y[t]->bsums[jh]);
                    }
                    SLM_UNROLL for (int kk = 0; kk < 4; kk++) {
                        const int k = 4 * m + kk, s = 2 * (k / 8);
                        const __m512i ql = _mm512_loadu_si512(wd + 64 * (16 * h + k));
                        const __m512i qh = _mm512_loadu_si512(wd + 64 * (32 + 8 * h + k % 8));
                        /* qh bits s, s+1 (low nibbles) and 4+s, 5+s (high) to bits 4-5 */
                        const __m512i lo = _mm512_or_si512(_mm512_and_si512(ql, m4),
                                                           _mm512_and_si512(_mm512_slli_epi16(qh, 4 - s), m30));
                        const __m512i hi = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), m4),
                                                           _mm512_and_si512(_mm512_srli_epi16(qh, s), m30));
                        SLM_UNROLL for (int t = 0; t < NX; t++) {
                            const int8_t *yq = y[t]->qs + 128 * h + 4 * k;
                            slo[t] = _mm512_dpbusd_epi32(slo[t], lo, bcast4(yq));
                            shi[t] = _mm512_dpbusd_epi32(shi[t], hi, bcast4(yq + 64));
                        }
                    }
                    /* the int8 scales, sign-extended from byte j % 4 of word j / 4 */
                    const __m512i swl = _mm512_loadu_si512(wd + 64 * (48 + jl / 4));
                    const __m512i swh = _mm512_loadu_si512(wd + 64 * (48 + jh / 4));
                    const __m512i scl = _mm512_srai_epi32(_mm512_slli_epi32(swl, 24 - 8 * (jl % 4)), 24);
                    const __m512i sch = _mm512_srai_epi32(_mm512_slli_epi32(swh, 24 - 8 * (jh % 4)), 24);
                    SLM_UNROLL for (int t = 0; t < NX; t++)
                        isum[t] = _mm512_add_epi32(isum[t], _mm512_add_epi32(_mm512_mullo_epi32(slo[t], scl),
                                                                             _mm512_mullo_epi32(shi[t], sch)));
                }
            SLM_UNROLL for (int t = 0; t < NX; t++)
                acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[t]), _mm512_mul_ps(dw, _mm512_set1_ps(y[t]->d)), acc[t]);
        }
        SLM_UNROLL for (int t = 0; t < NX; t++) store_rows(out + (size_t)t * os + g * 16, acc[t], n_rows - g * 16);
    }
}

static void gemv_q6_K(int64_t n, const uint8_t *w, int64_t ng, const void *xv, size_t xs, int nx, float *out,
                      size_t os, int64_t n_rows) {
    const uint8_t *x = xv;
    const int64_t nb = n / QK_K;
    switch (nx) {
    case 1: q6_K_groups(1, nb, w, ng, x, xs, out, os, n_rows); break;
    case 2: q6_K_groups(2, nb, w, ng, x, xs, out, os, n_rows); break;
    case 3: q6_K_groups(3, nb, w, ng, x, xs, out, os, n_rows); break;
    default: q6_K_groups(4, nb, w, ng, x, xs, out, os, n_rows); break;
    }
}

void slm_avx512vnni_set_gemv_packed(slm_kernel_table *t) {
    t->gemv_packed[SLM_TYPE_Q4_0] = gemv_q4_0;
    t->gemv_packed[SLM_TYPE_Q5_0] = gemv_q5_0;
    t->gemv_packed[SLM_TYPE_Q8_0] = gemv_q8_0;
    t->gemv_packed[SLM_TYPE_Q4_K] = gemv_q4_K;
    t->gemv_packed[SLM_TYPE_Q6_K] = gemv_q6_K;
}

#if defined(__clang__)
#pragma clang attribute pop
#elif defined(__GNUC__)
#pragma GCC pop_options
#endif
#endif /* __x86_64__ */
