/*
 * packed.c — the interleaved layouts of packed.h: packing a group of 16 rows
 * and unpacking it again. All layouts have the same shape: a block of a row
 * is some 16-bit fields (the fp16 scales) and 32-bit words (packed scales,
 * levels), the fields first or (Q6_K) last, and in a block column of the
 * group 16-bit field h of row r lands at halfword h * 16 + r, then word q of
 * row r at word q * 16 + r of what follows. So one pair of loops serves every type, moving 2 and 4 bytes
 * at a time (a model of 1 GB repacks in well under a second per thread).
 */
#include "kernels/packed.h"

#include <string.h>

#include "base/error.h"
#include "quant/blocks.h"
#include "slm.h"

typedef struct {
    int block_values; /* values per block */
    int n_half;       /* 16-bit fields of a block */
    int n_words;      /* 32-bit words */
    int half_last;    /* the fields follow the words (else they lead) */
} pack_shape;

static bool shape_of(int type, pack_shape *s) {
    switch (type) {
    case SLM_TYPE_Q4_0: /* d | qs[16] */
        *s = (pack_shape){QK4_0, 1, 4, 0};
        return true;
    case SLM_TYPE_Q5_0: /* d | qh[4], qs[16] */
        *s = (pack_shape){QK5_0, 1, 1 + 4, 0};
        return true;
    case SLM_TYPE_Q8_0: /* d | qs[32] */
        *s = (pack_shape){QK8_0, 1, 8, 0};
        return true;
    case SLM_TYPE_Q4_K: /* d, dmin | scales[12], qs[128] */
        *s = (pack_shape){QK_K, 2, 3 + 32, 0};
        return true;
    case SLM_TYPE_Q6_K: /* ql[128], qh[64], scales[16] | d */
        *s = (pack_shape){QK_K, 1, 32 + 16 + 4, 1};
        return true;
    default:
        return false;
    }
}

bool slm_pack_type(int type) {
    pack_shape s = {0, 0, 0, 0};
    return shape_of(type, &s);
}

void slm_pack_rows(int type, int64_t n, const uint8_t *src, size_t src_stride, int nr, uint8_t *dst) {
    pack_shape s = {0, 0, 0, 0};
    SLM_CHECK(shape_of(type, &s) && nr >= 1 && nr <= SLM_PACK_ROWS && n % s.block_values == 0);
    const size_t bb = 2 * (size_t)s.n_half + 4 * (size_t)s.n_words; /* bytes of one row's block */
    const int64_t nb = n / s.block_values;
    for (int64_t b = 0; b < nb; b++) {
        uint8_t *col = dst + (size_t)b * bb * SLM_PACK_ROWS, *words = col + 2 * (size_t)s.n_half * SLM_PACK_ROWS;
        for (int r = 0; r < SLM_PACK_ROWS; r++) {
            if (r >= nr) { /* padding rows: zero scales and levels */
                for (int h = 0; h < s.n_half; h++) memset(col + 2 * ((size_t)h * SLM_PACK_ROWS + r), 0, 2);
                for (int q = 0; q < s.n_words; q++) memset(words + 4 * ((size_t)q * SLM_PACK_ROWS + r), 0, 4);
                continue;
            }
            const uint8_t *blk = src + (size_t)r * src_stride + (size_t)b * bb;
            const uint8_t *bh = blk + (s.half_last ? 4 * (size_t)s.n_words : 0), *bw = blk + (s.half_last ? 0 : 2 * (size_t)s.n_half);
            for (int h = 0; h < s.n_half; h++) memcpy(col + 2 * ((size_t)h * SLM_PACK_ROWS + r), bh + 2 * h, 2);
            for (int q = 0; q < s.n_words; q++) memcpy(words + 4 * ((size_t)q * SLM_PACK_ROWS + r), bw + 4 * q, 4);
        }
    }
}

/* Rows r0 .. r0 + nr - 1 of one group -> dst + i * dst_stride. */
static void unpack_range(int type, int64_t n, const uint8_t *group, int r0, int nr, uint8_t *dst, size_t dst_stride) {
    pack_shape s = {0, 0, 0, 0};
    SLM_CHECK(shape_of(type, &s) && r0 >= 0 && nr >= 1 && r0 + nr <= SLM_PACK_ROWS && n % s.block_values == 0);
    const size_t bb = 2 * (size_t)s.n_half + 4 * (size_t)s.n_words;
    const int64_t nb = n / s.block_values;
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *col = group + (size_t)b * bb * SLM_PACK_ROWS;
        const uint8_t *words = col + 2 * (size_t)s.n_half * SLM_PACK_ROWS;
        for (int i = 0; i < nr; i++) {
            const int r = r0 + i;
            uint8_t *blk = dst + (size_t)i * dst_stride + (size_t)b * bb;
            uint8_t *bh = blk + (s.half_last ? 4 * (size_t)s.n_words : 0), *bw = blk + (s.half_last ? 0 : 2 * (size_t)s.n_half);
            for (int h = 0; h < s.n_half; h++) memcpy(bh + 2 * h, col + 2 * ((size_t)h * SLM_PACK_ROWS + r), 2);
            for (int q = 0; q < s.n_words; q++) memcpy(bw + 4 * q, words + 4 * ((size_t)q * SLM_PACK_ROWS + r), 4);
        }
    }
}

void slm_unpack_rows(int type, int64_t n, const uint8_t *group, int nr, uint8_t *dst, size_t dst_stride) {
    unpack_range(type, n, group, 0, nr, dst, dst_stride);
}

void slm_unpack_row(int type, int64_t n, const uint8_t *group, int r, uint8_t *dst) {
    unpack_range(type, n, group, r, 1, dst, 0);
}
