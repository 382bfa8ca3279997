/*
 * tile.h — the macros every SIMD kernel file (x86/, arm/) uses to build its
 * vec_dot and vec_dot_tile entries from one body, so that both give the same
 * bits for the same (weight row, activation row) pair (kernels.h).
 *
 * Tile bodies take
 *   BODY(n, w, w_stride, x, x_stride, out, out_stride, nr, nx)
 * with nr (1..SLM_TILE_ROWS) and nx (1..SLM_TILE_COLS) compile-time constants
 * in each instantiation. Row bodies, which gain nothing from sharing
 * activation loads among weight rows, take
 *   BODY(n, w, x, x_stride, out, out_stride, nx)
 * and SLM_DEFINE_ROW_DOTS runs them once per weight row of the tile.
 */
#ifndef SLM_KERNELS_TILE_H
#define SLM_KERNELS_TILE_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/kernels.h"

/* Fully unrolls the per-row loops of the tile kernels. */
#define SLM_UNROLL _Pragma("GCC unroll 4")
#define SLM_INLINE static inline __attribute__((always_inline))

/* The activation row of token t (x_stride bytes apart) as blocks. */
#define XROW(T, x, xs, t) ((const T *)((x) + (size_t)(t) * (xs)))

#define SLM_TILE_CASES(BODY, n, w, ws, xb, xs, out, os, NR, nx) \
    switch (nx) {                                               \
    case 1: BODY(n, w, ws, xb, xs, out, os, NR, 1); break;      \
    case 2: BODY(n, w, ws, xb, xs, out, os, NR, 2); break;      \
    case 3: BODY(n, w, ws, xb, xs, out, os, NR, 3); break;      \
    default: BODY(n, w, ws, xb, xs, out, os, NR, 4); break;     \
    }

#define SLM_DEFINE_TILE_DOTS(NAME, BODY)                                                                       \
    static float vec_dot_##NAME(int64_t n, const void *w, const void *x) {                                   \
        float r;                                                                                               \
        BODY(n, (const uint8_t *)w, 0, (const uint8_t *)x, 0, &r, 0, 1, 1);                                    \
        return r;                                                                                              \
    }                                                                                                          \
    static void vec_dot_tile_##NAME(int64_t n, const void *w, size_t ws, int nr, const void *x, size_t xs,    \
                                    int nx, float *out, size_t os) {                                           \
        const uint8_t *wb = w, *xb = x;                                                                        \
        if (nr >= 2) SLM_TILE_CASES(BODY, n, wb, ws, xb, xs, out, os, 2, nx)                                   \
        else SLM_TILE_CASES(BODY, n, wb, ws, xb, xs, out, os, 1, nx)                                           \
    }

#define SLM_DEFINE_ROW_DOTS(NAME)                                                                              \
    SLM_INLINE void NAME##_rows(int64_t n, const uint8_t *w, size_t ws, const uint8_t *x, size_t xs,          \
                                float *out, size_t os, const int nr, const int nx) {                           \
        for (int i = 0; i < nr; i++) NAME##_body(n, w + (size_t)i * ws, x, xs, out + i, os, nx);               \
    }                                                                                                          \
    SLM_DEFINE_TILE_DOTS(NAME, NAME##_rows)

#endif
