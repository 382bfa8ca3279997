/*
 * registry.c — the list of architectures slm runs. Adding one is a new
 * arch_<name>.c file defining `const slm_arch slm_arch_<name>` and one line
 * X(<name>) in the list below.
 */
#include <string.h>

#include "model/model.h"

#define SLM_ARCHS(X) \
    X(llama)         \
    X(qwen2)         \
    X(qwen3)         \
    X(qwen3moe)      \
    X(phi3)          \
    X(gemma)         \
    X(gemma2)        \
    X(gemma3)        \
    X(gpt2)          \
    X(opt)

#define SLM_ARCH_DECLARE(name) extern const slm_arch slm_arch_##name;
#define SLM_ARCH_ENTRY(name) &slm_arch_##name,
SLM_ARCHS(SLM_ARCH_DECLARE)
static const slm_arch *const g_archs[] = {SLM_ARCHS(SLM_ARCH_ENTRY)};

const slm_arch *slm_arch_find(const char *name) {
    for (size_t i = 0; i < sizeof g_archs / sizeof g_archs[0]; i++)
        if (strcmp(g_archs[i]->name, name) == 0) return g_archs[i];
    return NULL;
}

const slm_arch *slm_arch_at(size_t i) { return i < sizeof g_archs / sizeof g_archs[0] ? g_archs[i] : NULL; }
