/*
 * bench_kernels.c — dev tool: single-thread speed of every kernel table's
 * dot products, per weight type, on a 1536 x 576 weight matrix (an FFN
 * matrix of SmolLM2-135M), each result first checked against the table's
 * reference scheme (the tests do that thoroughly; this only guards the
 * timing against a broken kernel).
 *   gen  one activation row against every weight row (decoding), in tiles of
 *        SLM_TILE_ROWS x 1 as slm_matmul does
 *   pp   64 activation rows against blocks of 16 weight rows, in tiles of
 *        SLM_TILE_ROWS x SLM_TILE_COLS through vec_dot_tile (prompt processing)
 *   packed  (tables with a gemv_packed for the type) gen over the same rows
 *        interleaved as repack.c lays them out (kernels/packed.h)
 * Times are the minimum over repetitions, which shrugs off a shared, noisy
 * machine. Usage: bench_kernels [TYPE...] (default: all types).
 *
 * Build (from the repository root, after `make`):
 *   cc -std=c11 -D_GNU_SOURCE -O2 -Iinclude -Isrc bench/bench_kernels.c build/libslm.a \
 *      -lpcre2-8 -lm -pthread -o build/bench_kernels
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/rng.h"
#include "kernels/kernels.h"
#include "kernels/packed.h"
#include "quant/quant.h"

enum { N_IN = 1536, N_OUT = 576, N_TOK = 64, REPS = 15 };

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static volatile float g_sink;

int main(int argc, char **argv) {
    static const int all_types[] = {SLM_TYPE_F32,  SLM_TYPE_F16,  SLM_TYPE_BF16, SLM_TYPE_Q4_0, SLM_TYPE_Q4_1,
                                    SLM_TYPE_Q5_0, SLM_TYPE_Q5_1, SLM_TYPE_Q8_0, SLM_TYPE_Q2_K, SLM_TYPE_Q3_K,
                                    SLM_TYPE_Q4_K, SLM_TYPE_Q5_K, SLM_TYPE_Q6_K};
    int types[16], n_types = 0;
    for (int i = 1; i < argc && n_types < 16; i++) {
        int t = slm_type_from_name(argv[i]);
        if (t < 0) {
            fprintf(stderr, "unknown type %s\n", argv[i]);
            return 2;
        }
        types[n_types++] = t;
    }
    if (!n_types)
        for (size_t i = 0; i < sizeof all_types / sizeof all_types[0]; i++) types[n_types++] = all_types[i];

    const slm_kernel_table *tabs[8];
    const int n_tabs = slm_kernels_available(tabs, 8);
    slm_rng r;
    slm_rng_seed(&r, 7);
    float *xf = malloc((size_t)N_TOK * N_IN * sizeof(float)), *wf = malloc((size_t)N_IN * sizeof(float));
    float *y = malloc((size_t)N_TOK * N_OUT * sizeof(float));
    for (int64_t i = 0; i < (int64_t)N_TOK * N_IN; i++) xf[i] = slm_rng_normal(&r);

    printf("%-5s %-11s %12s %10s %12s\n", "type", "table", "gen ns/row", "gen GB/s", "pp GMAC/s");
    for (int ti = 0; ti < n_types; ti++) {
        const int type = types[ti];
        const slm_type_traits *tr = slm_type_traits_get(type);
        const size_t wrow = slm_row_size(type, N_IN);
        uint8_t *w = malloc(wrow * N_OUT);
        for (int i = 0; i < N_OUT; i++) {
            for (int j = 0; j < N_IN; j++) wf[j] = 0.02f * slm_rng_normal(&r);
            tr->from_float(wf, w + (size_t)i * wrow, N_IN);
        }
        for (int k = 0; k < n_tabs; k++) {
            const slm_kernel_table *tab = tabs[k];
            const int vt = tab->vec_dot_type[type];
            const size_t xrow = vt == SLM_TYPE_F32 ? N_IN * sizeof(float) : slm_row_size(vt, N_IN);
            uint8_t *xc = malloc(xrow * N_TOK);
            for (int j = 0; j < N_TOK; j++) {
                if (vt == SLM_TYPE_F32) memcpy(xc + j * xrow, xf + (size_t)j * N_IN, xrow);
                else tab->from_float[vt](xf + (size_t)j * N_IN, xc + j * xrow, N_IN);
            }
            /* sanity: row 0 against the reference of the scheme */
            const slm_kernel_table *ref = vt == SLM_TYPE_F32 ? slm_kernels_ref() : slm_kernels_ref_int();
            float a = tab->vec_dot[type](N_IN, w, xc), b = ref->vec_dot[type](N_IN, w, xc);
            if (fabsf(a - b) > 1e-3f * (fabsf(b) + 1e-3f)) printf("  %s %s: MISMATCH %g vs %g\n", tab->name, tr->name, a, b);
            const int slow = !strncmp(tab->name, "scalar", 6);
            const int reps = slow ? 2 : REPS;
            double best_gen = 1e30, best_pp = 1e30;
            for (int rep = 0; rep < reps; rep++) {
                double t0 = now();
                float s = 0;
                if (tab->vec_dot_tile[type]) /* as slm_matmul decodes: tiles of rows x 1 */
                    for (int i = 0; i < N_OUT; i += SLM_TILE_ROWS)
                        tab->vec_dot_tile[type](N_IN, w + (size_t)i * wrow, wrow, SLM_TILE_ROWS, xc, xrow, 1, y + i, 0);
                else
                    for (int i = 0; i < N_OUT; i++) y[i] = tab->vec_dot[type](N_IN, w + (size_t)i * wrow, xc);
                for (int i = 0; i < N_OUT; i++) s += y[i];
                double t1 = now();
                g_sink = s;
                if (t1 - t0 < best_gen) best_gen = t1 - t0;
                if (slow) continue;
                t0 = now();
                for (int r0 = 0; r0 < N_OUT; r0 += 16)
                    for (int j = 0; j < N_TOK; j += SLM_TILE_COLS)
                        for (int i = r0; i < r0 + 16; i += SLM_TILE_ROWS) {
                            if (tab->vec_dot_tile[type])
                                tab->vec_dot_tile[type](N_IN, w + (size_t)i * wrow, wrow, SLM_TILE_ROWS, xc + j * xrow,
                                                        xrow, SLM_TILE_COLS, y + (size_t)j * N_OUT + i, N_OUT);
                            else
                                for (int ii = i; ii < i + SLM_TILE_ROWS; ii++)
                                    for (int jj = j; jj < j + SLM_TILE_COLS; jj++)
                                        y[(size_t)jj * N_OUT + ii] =
                                            tab->vec_dot[type](N_IN, w + (size_t)ii * wrow, xc + jj * xrow);
                        }
                t1 = now();
                g_sink = y[0];
                if (t1 - t0 < best_pp) best_pp = t1 - t0;
            }
            printf("%-5s %-11s %12.1f %10.2f", tr->name, tab->name, best_gen / N_OUT * 1e9, wrow * N_OUT / best_gen / 1e9);
            if (slow) printf(" %12s\n", "-");
            else printf(" %12.2f\n", (double)N_IN * N_OUT * N_TOK / best_pp / 1e9);
            if (tab->gemv_packed[type]) { /* the same rows interleaved (kernels/packed.h), one token */
                uint8_t *pk = malloc(slm_packed_size(wrow, N_OUT));
                for (int g = 0; g * SLM_PACK_ROWS < N_OUT; g++)
                    slm_pack_rows(type, N_IN, w + (size_t)g * SLM_PACK_ROWS * wrow, wrow, SLM_PACK_ROWS,
                                  pk + (size_t)g * SLM_PACK_ROWS * wrow);
                double best = 1e30;
                for (int rep = 0; rep < REPS; rep++) {
                    double t0 = now();
                    tab->gemv_packed[type](N_IN, pk, N_OUT / SLM_PACK_ROWS, xc, xrow, 1, y, N_OUT, N_OUT);
                    double t1 = now();
                    g_sink = y[0];
                    if (t1 - t0 < best) best = t1 - t0;
                }
                printf("%-5s %-11s %12.1f %10.2f %12s\n", tr->name, "  packed", best / N_OUT * 1e9,
                       wrow * N_OUT / best / 1e9, "-");
                free(pk);
            }
            free(xc);
        }
        free(w);
    }
    free(xf);
    free(wf);
    free(y);
    return 0;
}
