/*
 * sampling.h — internals of the token sampler (src/infer/sampling.c) that the
 * tests reach into. The public API is the "Sampling" section of slm.h; nothing
 * outside src/infer and tests/ should include this.
 */
#ifndef SLM_INFER_SAMPLING_H
#define SLM_INFER_SAMPLING_H

#include "slm.h"

/*
 * Applies, in place on logits[n_vocab], what the sampler does before any
 * filtering: first the logit bias (values added; a token listed twice gets
 * both), then the penalties over the window of accepted tokens, each token
 * with count c > 0 in the window once:
 *     logit = logit > 0 ? logit / repeat_penalty : logit * repeat_penalty
 *     logit -= c * frequency_penalty + presence_penalty
 */
void slm_sampler_apply_penalties(slm_sampler *s, float *logits);

/*
 * The distribution slm_sampler_sample would draw from for these logits:
 * writes the surviving token ids and their probabilities (summing to 1) to
 * ids[n_vocab] / probs[n_vocab] and returns their count (>= 1). The order is
 * unspecified. Greedy settings give one token with probability 1. Consumes no
 * randomness and does not change the penalty window.
 */
int32_t slm_sampler_distribution(slm_sampler *s, const float *logits, slm_token *ids, float *probs);

#endif
