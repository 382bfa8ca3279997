/*
 * hf_convert.c — slm_convert: a Hugging Face folder written as a GGUF file
 * (`slm convert`). The folder is read by hf_folder.c in HF_FOR_GGUF mode, so
 * the file has llama.cpp's tensor names, keys, tokenizer keys and q/k
 * layout; then either every tensor is written in the type it has (F32, F16,
 * BF16 matrices; 1-D tensors float32), or quantize_file.c converts the
 * matrices (--type). Both write to a temp name and rename.
 *
 * OPT converts too, but only slm reads the result: llama.cpp has no "opt"
 * architecture.
 */
#include <string.h>

#include "base/error.h"
#include "model/hf_folder.h"
#include "quant/quantize_file.h"

slm_status slm_convert(const char *dir, const char *out_path, const char *type_name, int32_t n_threads) {
    if (!dir || !out_path) return slm_err(SLM_ERR_ARG, "convert: the folder and the output path are required");
    if (!hf_is_folder(dir))
        return slm_err(SLM_ERR_ARG, "convert: %s is not a folder (expected a Hugging Face model folder)", dir);
    if (type_name && *type_name && !slm_quantize_type_known(type_name))
        return slm_quantize_gguf(NULL, out_path, type_name, false, n_threads); /* the unknown-type message */
    gguf_file *g = NULL;
    slm_status st = hf_folder_open(dir, HF_FOR_GGUF, &g, NULL);
    if (st) return st;
    if (type_name && *type_name) {
        st = slm_quantize_gguf(g, out_path, type_name, false, n_threads);
    } else {
        gguf_writer *w = gguf_writer_new();
        for (uint64_t i = 0; i < g->n_kv; i++) gguf_writer_set_value(w, g->kv[i].key, &g->kv[i].value);
        for (uint64_t i = 0; i < g->n_tensors && !st; i++) {
            const gguf_tensor *t = &g->tensors[i];
            st = gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->ne, t->data, t->nbytes);
        }
        if (!st) st = gguf_writer_write(w, out_path);
        gguf_writer_free(w);
    }
    gguf_close(g);
    return st;
}
