/*
 * layers.h — the layers of the llama training model, each a
 * <layer>_forward / <layer>_backward pair over float32 buffers (llm.c style).
 *
 * Conventions:
 *  - N = B*T rows (tokens), row-major; shapes are written beside every buffer.
 *  - A backward ACCUMULATES into its gradient outputs (d* += ...), so the
 *    caller zeroes them first; this is what lets several consumers of one
 *    tensor (q, k and v all read the normed input) add up their gradients.
 *    The two exceptions say so: rope works in place, and the cross-entropy
 *    backward writes dlogits (so that it may overwrite the logits buffer).
 *  - Threads: every function takes a pool (NULL: single-threaded) and splits
 *    rows, columns or heads so that no two threads write the same element;
 *    results do not depend on the thread count.
 *  - Inputs are trusted (token ids already checked by the model).
 *
 * Files: embedding.c, rmsnorm.c, linear.c, rope.c, attention.c, swiglu.c,
 * cross_entropy.c, classifier.c (the output product fused with the loss).
 * Each is checked against central finite differences in tests/test_train.c,
 * and the whole model against PyTorch float64 dumps.
 */
#ifndef SLM_TRAIN_LAYERS_H
#define SLM_TRAIN_LAYERS_H

#include <stdbool.h>
#include <stdint.h>

#include "base/threadpool.h"
#include "train/gemm.h"

/* ---- embedding: out[n] = wte[tokens[n]] ---------------------------------- */

/* out (N, C); tokens (N), each in [0, V); wte (V, C) */
void slm_embedding_forward(slm_pool *pool, float *out, const int32_t *tokens, const float *wte, int64_t N, int C);
/* dwte (V, C) += dout (N, C) scattered by token */
void slm_embedding_backward(slm_pool *pool, float *dwte, const float *dout, const int32_t *tokens, int64_t N, int C);

/* ---- rmsnorm: out = x * rstd * w, rstd = 1 / sqrt(mean(x²) + eps) -------- */

/* out (N, C); rstd (N) saved for the backward; x (N, C); w (C) */
void slm_rmsnorm_forward(slm_pool *pool, float *out, float *rstd, const float *x, const float *w, int64_t N, int C,
                         float eps);
/* dx (N, C) +=, dw (C) += ; dout (N, C); x, w, rstd as in the forward */
void slm_rmsnorm_backward(slm_pool *pool, float *dx, float *dw, const float *dout, const float *x, const float *w,
                          const float *rstd, int64_t N, int C);

/* ---- linear (no bias): out = inp · wᵀ ------------------------------------ */

/* out (N, OC) = [out +] inp (N, C) · wᵀ, w (OC, C) (torch Linear layout).
 * add = true adds to out: this fuses a residual connection. */
void slm_linear_forward(slm_gemm *g, float *out, const float *inp, const float *w, int64_t N, int C, int OC,
                        bool add);
/* dinp (N, C) += dout (N, OC) · w ;  dw (OC, C) += doutᵀ · inp.
 * Either output may be NULL (not needed). */
void slm_linear_backward(slm_gemm *g, float *dinp, float *dw, const float *dout, const float *inp, const float *w,
                         int64_t N, int C, int OC);

/* ---- rope: rotary position embedding, llama2.c / llama.cpp "norm" type --- */

/* Angle table: cos_t, sin_t (T, hd/2), angle(t, i) = t * theta^(-2i/hd). */
void slm_rope_table(float *cos_t, float *sin_t, int T, int hd, float theta);
/* In place on x (B, T, n_head, hd): each pair (x[2i], x[2i+1]) of a head at
 * position t is rotated by angle(t, i). */
void slm_rope_forward(slm_pool *pool, float *x, const float *cos_t, const float *sin_t, int64_t B, int T,
                      int n_head, int hd);
/* In place on dx (B, T, n_head, hd): the transposed rotation (by -angle)
 * turns the gradient of the rotated tensor into that of its input. */
void slm_rope_backward(slm_pool *pool, float *dx, const float *cos_t, const float *sin_t, int64_t B, int T,
                       int n_head, int hd);

/* ---- attention: causal, scaled dot-product, grouped-query ----------------- */

/* out (B, T, H, hd); att (B, H, T, T) softmax probabilities saved for the
 * backward (row t holds keys 0..t, the rest is zero); q (B, T, H, hd);
 * k, v (B, T, KV, hd). Query head h reads kv head h / (H / KV). Scale
 * 1/sqrt(hd). The products run through g, one head per task. */
void slm_attention_forward(slm_gemm *g, float *out, float *att, const float *q, const float *k, const float *v,
                           int64_t B, int T, int H, int KV, int hd);
/* dq (B, T, H, hd) +=, dk, dv (B, T, KV, hd) += ; dout (B, T, H, hd);
 * scratch (n_threads, T, T) floats, with n_threads = slm_gemm_n_threads(g). */
void slm_attention_backward(slm_gemm *g, float *dq, float *dk, float *dv, float *scratch, const float *dout,
                            const float *q, const float *k, const float *v, const float *att, int64_t B, int T, int H,
                            int KV, int hd);

/* ---- swiglu: out = silu(h1) * h3, silu(a) = a * sigmoid(a) ---------------- */

/* out, h1, h3 (n) */
void slm_swiglu_forward(slm_pool *pool, float *out, const float *h1, const float *h3, int64_t n);
/* dh1, dh3 (n) += ; dout (n) */
void slm_swiglu_backward(slm_pool *pool, float *dh1, float *dh3, const float *dout, const float *h1, const float *h3,
                         int64_t n);

/* ---- cross-entropy over softmax(logits) ----------------------------------- */

/* losses (N) = logsumexp(logits[n]) - logits[n][targets[n]] and lse (N) =
 * logsumexp(logits[n]), saved for the backward (both 0 where targets[n] < 0,
 * which marks a position to ignore); logits (N, V).
 * Returns the sum of losses (double) and sets *n_valid. */
double slm_cross_entropy_forward(slm_pool *pool, float *losses, float *lse, const float *logits,
                                 const int32_t *targets, int64_t N, int V, int64_t *n_valid);
/* dlogits (N, V) = (softmax(logits) - onehot(target)) * dloss, zero rows for
 * ignored positions; lse from the forward. WRITES (does not accumulate);
 * dlogits may be logits. */
void slm_cross_entropy_backward(slm_pool *pool, float *dlogits, const float *logits, const float *lse,
                                const int32_t *targets, int64_t N, int V, float dloss);

/* ---- classifier: logits = xn · Wᵀ fused with the cross-entropy ---------- */

/* Vocabulary columns per chunk (see classifier.c). */
#define CLS_CHUNK 1024

/* logits (N, V) = xn (N, C) · wᵀ, w (V, C); with targets (may be NULL:
 * logits only) also lse and losses (N) as slm_cross_entropy_forward.
 * scratch: 2N floats. Returns the sum of losses and sets *n_valid. */
double slm_classifier_forward(slm_gemm *g, float *logits, float *lse, float *losses, float *scratch,
                              const float *xn, const float *w, const int32_t *targets, int64_t N, int C, int V,
                              int64_t *n_valid);
/* dxn (N, C) +=, dw (V, C; NULL: not needed) += the gradients of dloss * Σ losses through the
 * softmax and the product, from the forward's logits and lse (unchanged).
 * scratch: N * CLS_CHUNK floats. */
void slm_classifier_backward(slm_gemm *g, float *dxn, float *dw, float *scratch, const float *logits,
                             const float *lse, const float *xn, const float *w, const int32_t *targets, int64_t N,
                             int C, int V, float dloss);

#endif
