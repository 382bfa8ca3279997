/*
 * dispatch.c — picks the kernel table once, from what the CPU reports.
 * Today only the scalar reference exists; SIMD tables register here.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"

const slm_kernel_table *slm_kernels_ref_build(void);

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static const slm_kernel_table *g_ref;
static const slm_kernel_table *g_best;

static void choose(void) {
    g_ref = slm_kernels_ref_build();
    g_best = g_ref;
    const char *force = getenv("SLM_KERNELS");
    if (force && strcmp(force, "scalar") == 0) g_best = g_ref;
}

const slm_kernel_table *slm_kernels(void) {
    pthread_once(&g_once, choose);
    return g_best;
}

const slm_kernel_table *slm_kernels_ref(void) {
    pthread_once(&g_once, choose);
    return g_ref;
}

int slm_kernels_available(const slm_kernel_table **out, int cap) {
    pthread_once(&g_once, choose);
    int n = 0;
    if (n < cap) out[n++] = g_ref;
    return n;
}
