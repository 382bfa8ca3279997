/* isa.c — CPU feature checks for the training kernels (see isa.h). */
#include "train/isa.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu_features.h"

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static bool g_avx2, g_avx512, g_scalar, g_cap_avx2;

static void detect(void) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    /* cpu_features checks XCR0 too: AVX-512 code must not run under an OS
     * that does not save the zmm registers */
    const slm_cpu_features *f = slm_cpu_features_get();
    g_avx2 = f->avx2 && f->fma;
    g_avx512 = g_avx2 && f->avx512f && f->avx512dq && f->avx512bw && f->avx512vl;
#endif
    const char *force = getenv("SLM_KERNELS");
    g_scalar = force && strcmp(force, "scalar") == 0;
    g_cap_avx2 = force && strcmp(force, "avx2") == 0;
}

bool slm_train_cpu_avx2(void) {
    pthread_once(&g_once, detect);
    return g_avx2;
}

bool slm_train_cpu_avx512(void) {
    pthread_once(&g_once, detect);
    return g_avx512;
}

bool slm_train_force_scalar(void) {
    pthread_once(&g_once, detect);
    return g_scalar;
}

bool slm_train_cap_avx2(void) {
    pthread_once(&g_once, detect);
    return g_cap_avx2;
}
