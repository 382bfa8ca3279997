/*
 * blocks.h — the sub-layers of one transformer block, shared by every
 * architecture (internal to src/model/). Each reads its input from ctx->xb
 * (n tokens × n_embd, already normalised) and writes its output back to
 * ctx->xb; forward.c does the norms and residual adds around them.
 *
 *   attention.c  q/k/v projections (separate or fused, biases), per-head q/k
 *                RMSNorm, RoPE, the KV cache, causal or sliding-window
 *                attention with an optional soft-cap, the output projection;
 *   ffn.c        the dense feed-forward: gated (SwiGLU / GeGLU, separate or
 *                fused gate+up) or plain (gpt2);
 *   moe.c        routed experts: softmax router, top-k, per-expert SwiGLU.
 */
#ifndef SLM_MODEL_BLOCKS_H
#define SLM_MODEL_BLOCKS_H

#include "infer/context.h"

void slm_block_attention(slm_ctx *c, int il, int32_t n);

/* Attention work items (attention.c): this many consecutive rows with the
 * G = n_head / n_head_kv heads of one kv head, at most
 * slm_attn_max_queries(hp) queries; context.c sizes the per-thread scores
 * for that many rows of n_ctx. */
#define SLM_ATTN_MAX_QUERIES 256
static inline int slm_attn_block_rows(const slm_hparams *hp) {
    const int G = hp->n_head / hp->n_head_kv;
    return G >= 16 ? 1 : 16 / G;
}
static inline int slm_attn_max_queries(const slm_hparams *hp) {
    return slm_attn_block_rows(hp) * (hp->n_head / hp->n_head_kv);
}
void slm_block_ffn(slm_ctx *c, int il, int32_t n);
void slm_block_moe(slm_ctx *c, int il, int32_t n);

#endif
