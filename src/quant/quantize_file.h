/*
 * quantize_file.h — whole-model type conversion (quantize_file.c) for callers
 * inside the library: slm_quantize (slm.h) works on a path, these on a GGUF
 * file already open or built in memory (an HF folder being converted).
 */
#ifndef SLM_QUANT_QUANTIZE_FILE_H
#define SLM_QUANT_QUANTIZE_FILE_H

#include <stdbool.h>

#include "formats/gguf.h"
#include "slm.h"

/* Writes g to out_path with its matrices in type_name (recipes as
 * slm_quantize); g is only read. */
slm_status slm_quantize_gguf(const gguf_file *g, const char *out_path, const char *type_name, bool pure,
                             int32_t n_threads);
/* True if slm_quantize knows type_name. */
bool slm_quantize_type_known(const char *type_name);

#endif
