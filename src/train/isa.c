/* isa.c — CPU feature checks for the training kernels (see isa.h). */
#include "train/isa.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static bool g_avx2, g_scalar;

static void detect(void) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    g_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
    const char *force = getenv("SLM_KERNELS");
    g_scalar = force && strcmp(force, "scalar") == 0;
}

bool slm_train_cpu_avx2(void) {
    pthread_once(&g_once, detect);
    return g_avx2;
}

bool slm_train_force_scalar(void) {
    pthread_once(&g_once, detect);
    return g_scalar;
}
