/*
 * registry.c — the list of architectures slm runs. Adding one is a new
 * arch_<name>.c file defining `const slm_arch slm_arch_<name>` and one line
 * in each of the two lists below.
 */
#include <string.h>

#include "model/model.h"

extern const slm_arch slm_arch_llama;
extern const slm_arch slm_arch_qwen2;
extern const slm_arch slm_arch_qwen3;

static const slm_arch *const g_archs[] = {
    &slm_arch_llama,
    &slm_arch_qwen2,
    &slm_arch_qwen3,
};

const slm_arch *slm_arch_find(const char *name) {
    for (size_t i = 0; i < sizeof g_archs / sizeof g_archs[0]; i++)
        if (strcmp(g_archs[i]->name, name) == 0) return g_archs[i];
    return NULL;
}
