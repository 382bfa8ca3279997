/*
 * quant_k.c — the K-quants Q2_K, Q3_K, Q4_K, Q5_K, Q6_K and the activation
 * type Q8_K: reference quantize and dequantize (layouts in blocks.h).
 *
 * A super-block of 256 values is cut into sub-blocks of 16 or 32 values;
 * each sub-block gets its own scale (and min), found by a small search that
 * minimises a weighted squared (or absolute) error; the sub-block scales are
 * then themselves quantized to 4, 6 or 8 bits against one fp16 super-scale,
 * and finally every value is re-rounded against the scale it will really be
 * decoded with.
 *
 * The quantizers reproduce llama.cpp's reference quantizers (the path that
 * llama-quantize takes without an importance matrix) bit for bit: the same
 * searches, the same float operations in the same order, the same rounding
 * (round half to even through the 1.5*2^23 trick). Do not "simplify" an
 * expression here without running the golden-file test in test_quant.c;
 * FP_CONTRACT is off because a fused multiply-add would change some bytes.
 *
 * Deliberately absent: importance-matrix quantization and SIMD.
 */
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "base/fp16.h"
#include "quant/blocks.h"

/* No fused multiply-adds: GCC does not contract in ISO C mode (-std=c11);
 * clang does unless told. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

/* Below this a group counts as all zero. */
#define GROUP_MAX_EPS 1e-15f

/* ======================================================================== */
/* Shared helpers                                                            */
/* ======================================================================== */

/* Round to nearest, ties to even, for |v| < 2^22: adding 1.5*2^23 leaves the
 * rounded integer in the low mantissa bits. */
static inline int nearest_int(float v) {
    float t = v + 12582912.0f;
    int32_t i;
    memcpy(&i, &t, 4);
    return (i & 0x007fffff) - 0x00400000;
}

static inline int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* The value with the largest magnitude, keeping its sign (the first on ties;
 * 0 if all are 0). */
static float signed_abs_max(const float *x, int n, float *amax_out) {
    float max = 0.0f, amax = 0.0f;
    for (int i = 0; i < n; i++) {
        float ax = fabsf(x[i]);
        if (ax > amax) {
            amax = ax;
            max = x[i];
        }
    }
    *amax_out = amax;
    return max;
}

/*
 * Symmetric scale for n values with levels -nmax..nmax-1 (weights x^2):
 * starts from the scale that maps the extreme value to -nmax, then tries
 * 18 nearby scales (nmax +- 0.1..0.9) and keeps the one with the largest
 * (sum w*x*l)^2 / (sum w*l^2), i.e. the smallest weighted squared error
 * with the least-squares scale. Writes L[i] = l + nmax (0..2*nmax-1) and
 * returns the scale. (llama.cpp: make_qx_quants, rmse_type 1, no weights.)
 */
static float fit_scale_symmetric(int n, int nmax, const float *x, int8_t *L) {
    float amax;
    const float max = signed_abs_max(x, n, &amax);
    if (amax < GROUP_MAX_EPS) {
        memset(L, 0, (size_t)n);
        return 0.0f;
    }
    float iscale = -nmax / max;
    float sumlx = 0.0f, suml2 = 0.0f;
    for (int i = 0; i < n; i++) {
        int l = clampi(nearest_int(iscale * x[i]), -nmax, nmax - 1);
        L[i] = (int8_t)(l + nmax);
        float w = x[i] * x[i];
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    float scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    for (int is = -9; is <= 9; is++) {
        if (is == 0) continue;
        iscale = -(nmax + 0.1f * is) / max;
        sumlx = suml2 = 0.0f;
        for (int i = 0; i < n; i++) {
            int l = clampi(nearest_int(iscale * x[i]), -nmax, nmax - 1);
            float w = x[i] * x[i];
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        if (suml2 > 0.0f && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; i++)
                L[i] = (int8_t)(nmax + clampi(nearest_int(iscale * x[i]), -nmax, nmax - 1));
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

/*
 * Symmetric 3-bit-style fit (levels -nmax..nmax-1, weights x^2): rounds
 * with the extreme value at -nmax, then for up to 5 passes moves single
 * values to the level the least-squares scale of the others asks for,
 * whenever that lowers the error. Writes L[i] = l + nmax and returns the
 * scale. (llama.cpp: make_q3_quants with do_rmse.)
 */
static float fit_scale_symmetric_iterative(int n, int nmax, const float *x, int8_t *L) {
    float amax;
    const float max = signed_abs_max(x, n, &amax);
    if (amax < GROUP_MAX_EPS) {
        memset(L, 0, (size_t)n);
        return 0.0f;
    }
    const float iscale = -nmax / max;
    float sumlx = 0.0f, suml2 = 0.0f;
    for (int i = 0; i < n; i++) {
        int l = clampi(nearest_int(iscale * x[i]), -nmax, nmax - 1);
        L[i] = (int8_t)l;
        float w = x[i] * x[i];
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    for (int pass = 0; pass < 5; pass++) {
        int n_changed = 0;
        for (int i = 0; i < n; i++) {
            float w = x[i] * x[i];
            float slx = sumlx - w * x[i] * L[i];
            if (slx > 0.0f) {
                float sl2 = suml2 - w * L[i] * L[i];
                int new_l = clampi(nearest_int(x[i] * sl2 / slx), -nmax, nmax - 1);
                if (new_l != L[i]) {
                    slx += w * x[i] * new_l;
                    sl2 += w * new_l * new_l;
                    if (sl2 > 0.0f && slx * slx * suml2 > sumlx * sumlx * sl2) {
                        L[i] = (int8_t)new_l;
                        sumlx = slx;
                        suml2 = sl2;
                        n_changed++;
                    }
                }
            }
        }
        if (!n_changed) break;
    }
    for (int i = 0; i < n; i++) L[i] = (int8_t)(L[i] + nmax);
    return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

/*
 * Asymmetric fit x ~ scale * l - min_out with l in 0..nmax and min_out >= 0
 * (min is clamped to <= 0 first, so a block of positive values keeps 0 as
 * its offset). Starting from the plain min/max grid, tries nstep+1 grids of
 * (nmax + rmin + rdelta*is) steps across the current range; for each it
 * solves the weighted least squares for scale and min and keeps it if the
 * weighted error (squared, or absolute with use_mad) drops. Note that the
 * range used by later grids follows the best min found so far.
 * Writes L (0..nmax), *min_out and returns the scale. (llama.cpp:
 * make_qkx2_quants.) Laux is scratch of n bytes.
 */
static float fit_scale_min(int n, int nmax, const float *x, const float *weights, uint8_t *L,
                           float *min_out, uint8_t *Laux, float rmin, float rdelta, int nstep,
                           bool use_mad) {
    float min = x[0], max = x[0];
    float sum_w = weights[0];
    float sum_x = sum_w * x[0];
    for (int i = 1; i < n; i++) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        float w = weights[i];
        sum_w += w;
        sum_x += w * x[i];
    }
    if (min > 0.0f) min = 0.0f;
    if (max == min) {
        memset(L, 0, (size_t)n);
        *min_out = -min;
        return 0.0f;
    }
    float iscale = nmax / (max - min);
    float scale = 1 / iscale;
    float best_error = 0.0f;
    for (int i = 0; i < n; i++) {
        L[i] = (uint8_t)clampi(nearest_int(iscale * (x[i] - min)), 0, nmax);
        float diff = scale * L[i] + min - x[i];
        diff = use_mad ? fabsf(diff) : diff * diff;
        best_error += weights[i] * diff;
    }
    if (nstep < 1) {
        *min_out = -min;
        return scale;
    }
    for (int is = 0; is <= nstep; is++) {
        iscale = (rmin + rdelta * is + nmax) / (max - min);
        float sum_l = 0.0f, sum_l2 = 0.0f, sum_xl = 0.0f;
        for (int i = 0; i < n; i++) {
            int l = clampi(nearest_int(iscale * (x[i] - min)), 0, nmax);
            Laux[i] = (uint8_t)l;
            float w = weights[i];
            sum_l += w * l;
            sum_l2 += w * l * l;
            sum_xl += w * l * x[i];
        }
        float D = sum_w * sum_l2 - sum_l * sum_l;
        if (D > 0.0f) {
            float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
            float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
            if (this_min > 0.0f) {
                this_min = 0.0f;
                this_scale = sum_xl / sum_l2;
            }
            float cur_error = 0.0f;
            for (int i = 0; i < n; i++) {
                float diff = this_scale * Laux[i] + this_min - x[i];
                diff = use_mad ? fabsf(diff) : diff * diff;
                cur_error += weights[i] * diff;
            }
            if (cur_error < best_error) {
                memcpy(L, Laux, (size_t)n);
                best_error = cur_error;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    *min_out = -min;
    return scale;
}

/* Packs the 2-bit values L[0..255] (Q2_K and the low bits of Q3_K): byte
 * 32h + l holds values 128h + l + 32s at bits 2s (s = 0..3). */
static void pack_2bit(const uint8_t *L, uint8_t *qs) {
    for (int h = 0; h < QK_K; h += 128)
        for (int l = 0; l < 32; l++)
            qs[h / 4 + l] = (uint8_t)(L[h + l] | L[h + l + 32] << 2 | L[h + l + 64] << 4 |
                                      L[h + l + 96] << 6);
}

static inline int unpack_2bit(const uint8_t *qs, int k) {
    return qs[(k / 128) * 32 + k % 32] >> (2 * ((k % 128) / 32)) & 3;
}

/* ======================================================================== */
/* Q4_K and Q5_K share the 6-bit scale/min packing                           */
/* ======================================================================== */

/* Writes scale ls and min lm (0..63) of sub-block j (0..7) into the 12
 * packed bytes. Sub-blocks must be written in order 0..7: j >= 4 puts its
 * top 2 bits into bytes 0..7, which j < 4 assigned. */
static void pack_scale_min_k4(int j, uint8_t ls, uint8_t lm, uint8_t *q) {
    if (j < 4) {
        q[j] = ls;
        q[j + 4] = lm;
    } else {
        q[j + 4] = (uint8_t)((ls & 0xF) | (lm & 0xF) << 4);
        q[j - 4] |= (uint8_t)((ls >> 4) << 6);
        q[j] |= (uint8_t)((lm >> 4) << 6);
    }
}

static void unpack_scale_min_k4(int j, const uint8_t *q, uint8_t *sc, uint8_t *m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (uint8_t)((q[j + 4] & 0xF) | (q[j - 4] >> 6) << 4);
        *m = (uint8_t)((q[j + 4] >> 4) | (q[j] >> 6) << 4);
    }
}

/*
 * The common part of the Q4_K and Q5_K quantizers for one super-block:
 * fits scale and min of the 8 sub-blocks of 32 (weights av_x + |x|), packs
 * them to 6 bits against d = max_scale/63 and dmin = max_min/63, then
 * re-rounds every value to 0..nmax against its decoded scale and min.
 */
static void quant_superblock_k4(const float *x, int nmax, float rmin, float rdelta, int nstep,
                                uint16_t *d_out, uint16_t *dmin_out, uint8_t *packed_scales,
                                uint8_t L[QK_K]) {
    float scales[QK_K / 32], mins[QK_K / 32], weights[32];
    uint8_t Laux[32];
    float max_scale = 0.0f, max_min = 0.0f; /* mins are subtracted: both are >= 0 */
    for (int j = 0; j < QK_K / 32; j++) {
        const float *xs = x + 32 * j;
        float sum_x2 = 0.0f;
        for (int l = 0; l < 32; l++) sum_x2 += xs[l] * xs[l];
        const float av_x = sqrtf(sum_x2 / 32);
        for (int l = 0; l < 32; l++) weights[l] = av_x + fabsf(xs[l]);
        scales[j] = fit_scale_min(32, nmax, xs, weights, L + 32 * j, &mins[j], Laux, rmin, rdelta,
                                  nstep, false);
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
    }

    const float inv_scale = max_scale > 0.0f ? 63.0f / max_scale : 0.0f;
    const float inv_min = max_min > 0.0f ? 63.0f / max_min : 0.0f;
    for (int j = 0; j < QK_K / 32; j++) {
        uint8_t ls = (uint8_t)nearest_int(inv_scale * scales[j]);
        uint8_t lm = (uint8_t)nearest_int(inv_min * mins[j]);
        if (ls > 63) ls = 63;
        if (lm > 63) lm = 63;
        pack_scale_min_k4(j, ls, lm, packed_scales);
    }
    *d_out = slm_fp32_to_fp16(max_scale / 63.0f);
    *dmin_out = slm_fp32_to_fp16(max_min / 63.0f);

    const float d_all = slm_fp16_to_fp32(*d_out);
    const float dmin_all = slm_fp16_to_fp32(*dmin_out);
    for (int j = 0; j < QK_K / 32; j++) {
        uint8_t sc, m;
        unpack_scale_min_k4(j, packed_scales, &sc, &m);
        const float d = d_all * sc;
        if (d == 0.0f) continue; /* keeps the levels of the fit */
        const float dm = dmin_all * m;
        for (int l = 0; l < 32; l++)
            L[32 * j + l] = (uint8_t)clampi(nearest_int((x[32 * j + l] + dm) / d), 0, nmax);
    }
}

/* ======================================================================== */
/* Q2_K                                                                      */
/* ======================================================================== */

size_t slm_quant_row_q2_K(const float *src, void *dst, int64_t n) {
    block_q2_K *y = dst;
    const int64_t nb = n / QK_K;
    const float q4scale = 15.0f;
    for (int64_t i = 0; i < nb; i++) {
        const float *x = src + i * QK_K;
        uint8_t L[QK_K], Laux[16];
        float weights[16], scales[QK_K / 16], mins[QK_K / 16];
        float max_scale = 0.0f, max_min = 0.0f;
        for (int j = 0; j < QK_K / 16; j++) {
            for (int l = 0; l < 16; l++) weights[l] = fabsf(x[16 * j + l]);
            scales[j] = fit_scale_min(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], Laux,
                                      -0.5f, 0.1f, 15, true);
            if (scales[j] > max_scale) max_scale = scales[j];
            if (mins[j] > max_min) max_min = mins[j];
        }

        /* 4-bit scales in the low nibbles, 4-bit mins in the high ones. */
        if (max_scale > 0.0f) {
            const float iscale = q4scale / max_scale;
            for (int j = 0; j < QK_K / 16; j++)
                y[i].scales[j] = (uint8_t)nearest_int(iscale * scales[j]);
            y[i].d = slm_fp32_to_fp16(max_scale / q4scale);
        } else {
            memset(y[i].scales, 0, sizeof y[i].scales);
            y[i].d = slm_fp32_to_fp16(0.0f);
        }
        if (max_min > 0.0f) {
            const float iscale = q4scale / max_min;
            for (int j = 0; j < QK_K / 16; j++)
                y[i].scales[j] |= (uint8_t)(nearest_int(iscale * mins[j]) << 4);
            y[i].dmin = slm_fp32_to_fp16(max_min / q4scale);
        } else {
            y[i].dmin = slm_fp32_to_fp16(0.0f);
        }

        const float d_all = slm_fp16_to_fp32(y[i].d);
        const float dmin_all = slm_fp16_to_fp32(y[i].dmin);
        for (int j = 0; j < QK_K / 16; j++) {
            const float d = d_all * (y[i].scales[j] & 0xF);
            if (d == 0.0f) continue;
            const float dm = dmin_all * (y[i].scales[j] >> 4);
            for (int l = 0; l < 16; l++)
                L[16 * j + l] = (uint8_t)clampi(nearest_int((x[16 * j + l] + dm) / d), 0, 3);
        }
        pack_2bit(L, y[i].qs);
    }
    return (size_t)nb * sizeof(block_q2_K);
}

void slm_dequant_row_q2_K(const void *src, float *dst, int64_t n) {
    const block_q2_K *x = src;
    const int64_t nb = n / QK_K;
    for (int64_t i = 0; i < nb; i++) {
        const float d = slm_fp16_to_fp32(x[i].d);
        const float dmin = slm_fp16_to_fp32(x[i].dmin);
        float *y = dst + i * QK_K;
        for (int j = 0; j < QK_K / 16; j++) {
            const uint8_t sc = x[i].scales[j];
            const float dl = d * (sc & 0xF);
            const float ml = dmin * (sc >> 4);
            for (int l = 0; l < 16; l++) y[16 * j + l] = dl * unpack_2bit(x[i].qs, 16 * j + l) - ml;
        }
    }
}

/* ======================================================================== */
/* Q3_K                                                                      */
/* ======================================================================== */

/* 6-bit scale j (0..15, stored + 32): low 4 bits in a nibble of bytes 0..7,
 * high 2 bits in bytes 8..11. The 12 bytes must start zeroed. */
static void pack_scale_q3(int j, int l, uint8_t *q) {
    if (j < 8) q[j] = (uint8_t)(l & 0xF);
    else q[j - 8] |= (uint8_t)((l & 0xF) << 4);
    q[8 + j % 4] |= (uint8_t)((l >> 4) << (2 * (j / 4)));
}

static int unpack_scale_q3(int j, const uint8_t *q) {
    int lo = j < 8 ? q[j] & 0xF : q[j - 8] >> 4;
    int hi = q[8 + j % 4] >> (2 * (j / 4)) & 3;
    return (lo | hi << 4) - 32;
}

size_t slm_quant_row_q3_K(const float *src, void *dst, int64_t n) {
    block_q3_K *y = dst;
    const int64_t nb = n / QK_K;
    for (int64_t i = 0; i < nb; i++) {
        const float *x = src + i * QK_K;
        int8_t L[QK_K];
        float scales[QK_K / 16];
        float max_scale = 0.0f, amax = 0.0f; /* the signed scale of largest magnitude */
        for (int j = 0; j < QK_K / 16; j++) {
            scales[j] = fit_scale_symmetric_iterative(16, 4, x + 16 * j, L + 16 * j);
            if (fabsf(scales[j]) > amax) {
                amax = fabsf(scales[j]);
                max_scale = scales[j];
            }
        }

        memset(y[i].scales, 0, sizeof y[i].scales);
        if (max_scale != 0.0f) {
            const float iscale = -32.0f / max_scale;
            for (int j = 0; j < QK_K / 16; j++) {
                int l = clampi((int8_t)nearest_int(iscale * scales[j]), -32, 31) + 32;
                pack_scale_q3(j, l, y[i].scales);
            }
            y[i].d = slm_fp32_to_fp16(1 / iscale);
        } else {
            y[i].d = slm_fp32_to_fp16(0.0f);
        }

        const float d_all = slm_fp16_to_fp32(y[i].d);
        for (int j = 0; j < QK_K / 16; j++) {
            const float d = d_all * unpack_scale_q3(j, y[i].scales);
            if (d == 0.0f) continue; /* keeps the levels of the fit */
            for (int l = 0; l < 16; l++)
                L[16 * j + l] = (int8_t)(clampi(nearest_int(x[16 * j + l] / d), -4, 3) + 4);
        }

        /* Bit 2 of value k goes to bit k/32 of hmask[k % 32]. */
        uint8_t low[QK_K];
        memset(y[i].hmask, 0, sizeof y[i].hmask);
        for (int k = 0; k < QK_K; k++) {
            int q = L[k];
            if (q > 3) {
                y[i].hmask[k % 32] |= (uint8_t)(1 << (k / 32));
                q -= 4;
            }
            low[k] = (uint8_t)q;
        }
        pack_2bit(low, y[i].qs);
    }
    return (size_t)nb * sizeof(block_q3_K);
}

void slm_dequant_row_q3_K(const void *src, float *dst, int64_t n) {
    const block_q3_K *x = src;
    const int64_t nb = n / QK_K;
    for (int64_t i = 0; i < nb; i++) {
        const float d_all = slm_fp16_to_fp32(x[i].d);
        float *y = dst + i * QK_K;
        for (int j = 0; j < QK_K / 16; j++) {
            const float dl = d_all * unpack_scale_q3(j, x[i].scales);
            for (int l = 0; l < 16; l++) {
                const int k = 16 * j + l;
                const int high = x[i].hmask[k % 32] >> (k / 32) & 1;
                y[k] = dl * (unpack_2bit(x[i].qs, k) - (high ? 0 : 4));
            }
        }
    }
}

/* ======================================================================== */
/* Q4_K                                                                      */
/* ======================================================================== */

size_t slm_quant_row_q4_K(const float *src, void *dst, int64_t n) {
    block_q4_K *y = dst;
    const int64_t nb = n / QK_K;
    for (int64_t i = 0; i < nb; i++) {
        uint8_t L[QK_K];
        memset(y[i].scales, 0, sizeof y[i].scales);
        quant_superblock_k4(src + i * QK_K, 15, -1.0f, 0.1f, 20, &y[i].d, &y[i].dmin,
                            y[i].scales, L);
        /* Chunk c of 32 bytes: values 64c + l (low nibble), 64c + 32 + l (high). */
        for (int c = 0; c < QK_K / 64; c++)
            for (int l = 0; l < 32; l++)
                y[i].qs[32 * c + l] = (uint8_t)(L[64 * c + l] | L[64 * c + 32 + l] << 4);
    }
    return (size_t)nb * sizeof(block_q4_K);
}

void slm_dequant_row_q4_K(const void *src, float *dst, int64_t n) {
    const block_q4_K *x = src;
    const int64_t nb = n / QK_K;
    for (int64_t i = 0; i < nb; i++) {
        const float d = slm_fp16_to_fp32(x[i].d);
        const float dmin = slm_fp16_to_fp32(x[i].dmin);
        float *y = dst + i * QK_K;
        for (int c = 0; c < QK_K / 64; c++) {
            uint8_t sc, m;
            unpack_scale_min_k4(2 * c, x[i].scales, &sc, &m);
            const float d1 = d * sc, m1 = dmin * m;
            unpack_scale_min_k4(2 * c + 1, x[i].scales, &sc, &m);
            const float d2 = d * sc, m2 = dmin * m;
            const uint8_t *q = x[i].qs + 32 * c;
            for (int l = 0; l < 32; l++) y[64 * c + l] = d1 * (q[l] & 0xF) - m1;
            for (int l = 0; l < 32; l++) y[64 * c + 32 + l] = d2 * (q[l] >> 4) - m2;
        }
    }
}

/* ======================================================================== */
/* Q5_K                                                                      */
/* ======================================================================== */

size_t slm_quant_row_q5_K(const float *src, void *dst, int64_t n) {
    block_q5_K *y = dst;
    const int64_t nb = n / QK_K;
    for (int64_t i = 0; i < nb; i++) {
        uint8_t L[QK_K];
        memset(y[i].scales, 0, sizeof y[i].scales);
        quant_superblock_k4(src + i * QK_K, 31, -0.5f, 0.1f, 15, &y[i].d, &y[i].dmin,
                            y[i].scales, L);
        /* Low nibbles as Q4_K; bit 4 of values 64c + l / 64c + 32 + l goes to
         * bit 2c / 2c+1 of qh[l]. */
        memset(y[i].qh, 0, sizeof y[i].qh);
        for (int c = 0; c < QK_K / 64; c++) {
            for (int l = 0; l < 32; l++) {
                int q1 = L[64 * c + l], q2 = L[64 * c + 32 + l];
                y[i].qh[l] |= (uint8_t)((q1 >> 4) << (2 * c) | (q2 >> 4) << (2 * c + 1));
                y[i].qs[32 * c + l] = (uint8_t)((q1 & 0xF) | (q2 & 0xF) << 4);
            }
        }
    }
    return (size_t)nb * sizeof(block_q5_K);
}

void slm_dequant_row_q5_K(const void *src, float *dst, int64_t n) {
    const block_q5_K *x = src;
    const int64_t nb = n / QK_K;
    for (int64_t i = 0; i < nb; i++) {
        const float d = slm_fp16_to_fp32(x[i].d);
        const float dmin = slm_fp16_to_fp32(x[i].dmin);
        float *y = dst + i * QK_K;
        for (int c = 0; c < QK_K / 64; c++) {
            uint8_t sc, m;
            unpack_scale_min_k4(2 * c, x[i].scales, &sc, &m);
            const float d1 = d * sc, m1 = dmin * m;
            unpack_scale_min_k4(2 * c + 1, x[i].scales, &sc, &m);
            const float d2 = d * sc, m2 = dmin * m;
            const uint8_t *q = x[i].qs + 32 * c;
            const uint8_t *qh = x[i].qh;
            for (int l = 0; l < 32; l++)
                y[64 * c + l] = d1 * ((q[l] & 0xF) + ((qh[l] >> (2 * c) & 1) << 4)) - m1;
            for (int l = 0; l < 32; l++)
                y[64 * c + 32 + l] = d2 * ((q[l] >> 4) + ((qh[l] >> (2 * c + 1) & 1) << 4)) - m2;
        }
    }
}

/* ======================================================================== */
/* Q6_K                                                                      */
/* ======================================================================== */

size_t slm_quant_row_q6_K(const float *src, void *dst, int64_t n) {
    block_q6_K *y = dst;
    const int64_t nb = n / QK_K;
    for (int64_t i = 0; i < nb; i++) {
        const float *x = src + i * QK_K;
        int8_t L[QK_K];
        float scales[QK_K / 16];
        float max_scale = 0.0f, max_abs_scale = 0.0f;
        for (int j = 0; j < QK_K / 16; j++) {
            scales[j] = fit_scale_symmetric(16, 32, x + 16 * j, L + 16 * j);
            if (fabsf(scales[j]) > max_abs_scale) {
                max_abs_scale = fabsf(scales[j]);
                max_scale = scales[j];
            }
        }
        if (max_abs_scale < GROUP_MAX_EPS) {
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }

        /* 8-bit signed scales; the extreme one maps to -128. */
        const float iscale = -128.0f / max_scale;
        y[i].d = slm_fp32_to_fp16(1 / iscale);
        for (int j = 0; j < QK_K / 16; j++) {
            int s = nearest_int(iscale * scales[j]);
            y[i].scales[j] = (int8_t)(s < 127 ? s : 127);
        }

        const float d_all = slm_fp16_to_fp32(y[i].d);
        for (int j = 0; j < QK_K / 16; j++) {
            const float d = d_all * y[i].scales[j];
            if (d == 0.0f) continue; /* keeps the levels of the fit */
            for (int l = 0; l < 16; l++)
                L[16 * j + l] = (int8_t)(clampi(nearest_int(x[16 * j + l] / d), -32, 31) + 32);
        }

        /* Per half of 128 values (64 ql bytes, 32 qh bytes): see blocks.h. */
        for (int h = 0; h < 2; h++) {
            const int8_t *Lh = L + 128 * h;
            uint8_t *ql = y[i].ql + 64 * h;
            uint8_t *qh = y[i].qh + 32 * h;
            for (int l = 0; l < 32; l++) {
                ql[l] = (uint8_t)((Lh[l] & 0xF) | (Lh[l + 64] & 0xF) << 4);
                ql[l + 32] = (uint8_t)((Lh[l + 32] & 0xF) | (Lh[l + 96] & 0xF) << 4);
                qh[l] = (uint8_t)((Lh[l] >> 4) | (Lh[l + 32] >> 4) << 2 | (Lh[l + 64] >> 4) << 4 |
                                  (Lh[l + 96] >> 4) << 6);
            }
        }
    }
    return (size_t)nb * sizeof(block_q6_K);
}

void slm_dequant_row_q6_K(const void *src, float *dst, int64_t n) {
    const block_q6_K *x = src;
    const int64_t nb = n / QK_K;
    for (int64_t i = 0; i < nb; i++) {
        const float d = slm_fp16_to_fp32(x[i].d);
        for (int h = 0; h < 2; h++) {
            const uint8_t *ql = x[i].ql + 64 * h;
            const uint8_t *qh = x[i].qh + 32 * h;
            const int8_t *sc = x[i].scales + 8 * h;
            float *y = dst + i * QK_K + 128 * h;
            for (int l = 0; l < 32; l++) {
                const int s = l / 16;
                const int q1 = ((ql[l] & 0xF) | (qh[l] >> 0 & 3) << 4) - 32;
                const int q2 = ((ql[l + 32] & 0xF) | (qh[l] >> 2 & 3) << 4) - 32;
                const int q3 = ((ql[l] >> 4) | (qh[l] >> 4 & 3) << 4) - 32;
                const int q4 = ((ql[l + 32] >> 4) | (qh[l] >> 6 & 3) << 4) - 32;
                y[l] = d * sc[s] * q1;
                y[l + 32] = d * sc[s + 2] * q2;
                y[l + 64] = d * sc[s + 4] * q3;
                y[l + 96] = d * sc[s + 6] * q4;
            }
        }
    }
}

/* ======================================================================== */
/* Q8_K (activations for the K-quant dot products)                           */
/* ======================================================================== */

size_t slm_quant_row_q8_K(const float *src, void *dst, int64_t n) {
    block_q8_K *y = dst;
    const int64_t nb = n / QK_K;
    for (int64_t i = 0; i < nb; i++) {
        const float *x = src + i * QK_K;
        float amax;
        const float max = signed_abs_max(x, QK_K, &amax);
        if (amax == 0.0f) {
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        /* -127 (not -128) so that every q fits in -127..127. */
        const float iscale = -127.0f / max;
        for (int j = 0; j < QK_K; j++) {
            int v = nearest_int(iscale * x[j]);
            y[i].qs[j] = (int8_t)(v < 127 ? v : 127);
        }
        for (int j = 0; j < QK_K / 16; j++) {
            int sum = 0;
            for (int l = 0; l < 16; l++) sum += y[i].qs[16 * j + l];
            y[i].bsums[j] = (int16_t)sum;
        }
        y[i].d = 1 / iscale;
    }
    return (size_t)nb * sizeof(block_q8_K);
}

void slm_dequant_row_q8_K(const void *src, float *dst, int64_t n) {
    const block_q8_K *x = src;
    const int64_t nb = n / QK_K;
    for (int64_t i = 0; i < nb; i++)
        for (int j = 0; j < QK_K; j++) dst[i * QK_K + j] = x[i].d * x[i].qs[j];
}
