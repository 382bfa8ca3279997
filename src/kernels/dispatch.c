/*
 * dispatch.c — builds the kernel tables once and picks the one inference
 * uses, from what the CPU reports (cpu_features.c):
 *   x86-64:  avx512vnni > avx512 > avx2 > scalar
 *   aarch64: neon-dotprod > neon > scalar
 * SLM_KERNELS=<name> in the environment picks another runnable table (an
 * unknown or unrunnable name is ignored, with a note on stderr, so a script
 * written for one machine still runs on another); slm_kernels_force() does
 * the same from code.
 *
 * A SIMD table's builder lives in its ISA's file and is only called after
 * cpuid said the CPU runs that ISA; on other architectures the builders are
 * absent and only the scalar tables exist.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu_features.h"
#include "kernels/kernels.h"

const slm_kernel_table *slm_kernels_ref_build(void);
const slm_kernel_table *slm_kernels_ref_int_build(void);
#if defined(__x86_64__)
const slm_kernel_table *slm_kernels_avx2_build(void);
const slm_kernel_table *slm_kernels_avx512_build(void);
const slm_kernel_table *slm_kernels_avx512vnni_build(void);
#elif defined(__aarch64__)
const slm_kernel_table *slm_kernels_neon_build(void);
const slm_kernel_table *slm_kernels_neon_dotprod_build(void);
#endif

#define MAX_TABLES 8

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static const slm_kernel_table *g_tables[MAX_TABLES]; /* runnable, slowest first */
static int g_n_tables;
static const slm_kernel_table *g_auto;    /* the fastest runnable table */
static const slm_kernel_table *g_startup; /* g_auto, or what SLM_KERNELS named */
static _Atomic(const slm_kernel_table *) g_current;

static const slm_kernel_table *find(const char *name) {
    for (int i = 0; i < g_n_tables; i++)
        if (strcmp(g_tables[i]->name, name) == 0) return g_tables[i];
    return NULL;
}

static void choose(void) {
    g_tables[g_n_tables++] = slm_kernels_ref_build();
    g_tables[g_n_tables++] = slm_kernels_ref_int_build();
    g_auto = g_tables[0];
#if defined(__x86_64__)
    const slm_cpu_features *f = slm_cpu_features_get();
    if (f->avx2 && f->fma && f->f16c) {
        g_tables[g_n_tables++] = g_auto = slm_kernels_avx2_build();
        if (f->avx512f && f->avx512bw && f->avx512vl && f->avx512dq) {
            g_tables[g_n_tables++] = g_auto = slm_kernels_avx512_build();
            if (f->avx512vnni) g_tables[g_n_tables++] = g_auto = slm_kernels_avx512vnni_build();
        }
    }
#elif defined(__aarch64__)
    const slm_cpu_features *f = slm_cpu_features_get();
    if (f->neon) {
        g_tables[g_n_tables++] = g_auto = slm_kernels_neon_build();
        if (f->dotprod) g_tables[g_n_tables++] = g_auto = slm_kernels_neon_dotprod_build();
    }
#endif
    const slm_kernel_table *pick = g_auto;
    const char *force = getenv("SLM_KERNELS");
    if (force && *force) {
        const slm_kernel_table *t = find(force);
        if (t) pick = t;
        else fprintf(stderr, "slm: SLM_KERNELS=%s is not a kernel table this CPU runs; using %s\n", force, g_auto->name);
    }
    g_startup = pick;
    atomic_store(&g_current, pick);
}

const slm_kernel_table *slm_kernels(void) {
    pthread_once(&g_once, choose);
    return atomic_load_explicit(&g_current, memory_order_acquire);
}

const slm_kernel_table *slm_kernels_ref(void) {
    pthread_once(&g_once, choose);
    return g_tables[0];
}

const slm_kernel_table *slm_kernels_ref_int(void) {
    pthread_once(&g_once, choose);
    return g_tables[1];
}

int slm_kernels_available(const slm_kernel_table **out, int cap) {
    pthread_once(&g_once, choose);
    int n = 0;
    for (int i = 0; i < g_n_tables && n < cap; i++) out[n++] = g_tables[i];
    return n;
}

bool slm_kernels_force(const char *name) {
    pthread_once(&g_once, choose);
    const slm_kernel_table *t = name ? find(name) : g_startup;
    if (!t) return false;
    atomic_store(&g_current, t);
    return true;
}
