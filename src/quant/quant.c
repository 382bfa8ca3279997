/*
 * quant.c — the table of tensor types: name, block size, bytes per block and
 * the reference conversions of each GGUF type slm knows (see quant.h).
 *
 * Ids and sizes are ggml's, so a row size computed here is the size a GGUF
 * file stores. Types not in the table (the IQ*, TQ*, MXFP4 and integer
 * types) are unknown to slm: slm_type_traits_get() returns NULL for them.
 */
#include "quant/quant.h"

#include <stdint.h>
#include <strings.h>

#include "quant/blocks.h"

#define TYPE_FLOAT(ID, NAME, BYTES, FN)                                          \
    [ID] = {.name = NAME, .blck_size = 1, .type_size = BYTES, .is_quantized = false, \
            .to_float = slm_dequant_row_##FN, .from_float = slm_quant_row_##FN}

#define TYPE_QUANT(ID, NAME, BLCK, BLOCK, FN)                                       \
    [ID] = {.name = NAME, .blck_size = BLCK, .type_size = sizeof(BLOCK), .is_quantized = true, \
            .to_float = slm_dequant_row_##FN, .from_float = slm_quant_row_##FN}

static const slm_type_traits g_traits[SLM_TYPE_COUNT] = {
    TYPE_FLOAT(SLM_TYPE_F32, "F32", 4, f32),
    TYPE_FLOAT(SLM_TYPE_F16, "F16", 2, f16),
    TYPE_FLOAT(SLM_TYPE_BF16, "BF16", 2, bf16),
    TYPE_QUANT(SLM_TYPE_Q4_0, "Q4_0", QK4_0, block_q4_0, q4_0),
    TYPE_QUANT(SLM_TYPE_Q4_1, "Q4_1", QK4_1, block_q4_1, q4_1),
    TYPE_QUANT(SLM_TYPE_Q5_0, "Q5_0", QK5_0, block_q5_0, q5_0),
    TYPE_QUANT(SLM_TYPE_Q5_1, "Q5_1", QK5_1, block_q5_1, q5_1),
    TYPE_QUANT(SLM_TYPE_Q8_0, "Q8_0", QK8_0, block_q8_0, q8_0),
    TYPE_QUANT(SLM_TYPE_Q8_1, "Q8_1", QK8_1, block_q8_1, q8_1),
    TYPE_QUANT(SLM_TYPE_Q2_K, "Q2_K", QK_K, block_q2_K, q2_K),
    TYPE_QUANT(SLM_TYPE_Q3_K, "Q3_K", QK_K, block_q3_K, q3_K),
    TYPE_QUANT(SLM_TYPE_Q4_K, "Q4_K", QK_K, block_q4_K, q4_K),
    TYPE_QUANT(SLM_TYPE_Q5_K, "Q5_K", QK_K, block_q5_K, q5_K),
    TYPE_QUANT(SLM_TYPE_Q6_K, "Q6_K", QK_K, block_q6_K, q6_K),
    TYPE_QUANT(SLM_TYPE_Q8_K, "Q8_K", QK_K, block_q8_K, q8_K),
};

const slm_type_traits *slm_type_traits_get(int type) {
    if (type < 0 || type >= SLM_TYPE_COUNT || !g_traits[type].name) return NULL;
    return &g_traits[type];
}

const char *slm_type_name(int type) {
    const slm_type_traits *t = slm_type_traits_get(type);
    return t ? t->name : NULL;
}

size_t slm_row_size(int type, int64_t n) {
    const slm_type_traits *t = slm_type_traits_get(type);
    if (!t || n < 0 || n % t->blck_size != 0) return 0;
    const uint64_t blocks = (uint64_t)(n / t->blck_size);
    if (blocks > SIZE_MAX / t->type_size) return 0;
    return (size_t)blocks * t->type_size;
}

int slm_type_from_name(const char *name) {
    if (!name) return -1;
    for (int i = 0; i < SLM_TYPE_COUNT; i++)
        if (g_traits[i].name && strcasecmp(name, g_traits[i].name) == 0) return i;
    return -1;
}
