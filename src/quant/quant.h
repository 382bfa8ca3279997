/*
 * quant.h — tensor types: per-type traits and the scalar reference
 * conversions between float32 and every GGUF tensor type slm reads.
 *
 * Block layouts are byte-compatible with GGUF (see blocks.h). Rows hold a
 * whole number of blocks. These functions are the reference that every fast
 * kernel is tested against; they favour clarity over speed.
 */
#ifndef SLM_QUANT_QUANT_H
#define SLM_QUANT_QUANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "slm.h"

typedef struct {
    const char *name;    /* "Q4_K" */
    int32_t blck_size;   /* elements per block (1 for F32/F16/BF16) */
    size_t type_size;    /* bytes per block */
    bool is_quantized;
    /* Reference dequantize: n elements (multiple of blck_size). */
    void (*to_float)(const void *src, float *dst, int64_t n);
    /* Reference quantize (NULL where slm has no quantizer for the type):
     * n elements (multiple of blck_size); returns bytes written. */
    size_t (*from_float)(const float *src, void *dst, int64_t n);
} slm_type_traits;

/* Traits of a type id, or NULL if slm does not know the id. */
const slm_type_traits *slm_type_traits_get(int type);

/* Bytes of a row of n elements; 0 if the type is unknown or n is not a
 * whole number of blocks. */
size_t slm_row_size(int type, int64_t n);

/* Parses "Q4_K", "q8_0", "f16" ... ; -1 if unknown. */
int slm_type_from_name(const char *name);

#endif
