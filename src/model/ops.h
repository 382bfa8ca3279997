/*
 * ops.h — the float32 building blocks of the forward pass: normalisation,
 * rotary embeddings, activations, softmax, and the threaded matrix product
 * over the kernel table.
 */
#ifndef SLM_MODEL_OPS_H
#define SLM_MODEL_OPS_H

#include <math.h>
#include <stdint.h>

#include "base/threadpool.h"
#include "model/model.h"

/* out[i] = x[i] / sqrt(mean(x^2) + eps) * w[i]  (w may be NULL: gain 1) */
void slm_rmsnorm(float *out, const float *x, const float *w, int64_t n, float eps);

/* out[i] = (x[i] - mean) / sqrt(var + eps) * w[i] + b[i]  (w, b may be NULL).
 * Sums are accumulated in double, as ggml does. */
void slm_layernorm(float *out, const float *x, const float *w, const float *b, int64_t n, float eps);

/* Rotates the first n_rot dims of each of n_heads heads of size head_dim in x
 * for position pos. inv_freq: (n_rot/2). */
void slm_rope(float *x, int n_heads, int head_dim, int n_rot, int32_t pos, const float *inv_freq,
              slm_rope_type type);
/* The same, with cos and sin multiplied by mscale (ggml's attn_factor:
 * LongRoPE / YaRN magnitude scaling; 1 = plain RoPE). */
void slm_rope_ext(float *x, int n_heads, int head_dim, int n_rot, int32_t pos, const float *inv_freq,
                  slm_rope_type type, float mscale);

/* y (n_rows, n) += b broadcast over rows; nothing if b is absent (data NULL). */
void slm_add_bias(float *y, const slm_tensor *b, int64_t n_rows, int64_t n);

/* In-place softmax over n values (max-subtracted). */
void slm_softmax(float *x, int64_t n);

/* g[i] = silu(g[i]) * u[i] for i < n (SwiGLU), with the kernel table. */
void slm_swiglu(float *g, const float *u, int64_t n);

static inline float slm_silu(float x) { return x / (1.0f + __builtin_expf(-x)); }

/* GELU, tanh approximation (gelu_pytorch_tanh), computed exactly in float32.
 * llama.cpp's CPU path instead rounds x to fp16 and reads an fp16 table;
 * the two differ by ~1e-3 relative (golden README: GELU tolerances). */
static inline float slm_gelu(float x) {
    const float k = 0.79788456080286535588f; /* sqrt(2/pi) */
    return 0.5f * x * (1.0f + tanhf(k * x * (1.0f + 0.044715f * x * x)));
}

/*
 * Y = X · Wᵀ : X (n_tok, W.ne[0]) float32, Y (n_tok, W.ne[1]), using the
 * kernel table. xconv (xconv_bytes) receives X converted to the kernel's
 * activation type. Rows of W are split across the pool's threads.
 */
void slm_matmul(slm_pool *pool, const slm_tensor *W, const float *X, int64_t n_tok, float *Y, void *xconv,
                size_t xconv_bytes);

/* Bytes slm_matmul needs in xconv for n_tok rows of n floats, any type. */
size_t slm_matmul_xconv_size(int64_t n_tok, int64_t n);

/* Writes n floats into a KV cache of type kv_type (SLM_TYPE_F32: a copy;
 * SLM_TYPE_F16: rounded to nearest even) with the kernel table. */
void slm_kv_write(int kv_type, const float *src, void *dst, int64_t n);

/* Row r of an embedding-like tensor (any type) as float32. */
void slm_tensor_get_row(const slm_tensor *t, int64_t r, float *out);

#endif
