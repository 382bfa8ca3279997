/*
 * sampling.c — picks the next token from a logits vector (the "Sampling"
 * section of slm.h).
 *
 * One call of slm_sampler_sample runs, in this order:
 *   1. logit bias            logit[t] += bias (a -INFINITY bias bans t)
 *   2. penalties             over the last penalty_last_n accepted tokens,
 *                            each distinct token t with count c once:
 *                              repeat (llama.cpp): logit > 0 ? logit / r : logit * r
 *                              then logit -= c * frequency + presence  (OpenAI)
 *   3. clean-up              NaN and -inf logits are dropped; +inf becomes FLT_MAX
 *   4. greedy                if temperature <= 0 or top_k == 1: the argmax,
 *                            lowest id on ties (no randomness used)
 *   5. top-k                 the k highest logits (ties: lower id first)
 *   6. top-p                 the smallest prefix of the tokens ordered by
 *                            probability whose cumulative probability >= top_p,
 *                            probabilities at temperature 1 over what top-k kept;
 *                            always at least one token
 *   7. min-p                 drops tokens with p < min_p * p_max (temperature 1)
 *   8. temperature           p ∝ exp((logit - max) / temperature) over the rest
 *   9. draw                  exactly one slm_rng_f64 per call, then the first
 *                            candidate whose running sum exceeds u * total
 * If no token has a usable logit (all NaN / -inf) the result is token 0.
 *
 * Top-k, top-p and min-p each keep a prefix of the same order (logit
 * descending, id ascending), and min-p's threshold is relative to the best
 * token, which neither top-k nor top-p ever drops; so min-p is applied before
 * top-p here (with top-p still measuring probability over everything top-k
 * kept) and the result is the same as in the order above, with less sorting.
 *
 * Cost per token, V = n_vocab: one pass over the logits (plus a copy when
 * bias or penalties are active), O(window) for the penalties; with top-k a
 * bounded heap over the stream (O(V) in practice, O(V log k) worst case)
 * and a sort of the k survivors. Without top-k, top-p finds its set by a
 * quickselect on the cumulative mass (expected O(V), no full sort). No
 * allocation after slm_sampler_new.
 *
 * Determinism: the same seed, settings, accepted tokens and logits give the
 * same tokens (on the same platform's expf). slm_sampler_reset restores the
 * sampler to the state slm_sampler_new left it in (window empty, RNG reseeded).
 *
 * A sampler is one sequence's state; it is not safe to share between threads.
 * What it does not do: grammars, typical-p, mirostat, DRY, XTC.
 */
#include "infer/sampling.h"

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/rng.h"

/* The default seed; any fixed value does, this one is easy to spot in logs. */
#define SLM_SAMPLER_DEFAULT_SEED 0xC0FFEEull

/* Top-p without top-k: ranges this small are sorted instead of partitioned. */
#define TOPP_SORT_BELOW 64

typedef struct {
    int32_t id;
    float logit;  /* after bias and penalties, finite */
    float weight; /* unnormalised probability, max 1 */
} sampler_cand;

struct slm_sampler {
    slm_sampler_params params; /* bias_tokens / bias_values point at our copies */
    int32_t n_vocab;
    slm_rng rng;

    /* penalty window: a ring of the last penalty_last_n accepted tokens */
    slm_token *window;  /* (penalty_last_n) */
    int32_t window_len; /* tokens held, <= penalty_last_n */
    int32_t window_head; /* index of the oldest once full; 0 until then */
    int32_t *counts;    /* (n_vocab) occurrences of each token in the window */

    float *logits;        /* (n_vocab) work copy for bias and penalties */
    sampler_cand *cands;  /* (n_vocab) candidates */
    slm_token *bias_tokens; /* (n_bias) */
    float *bias_values;     /* (n_bias) */
};

/* ------------------------------------------------------------------------ */
/* Parameters and lifetime                                                   */
/* ------------------------------------------------------------------------ */

slm_sampler_params slm_sampler_default_params(void) {
    slm_sampler_params p;
    memset(&p, 0, sizeof p);
    p.temperature = 0.8f;
    p.top_k = 40;
    p.top_p = 0.95f;
    p.min_p = 0.05f;
    p.repeat_penalty = 1.0f;
    p.frequency_penalty = 0.0f;
    p.presence_penalty = 0.0f;
    p.penalty_last_n = 64;
    p.seed = SLM_SAMPLER_DEFAULT_SEED;
    p.bias_tokens = NULL;
    p.bias_values = NULL;
    p.n_bias = 0;
    return p;
}

/* Reserves count elements of elem bytes at *off (16-byte aligned); false on
 * size_t overflow. */
static bool layout_add(size_t *off, size_t *at, size_t count, size_t elem) {
    size_t start = (*off + 15) & ~(size_t)15;
    if (start < *off || (elem && count > (SIZE_MAX - start) / elem)) return false;
    *at = start;
    *off = start + count * elem;
    return true;
}

static slm_status sampler_check_params(const slm_sampler_params *p, int32_t n_vocab) {
    if (n_vocab <= 0) return slm_err(SLM_ERR_ARG, "%s: n_vocab %d must be > 0", __func__, n_vocab);
    if (isnan(p->temperature) || isnan(p->top_p) || isnan(p->min_p))
        return slm_err(SLM_ERR_ARG, "%s: temperature, top_p and min_p must not be NaN", __func__);
    if (!(p->repeat_penalty > 0.0f) || isinf(p->repeat_penalty))
        return slm_err(SLM_ERR_ARG, "%s: repeat_penalty %g must be finite and > 0", __func__,
                       (double)p->repeat_penalty);
    if (!isfinite(p->frequency_penalty) || !isfinite(p->presence_penalty))
        return slm_err(SLM_ERR_ARG, "%s: frequency/presence penalties must be finite", __func__);
    if (p->penalty_last_n < 0)
        return slm_err(SLM_ERR_ARG, "%s: penalty_last_n %d must be >= 0 (0 = off)", __func__,
                       p->penalty_last_n);
    if (p->n_bias < 0 || (p->n_bias > 0 && (!p->bias_tokens || !p->bias_values)))
        return slm_err(SLM_ERR_ARG, "%s: n_bias %d without bias arrays", __func__, p->n_bias);
    for (int32_t i = 0; i < p->n_bias; i++) {
        if (p->bias_tokens[i] < 0 || p->bias_tokens[i] >= n_vocab)
            return slm_err(SLM_ERR_ARG, "%s: bias token %d outside vocab [0, %d)", __func__,
                           p->bias_tokens[i], n_vocab);
        if (isnan(p->bias_values[i]))
            return slm_err(SLM_ERR_ARG, "%s: bias for token %d is NaN", __func__, p->bias_tokens[i]);
    }
    return SLM_OK;
}

/* Returns NULL on a bad argument (SLM_ERR_ARG) or no memory (SLM_ERR_NOMEM),
 * with the reason in slm_last_error(). params NULL means the defaults. The
 * bias arrays are copied; the caller's need not outlive the call. */
slm_sampler *slm_sampler_new(const slm_sampler_params *params, int32_t n_vocab) {
    slm_sampler_params p = params ? *params : slm_sampler_default_params();
    if (sampler_check_params(&p, n_vocab) != SLM_OK) return NULL;

    /* One allocation for the sampler's lifetime. */
    size_t size = sizeof(slm_sampler), at_window, at_counts, at_logits, at_cands, at_btok, at_bval;
    const size_t V = (size_t)n_vocab;
    if (!layout_add(&size, &at_window, (size_t)p.penalty_last_n, sizeof(slm_token)) ||
        !layout_add(&size, &at_counts, V, sizeof(int32_t)) ||
        !layout_add(&size, &at_logits, V, sizeof(float)) ||
        !layout_add(&size, &at_cands, V, sizeof(sampler_cand)) ||
        !layout_add(&size, &at_btok, (size_t)p.n_bias, sizeof(slm_token)) ||
        !layout_add(&size, &at_bval, (size_t)p.n_bias, sizeof(float))) {
        slm_err(SLM_ERR_NOMEM, "%s: sampler for %d tokens is too large", __func__, n_vocab);
        return NULL;
    }
    unsigned char *mem = malloc(size);
    if (!mem) {
        slm_err(SLM_ERR_NOMEM, "%s: out of memory (%zu bytes)", __func__, size);
        return NULL;
    }
    slm_sampler *s = (slm_sampler *)mem;
    memset(s, 0, sizeof *s);
    s->n_vocab = n_vocab;
    s->window = (slm_token *)(mem + at_window);
    s->counts = (int32_t *)(mem + at_counts);
    s->logits = (float *)(mem + at_logits);
    s->cands = (sampler_cand *)(mem + at_cands);
    s->bias_tokens = (slm_token *)(mem + at_btok);
    s->bias_values = (float *)(mem + at_bval);
    if (p.n_bias > 0) {
        memcpy(s->bias_tokens, p.bias_tokens, (size_t)p.n_bias * sizeof(slm_token));
        memcpy(s->bias_values, p.bias_values, (size_t)p.n_bias * sizeof(float));
    }
    p.bias_tokens = s->bias_tokens;
    p.bias_values = s->bias_values;
    s->params = p;
    memset(s->counts, 0, V * sizeof(int32_t));
    slm_rng_seed(&s->rng, p.seed);
    return s;
}

void slm_sampler_free(slm_sampler *s) { free(s); }

void slm_sampler_reset(slm_sampler *s) {
    for (int32_t i = 0; i < s->window_len; i++) s->counts[s->window[i]] = 0;
    s->window_len = 0;
    s->window_head = 0;
    slm_rng_seed(&s->rng, s->params.seed);
}

/* Tokens outside [0, n_vocab) are ignored. */
void slm_sampler_accept(slm_sampler *s, slm_token tok) {
    const int32_t cap = s->params.penalty_last_n;
    if (tok < 0 || tok >= s->n_vocab || cap == 0) return;
    if (s->window_len == cap) {
        s->counts[s->window[s->window_head]]--;
        s->window[s->window_head] = tok;
        s->window_head = s->window_head + 1 == cap ? 0 : s->window_head + 1;
    } else {
        s->window[s->window_len++] = tok; /* head stays 0 until the ring is full */
    }
    s->counts[tok]++;
}

/* ------------------------------------------------------------------------ */
/* Bias and penalties                                                        */
/* ------------------------------------------------------------------------ */

static bool sampler_penalties_active(const slm_sampler *s) {
    const slm_sampler_params *p = &s->params;
    return s->window_len > 0 &&
           (p->repeat_penalty != 1.0f || p->frequency_penalty != 0.0f || p->presence_penalty != 0.0f);
}

void slm_sampler_apply_penalties(slm_sampler *s, float *logits) {
    const slm_sampler_params *p = &s->params;
    for (int32_t i = 0; i < p->n_bias; i++) logits[s->bias_tokens[i]] += s->bias_values[i];
    if (!sampler_penalties_active(s)) return;

    /* Each distinct token once: its count is negated once it has been
     * penalised, and restored afterwards. Entries window[0, window_len) are
     * exactly the window whether or not the ring has wrapped. */
    const float rp = p->repeat_penalty;
    for (int32_t i = 0; i < s->window_len; i++) {
        const slm_token t = s->window[i];
        const int32_t c = s->counts[t];
        if (c <= 0) continue;
        float v = logits[t];
        if (rp != 1.0f) v = v > 0.0f ? v / rp : v * rp;
        v -= (float)c * p->frequency_penalty + p->presence_penalty;
        logits[t] = v;
        s->counts[t] = -c;
    }
    for (int32_t i = 0; i < s->window_len; i++) {
        const slm_token t = s->window[i];
        if (s->counts[t] < 0) s->counts[t] = -s->counts[t];
    }
}

/* ------------------------------------------------------------------------ */
/* Candidate ordering: logit descending, then id ascending (a total order)   */
/* ------------------------------------------------------------------------ */

static inline bool cand_better(const sampler_cand *a, const sampler_cand *b) {
    return a->logit > b->logit || (a->logit == b->logit && a->id < b->id);
}

static inline void cand_swap(sampler_cand *a, sampler_cand *b) {
    sampler_cand t = *a;
    *a = *b;
    *b = t;
}

/* Heaps below keep the worst candidate at the root (h[0]). */
static void heap_sift_down(sampler_cand *h, int32_t n, int32_t i) {
    for (;;) {
        int32_t worst = i, l = 2 * i + 1, r = l + 1;
        if (l < n && cand_better(&h[worst], &h[l])) worst = l;
        if (r < n && cand_better(&h[worst], &h[r])) worst = r;
        if (worst == i) return;
        cand_swap(&h[i], &h[worst]);
        i = worst;
    }
}

static void heap_sift_up(sampler_cand *h, int32_t i) {
    while (i > 0) {
        int32_t parent = (i - 1) / 2;
        if (!cand_better(&h[parent], &h[i])) return;
        cand_swap(&h[parent], &h[i]);
        i = parent;
    }
}

/* Turns a heap of n into a list sorted best first. */
static void heap_sort_best_first(sampler_cand *h, int32_t n) {
    for (int32_t last = n - 1; last > 0; last--) {
        cand_swap(&h[0], &h[last]);
        heap_sift_down(h, last, 0);
    }
}

/* Reorders c[0, n) so that c[0, k) holds the k best, sorted best first
 * (0 < k <= n); the rest follow in no particular order. */
static void cand_select_top(sampler_cand *c, int32_t n, int32_t k) {
    for (int32_t i = k / 2 - 1; i >= 0; i--) heap_sift_down(c, k, i);
    for (int32_t i = k; i < n; i++) {
        if (cand_better(&c[i], &c[0])) {
            cand_swap(&c[0], &c[i]);
            heap_sift_down(c, k, 0);
        }
    }
    heap_sort_best_first(c, k);
}

/* Moves to the front the smallest set of best candidates whose weights sum
 * to at least target, and returns its size (>= 1): top-p
 * without sorting. A quickselect on the accumulated mass, expected O(n);
 * after a bounded number of rounds (bad pivots) the remaining range is sorted
 * instead, so the worst case is O(n log n). The kept set is unordered. */
static int32_t cand_select_mass(sampler_cand *c, int32_t n, double target) {
    if (!(target > 0.0)) { /* top_p <= 0: the best token alone */
        cand_select_top(c, n, 1);
        return 1;
    }
    int32_t lo = 0, hi = n;
    double above = 0.0; /* mass of c[0, lo), each better than all of c[lo, hi) */
    int rounds = 16;
    for (int32_t m = n; m > 1; m >>= 1) rounds += 2;
    /* Invariant: above < target <= above + mass of c[lo, hi). */
    while (hi - lo > TOPP_SORT_BELOW && rounds-- > 0) {
        /* pivot: the median of first, middle and last, moved to c[hi - 1] */
        sampler_cand *a = &c[lo], *b = &c[lo + (hi - lo) / 2], *d = &c[hi - 1];
        if (cand_better(b, a)) cand_swap(a, b);
        if (cand_better(d, b)) {
            cand_swap(b, d);
            if (cand_better(b, a)) cand_swap(a, b);
        } /* now a, b, d run best to worst */
        cand_swap(b, d);
        const sampler_cand pivot = c[hi - 1];

        int32_t store = lo;
        double better = 0.0;
        for (int32_t i = lo; i < hi - 1; i++) {
            if (cand_better(&c[i], &pivot)) {
                better += c[i].weight;
                cand_swap(&c[store++], &c[i]);
            }
        }
        cand_swap(&c[store], &c[hi - 1]);
        if (above + better >= target) {
            hi = store; /* non-empty: better > 0 since above < target */
        } else if (above + better + pivot.weight >= target) {
            return store + 1;
        } else {
            above += better + pivot.weight;
            lo = store + 1;
        }
    }
    cand_select_top(c + lo, hi - lo, hi - lo);
    for (int32_t i = lo; i < hi; i++) {
        above += c[i].weight;
        if (above >= target) return i + 1;
    }
    return hi; /* only by rounding: keep the whole range */
}

/* ------------------------------------------------------------------------ */
/* Building the distribution                                                 */
/* ------------------------------------------------------------------------ */

/* Usable logit: NaN and -inf give false; +inf is clamped to FLT_MAX. */
static inline bool logit_usable(float *v) {
    if (!(*v > -INFINITY)) return false;
    if (*v > FLT_MAX) *v = FLT_MAX;
    return true;
}

/* Fills s->cands[0, n) with the tokens that may be drawn and their
 * unnormalised weights; returns n >= 1. *greedy tells the caller to take
 * cands[0] without drawing. */
static int32_t sampler_build(slm_sampler *s, const float *logits_in, bool *greedy) {
    const slm_sampler_params *p = &s->params;
    const int32_t V = s->n_vocab;
    sampler_cand *c = s->cands;

    const float *l = logits_in;
    if (p->n_bias > 0 || sampler_penalties_active(s)) {
        memcpy(s->logits, logits_in, (size_t)V * sizeof(float));
        slm_sampler_apply_penalties(s, s->logits);
        l = s->logits;
    }

    *greedy = !(p->temperature > 0.0f) || p->top_k == 1;
    if (*greedy) {
        int32_t best = 0;
        float best_v = isnan(l[0]) ? -INFINITY : l[0];
        for (int32_t i = 1; i < V; i++) {
            float v = l[i];
            if (v > best_v) { /* false for NaN; strict, so the lowest id wins ties */
                best = i;
                best_v = v;
            }
        }
        c[0] = (sampler_cand){best, best_v, 1.0f};
        return 1;
    }

    /* Candidates: every usable token, or with top-k the k best of them. */
    int32_t n = 0;
    bool sorted = false;
    if (p->top_k > 0 && p->top_k < V) {
        const int32_t k = p->top_k;
        for (int32_t i = 0; i < V; i++) {
            float v = l[i];
            if (!logit_usable(&v)) continue;
            if (n < k) {
                c[n] = (sampler_cand){i, v, 0.0f};
                heap_sift_up(c, n);
                n++;
            } else if (v > c[0].logit) { /* a later id never wins a tie */
                c[0] = (sampler_cand){i, v, 0.0f};
                heap_sift_down(c, k, 0);
            }
        }
        heap_sort_best_first(c, n);
        sorted = true;
    } else {
        for (int32_t i = 0; i < V; i++) {
            float v = l[i];
            if (logit_usable(&v)) c[n++] = (sampler_cand){i, v, 0.0f};
        }
    }
    if (n == 0) { /* nothing usable: see the file comment */
        c[0] = (sampler_cand){0, 0.0f, 1.0f};
        return 1;
    }

    float max_logit = c[0].logit;
    if (!sorted)
        for (int32_t i = 1; i < n; i++)
            if (c[i].logit > max_logit) max_logit = c[i].logit;

    /* Top-p and min-p at temperature 1. */
    const bool use_min_p = p->min_p > 0.0f, use_top_p = p->top_p < 1.0f;
    if (use_min_p || use_top_p) {
        double z = 0.0;
        for (int32_t i = 0; i < n; i++) {
            c[i].weight = expf(c[i].logit - max_logit);
            z += c[i].weight;
        }
        if (use_min_p) {
            /* p_i < min_p * p_max  <=>  weight_i < min_p (the best has weight 1).
             * Clamped at 1 so the best token always survives. Keeps order. */
            const float threshold = p->min_p < 1.0f ? p->min_p : 1.0f;
            int32_t kept = 0;
            for (int32_t i = 0; i < n; i++)
                if (c[i].weight >= threshold) c[kept++] = c[i];
            n = kept;
        }
        if (use_top_p) {
            const double target = (double)p->top_p * z; /* z: mass before min-p */
            if (sorted) {
                double cum = 0.0;
                int32_t i = 0;
                while (i < n) {
                    cum += c[i++].weight;
                    if (cum >= target) break;
                }
                n = i;
            } else {
                n = cand_select_mass(c, n, target);
            }
        }
    }

    /* Temperature: weights relative to the best, which every filter keeps. */
    const float t = p->temperature;
    if (t != 1.0f || !(use_min_p || use_top_p)) {
        for (int32_t i = 0; i < n; i++) {
            float w = expf((c[i].logit - max_logit) / t);
            c[i].weight = w > 0.0f ? w : 0.0f; /* NaN (inf - inf) counts as 0 */
        }
    }
    return n;
}

slm_token slm_sampler_sample(slm_sampler *s, const float *logits) {
    bool greedy;
    const int32_t n = sampler_build(s, logits, &greedy);
    const sampler_cand *c = s->cands;
    if (greedy) return c[0].id;

    double total = 0.0;
    for (int32_t i = 0; i < n; i++) total += c[i].weight;
    const double u = slm_rng_f64(&s->rng) * total;
    double cum = 0.0; /* summed in the same order as total, so it reaches it */
    for (int32_t i = 0; i < n; i++) {
        cum += c[i].weight;
        if (u < cum) return c[i].id;
    }
    /* u rounded up to total: the last token that can be drawn */
    for (int32_t i = n - 1; i > 0; i--)
        if (c[i].weight > 0.0f) return c[i].id;
    return c[0].id;
}

int32_t slm_sampler_distribution(slm_sampler *s, const float *logits, slm_token *ids, float *probs) {
    bool greedy;
    const int32_t n = sampler_build(s, logits, &greedy);
    const sampler_cand *c = s->cands;
    double total = 0.0;
    for (int32_t i = 0; i < n; i++) total += c[i].weight;
    for (int32_t i = 0; i < n; i++) {
        ids[i] = c[i].id;
        probs[i] = (float)(c[i].weight / total);
    }
    return n;
}
