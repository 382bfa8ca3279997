/*
 * hf_archs.c — the Hugging Face architectures slm reads from a folder: for
 * each, its config.json keys, its tensor names and their GGUF names and
 * expected shapes, and the settings beyond the common ones (what llama.cpp's
 * convert_hf_to_gguf.py writes for it). Adding one is a table entry here
 * (and, if new to slm, an arch_*.c file).
 *
 *   model_type            GGUF arch  notes
 *   llama, mistral        llama      q/k rows in HF's rotary layout (hf_folder.h);
 *                                    rope_scaling linear or llama3 (rope_freqs)
 *   qwen2                 qwen2      q/k/v biases
 *   qwen3                 qwen3      per-head q/k norms, head_dim
 *   phi3                  phi3       fused qkv_proj and gate_up_proj; partial
 *                                    rotary; LongRoPE factors
 *   gemma, gemma2,        gemma*     norm gains stored as w (GGUF: 1 + w);
 *   gemma3, gemma3_text              soft-caps, sliding windows, local RoPE base
 *   gpt2                  gpt2       Conv1D matrices stored (in, out): transposed
 *   opt                   opt        positions offset by 2; pre-norm only
 *
 * Not read: tensors of other models in the same file (vision towers are
 * skipped), MoE checkpoints (one tensor per expert), YaRN / dynamic RoPE.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/error.h"
#include "model/hf_impl.h"
#include "quant/quant.h"

#define TRY(x)                         \
    do {                               \
        slm_status st_ = (x);          \
        if (st_ != SLM_OK) return st_; \
    } while (0)

enum { O = HF_T_OPTIONAL, N = HF_T_NORM, RQ = HF_T_ROPE_Q, RK = HF_T_ROPE_K, C1 = HF_T_CONV1D };
enum { B0 = HF_BIAS_NONE, BO = HF_BIAS_OPT, BR = HF_BIAS_REQ };
#define E HF_DIM_E
#define Q HF_DIM_Q
#define K HF_DIM_K
#define F HF_DIM_F
#define V HF_DIM_V
#define HD HF_DIM_HD
#define X HF_DIM_NONE

/* ------------------------------------------------------------------------ */
/* Tensor tables                                                              */
/* ------------------------------------------------------------------------ */

static const char *const k_model_prefix[] = {"model.", NULL};
static const char *const k_llama_ignore[] = {"*rotary_emb.inv_freq", NULL};

static const hf_tensor_map k_llama_globals[] = {
    {"embed_tokens", "token_embd", V, E, 0, B0},
    {"norm", "output_norm", E, X, N, B0},
    {"lm_head", "output", V, E, O, B0},
    {NULL, NULL, X, X, 0, B0},
};

/* llama, mistral, qwen2 (biases required there), gemma */
#define LLAMA_ATTN(qkv_bias)                                        \
    {"input_layernorm", "attn_norm", E, X, N, B0},                  \
    {"self_attn.q_proj", "attn_q", Q, E, RQ, qkv_bias},             \
    {"self_attn.k_proj", "attn_k", K, E, RK, qkv_bias},             \
    {"self_attn.v_proj", "attn_v", K, E, 0, qkv_bias},              \
    {"self_attn.o_proj", "attn_output", E, Q, 0, BO}
#define LLAMA_MLP                                                   \
    {"mlp.gate_proj", "ffn_gate", F, E, 0, BO},                     \
    {"mlp.up_proj", "ffn_up", F, E, 0, BO},                         \
    {"mlp.down_proj", "ffn_down", E, F, 0, BO}

static const hf_tensor_map k_llama_layer[] = {
    LLAMA_ATTN(BO),
    {"post_attention_layernorm", "ffn_norm", E, X, N, B0},
    LLAMA_MLP,
    {NULL, NULL, X, X, 0, B0},
};

static const hf_tensor_map k_qwen2_layer[] = {
    LLAMA_ATTN(BR),
    {"post_attention_layernorm", "ffn_norm", E, X, N, B0},
    LLAMA_MLP,
    {NULL, NULL, X, X, 0, B0},
};

static const hf_tensor_map k_qwen3_layer[] = {
    LLAMA_ATTN(BO),
    {"self_attn.q_norm", "attn_q_norm", HD, X, N, B0},
    {"self_attn.k_norm", "attn_k_norm", HD, X, N, B0},
    {"post_attention_layernorm", "ffn_norm", E, X, N, B0},
    LLAMA_MLP,
    {NULL, NULL, X, X, 0, B0},
};

static const hf_tensor_map k_phi3_layer[] = {
    {"input_layernorm", "attn_norm", E, X, N, B0},
    {"self_attn.qkv_proj", "attn_qkv", HF_DIM_QKV, E, 0, BO},
    {"self_attn.o_proj", "attn_output", E, Q, 0, BO},
    {"post_attention_layernorm", "ffn_norm", E, X, N, B0},
    {"mlp.gate_up_proj", "ffn_up", HF_DIM_F2, E, 0, BO},
    {"mlp.down_proj", "ffn_down", E, F, 0, BO},
    {NULL, NULL, X, X, 0, B0},
};

/* gemma2 (gemma3 adds q/k norms): norms around attention and the MLP */
static const hf_tensor_map k_gemma2_layer[] = {
    LLAMA_ATTN(B0),
    {"self_attn.q_norm", "attn_q_norm", HD, X, N | O, B0},
    {"self_attn.k_norm", "attn_k_norm", HD, X, N | O, B0},
    {"post_attention_layernorm", "post_attention_norm", E, X, N, B0},
    {"pre_feedforward_layernorm", "ffn_norm", E, X, N, B0},
    {"post_feedforward_layernorm", "post_ffw_norm", E, X, N, B0},
    LLAMA_MLP,
    {NULL, NULL, X, X, 0, B0},
};

/* Gemma 3 multimodal checkpoints keep the language model under a prefix. */
static const char *const k_gemma3_prefix[] = {"language_model.model.", "model.language_model.", "language_model.",
                                              "model.", NULL};
static const char *const k_gemma3_ignore[] = {"vision_tower*", "multi_modal_projector*", "model.vision_tower*",
                                              "model.multi_modal_projector*", NULL};

static const char *const k_gpt2_prefix[] = {"transformer.", NULL};
static const char *const k_gpt2_ignore[] = {"*.attn.bias", "*.attn.masked_bias", NULL}; /* causal-mask buffers */
static const hf_tensor_map k_gpt2_globals[] = {
    {"wte", "token_embd", V, E, 0, B0},
    {"wpe", "position_embd", HF_DIM_P, E, 0, B0},
    {"ln_f", "output_norm", E, X, 0, BR},
    {"lm_head", "output", V, E, O, B0},
    {NULL, NULL, X, X, 0, B0},
};
static const hf_tensor_map k_gpt2_layer[] = {
    {"ln_1", "attn_norm", E, X, 0, BR},
    {"attn.c_attn", "attn_qkv", HF_DIM_QKV, E, C1, BR},
    {"attn.c_proj", "attn_output", E, Q, C1, BR},
    {"ln_2", "ffn_norm", E, X, 0, BR},
    {"mlp.c_fc", "ffn_up", F, E, C1, BR},
    {"mlp.c_proj", "ffn_down", E, F, C1, BR},
    {NULL, NULL, X, X, 0, B0},
};

static const char *const k_opt_prefix[] = {"model.decoder.", "decoder.", NULL};
static const hf_tensor_map k_opt_globals[] = {
    {"embed_tokens", "token_embd", V, E, 0, B0},
    {"embed_positions", "position_embd", HF_DIM_P2, E, HF_T_SKIP2, B0},
    {"final_layer_norm", "output_norm", E, X, 0, BR},
    {"lm_head", "output", V, E, O, B0},
    {NULL, NULL, X, X, 0, B0},
};
static const hf_tensor_map k_opt_layer[] = {
    {"self_attn_layer_norm", "attn_norm", E, X, 0, BR},
    {"self_attn.q_proj", "attn_q", Q, E, 0, BR},
    {"self_attn.k_proj", "attn_k", K, E, 0, BR},
    {"self_attn.v_proj", "attn_v", K, E, 0, BR},
    {"self_attn.out_proj", "attn_output", E, Q, 0, BR},
    {"final_layer_norm", "ffn_norm", E, X, 0, BR},
    {"fc1", "ffn_up", F, E, 0, BR},
    {"fc2", "ffn_down", E, F, 0, BR},
    {NULL, NULL, X, X, 0, B0},
};

/* ------------------------------------------------------------------------ */
/* Settings beyond the common keys                                            */
/* ------------------------------------------------------------------------ */

/* hidden_act (or another key) must be one of the accepted names. */
static slm_status check_act(hf_ctx *h, const char *key, const char *def, const char *const *ok) {
    const char *act;
    TRY(hf_cfg_str(h, key, &act));
    if (!act) act = def;
    for (const char *const *p = ok; *p; p++)
        if (!strcmp(act, *p)) return SLM_OK;
    return slm_err(SLM_ERR_UNSUPPORTED, "%s: %s '%s' is not supported for %s (expected %s)", h->cfg_path, key, act,
                   h->arch->model_type, ok[0]);
}

static const char *const k_silu[] = {"silu", "swish", NULL};
static const char *const k_gelu_tanh[] = {"gelu_pytorch_tanh", "gelu_new", "gelu", NULL};

/* Llama 3.1's frequency divisors (llama.cpp's converter's formula, in
 * double precision, then rounded to float32; torch's float32 arithmetic
 * there can differ in the last bit). */
static slm_status rope_llama3(hf_ctx *h, const slm_json_node *rs) {
    const slm_json_node *tc = h->cfg;
    double factor = 8, low = 1, high = 4, orig = 8192;
    h->cfg = rs; /* read the rope_scaling members with the config helpers */
    slm_status st = hf_cfg_num(h, "factor", false, 8.0, &factor);
    if (!st) st = hf_cfg_num(h, "low_freq_factor", false, 1.0, &low);
    if (!st) st = hf_cfg_num(h, "high_freq_factor", false, 4.0, &high);
    if (!st) st = hf_cfg_num(h, "original_max_position_embeddings", false, 8192, &orig);
    h->cfg = tc;
    if (st) return st;
    if (!(factor > 0) || !(low > 0) || !(high > low) || !(orig > 0))
        return slm_err(SLM_ERR_FORMAT, "%s: rope_scaling (llama3): factor, low_freq_factor < high_freq_factor and "
                       "original_max_position_embeddings must be positive", h->cfg_path);
    const int64_t n = h->hp.head_dim / 2;
    float *f = hf_alloc(h, (size_t)n * sizeof(float));
    if (!f) return slm_err(SLM_ERR_NOMEM, "%s: out of memory", h->cfg_path);
    const double lo_wl = orig / low, hi_wl = orig / high;
    for (int64_t i = 0; i < n; i++) {
        double freq = 1.0 / pow(h->hp.rope_theta, (double)(2 * i) / (double)h->hp.head_dim);
        double wavelen = 2 * M_PI / freq;
        if (wavelen < hi_wl) f[i] = 1.0f;
        else if (wavelen > lo_wl) f[i] = (float)factor;
        else {
            double smooth = (orig / wavelen - low) / (high - low);
            f[i] = (float)(1.0 / ((1.0 - smooth) / factor + smooth));
        }
    }
    int64_t ne[1] = {n};
    return gguf_writer_add_tensor(h->w, "rope_freqs.weight", SLM_TYPE_F32, 1, ne, f, (uint64_t)n * 4);
}

/* rope_scaling: null, "default", "linear" (factor) or, where llama3 is
 * true, "llama3". */
static slm_status rope_scaling(hf_ctx *h, bool llama3) {
    const slm_json_node *rs = hf_cfg_get(h, "rope_scaling");
    if (!rs) return SLM_OK;
    if (!slm_json_is(rs, SLM_JSON_OBJECT))
        return slm_err(SLM_ERR_FORMAT, "%s: key 'rope_scaling' must be an object or null", h->cfg_path);
    const char *type = slm_json_get_str(rs, "rope_type", NULL);
    if (!type) type = slm_json_get_str(rs, "type", NULL);
    if (!type) return slm_err(SLM_ERR_FORMAT, "%s: rope_scaling has no 'rope_type' (or 'type')", h->cfg_path);
    char k[128];
    if (!strcmp(type, "default")) return SLM_OK;
    if (!strcmp(type, "linear")) {
        const slm_json_node *f = slm_json_get(rs, "factor");
        if (!slm_json_is(f, SLM_JSON_NUMBER) || !(f->v.num > 0))
            return slm_err(SLM_ERR_FORMAT, "%s: rope_scaling.factor must be a positive number", h->cfg_path);
        gguf_writer_set_str(h->w, hf_key(h, "rope.scaling.type", k, sizeof k), "linear");
        gguf_writer_set_f32(h->w, hf_key(h, "rope.scaling.factor", k, sizeof k), (float)f->v.num);
        return SLM_OK;
    }
    if (llama3 && !strcmp(type, "llama3")) return rope_llama3(h, rs);
    return slm_err(SLM_ERR_UNSUPPORTED, "%s: rope_scaling.rope_type '%s' is not supported for %s (slm has linear%s)",
                   h->cfg_path, type, h->arch->model_type, llama3 ? " and llama3" : "");
}

static slm_status llama_extra(hf_ctx *h) {
    TRY(check_act(h, "hidden_act", "silu", k_silu));
    return rope_scaling(h, true);
}

static slm_status qwen_extra(hf_ctx *h) {
    TRY(check_act(h, "hidden_act", "silu", k_silu));
    return rope_scaling(h, false);
}

/* Phi-3: partial rotary dims, sliding window, LongRoPE factor tensors. */
static slm_status phi3_extra(hf_ctx *h) {
    TRY(check_act(h, "hidden_act", "silu", k_silu));
    char k[128];
    double rot;
    TRY(hf_cfg_num(h, "partial_rotary_factor", false, 1.0, &rot));
    int64_t rope_dims = (int64_t)(rot * (double)h->hp.n_embd) / h->hp.n_head;
    if (!(rot > 0 && rot <= 1) || rope_dims <= 0 || rope_dims % 2 || rope_dims > h->hp.head_dim)
        return slm_err(SLM_ERR_FORMAT, "%s: partial_rotary_factor %g gives %lld rotary dims (expected even, <= %lld)",
                       h->cfg_path, rot, (long long)rope_dims, (long long)h->hp.head_dim);
    gguf_writer_set_u32(h->w, hf_key(h, "rope.dimension_count", k, sizeof k), (uint32_t)rope_dims);
    int64_t swa;
    TRY(hf_cfg_int(h, "sliding_window", false, 0, 0, INT32_MAX, &swa));
    if (swa) gguf_writer_set_u32(h->w, hf_key(h, "attention.sliding_window", k, sizeof k), (uint32_t)swa);
    const slm_json_node *rs = hf_cfg_get(h, "rope_scaling");
    if (!rs) return SLM_OK;
    const char *type = slm_json_get_str(rs, "rope_type", NULL);
    if (!type) type = slm_json_get_str(rs, "type", NULL);
    if (!type || (strcmp(type, "longrope") && strcmp(type, "su")))
        return rope_scaling(h, false);
    int64_t orig;
    TRY(hf_cfg_int(h, "original_max_position_embeddings", true, 0, 1, INT32_MAX, &orig));
    double scale = (double)h->hp.n_ctx / (double)orig;
    float attn_factor = scale > 1.0 ? (float)sqrt(1 + log(scale) / log((double)orig)) : 1.0f;
    gguf_writer_set_f32(h->w, hf_key(h, "rope.scaling.attn_factor", k, sizeof k), attn_factor);
    gguf_writer_set_u32(h->w, hf_key(h, "rope.scaling.original_context_length", k, sizeof k), (uint32_t)orig);
    static const char *const which[2][2] = {{"long_factor", "rope_factors_long.weight"},
                                            {"short_factor", "rope_factors_short.weight"}};
    for (int i = 0; i < 2; i++) {
        const slm_json_node *a = slm_json_get(rs, which[i][0]);
        if (!slm_json_is(a, SLM_JSON_ARRAY) || slm_json_count(a) != (uint32_t)(rope_dims / 2))
            return slm_err(SLM_ERR_FORMAT, "%s: rope_scaling.%s must be an array of %lld numbers", h->cfg_path,
                           which[i][0], (long long)(rope_dims / 2));
        float *f = hf_alloc(h, (size_t)(rope_dims / 2) * sizeof(float));
        if (!f) return slm_err(SLM_ERR_NOMEM, "%s: out of memory", h->cfg_path);
        int64_t j = 0;
        for (const slm_json_node *c = slm_json_child(a); c; c = slm_json_next(c), j++) {
            if (!slm_json_is(c, SLM_JSON_NUMBER) || !(c->v.num > 0))
                return slm_err(SLM_ERR_FORMAT, "%s: rope_scaling.%s[%lld] must be a positive number", h->cfg_path,
                               which[i][0], (long long)j);
            f[j] = (float)c->v.num;
        }
        int64_t ne[1] = {rope_dims / 2};
        TRY(gguf_writer_add_tensor(h->w, which[i][1], SLM_TYPE_F32, 1, ne, f, (uint64_t)(rope_dims / 2) * 4));
    }
    return SLM_OK;
}

static slm_status gemma_extra(hf_ctx *h) {
    return check_act(h, hf_cfg_get(h, "hidden_activation") ? "hidden_activation" : "hidden_act", "gelu_pytorch_tanh",
                     k_gelu_tanh);
}

/* A soft-cap: a positive number, or null / absent (= off, written as 0). */
static slm_status softcap(hf_ctx *h, const char *key, double def_if_absent) {
    char k[128];
    const slm_json_node *n = slm_json_get(h->cfg, key);
    double v = def_if_absent;
    if (slm_json_is(n, SLM_JSON_NULL)) v = 0;
    else if (n) TRY(hf_cfg_num(h, key, false, 0, &v));
    if (v < 0) return slm_err(SLM_ERR_FORMAT, "%s: key '%s' must not be negative", h->cfg_path, key);
    if (v > 0 || def_if_absent > 0) gguf_writer_set_f32(h->w, hf_key(h, key, k, sizeof k), (float)v);
    return SLM_OK;
}

static slm_status gemma2_extra(hf_ctx *h) {
    TRY(gemma_extra(h));
    char k[128];
    int64_t swa;
    TRY(softcap(h, "attn_logit_softcapping", 50.0));
    TRY(softcap(h, "final_logit_softcapping", 30.0));
    TRY(hf_cfg_int(h, "sliding_window", false, 4096, 1, INT32_MAX, &swa));
    gguf_writer_set_u32(h->w, hf_key(h, "attention.sliding_window", k, sizeof k), (uint32_t)swa);
    return SLM_OK;
}

/* Gemma 3: window, which layers use it (sliding_window_pattern, or the
 * per-layer layer_types of newer configs), local RoPE base, scaling. */
static slm_status gemma3_extra(hf_ctx *h) {
    TRY(gemma_extra(h));
    char k[128];
    int64_t swa, pattern;
    TRY(hf_cfg_int(h, "sliding_window", false, 4096, 1, INT32_MAX, &swa));
    gguf_writer_set_u32(h->w, hf_key(h, "attention.sliding_window", k, sizeof k), (uint32_t)swa);
    const slm_json_node *lt = hf_cfg_get(h, "layer_types");
    if (lt) {
        if (!slm_json_is(lt, SLM_JSON_ARRAY) || slm_json_count(lt) != (uint32_t)h->hp.n_layer)
            return slm_err(SLM_ERR_FORMAT, "%s: layer_types must be an array of %lld strings", h->cfg_path,
                           (long long)h->hp.n_layer);
        uint8_t *flags = hf_alloc(h, (size_t)h->hp.n_layer);
        if (!flags) return slm_err(SLM_ERR_NOMEM, "%s: out of memory", h->cfg_path);
        int64_t i = 0;
        for (const slm_json_node *c = slm_json_child(lt); c; c = slm_json_next(c), i++) {
            const char *s = slm_json_str(c, NULL);
            if (!s || (strcmp(s, "sliding_attention") && strcmp(s, "full_attention")))
                return slm_err(SLM_ERR_FORMAT, "%s: layer_types[%lld] must be \"sliding_attention\" or "
                               "\"full_attention\"", h->cfg_path, (long long)i);
            flags[i] = !strcmp(s, "sliding_attention");
        }
        gguf_writer_set_arr(h->w, hf_key(h, "attention.sliding_window_pattern", k, sizeof k), GGUF_TYPE_BOOL, flags,
                            (uint64_t)h->hp.n_layer);
    } else {
        TRY(hf_cfg_int(h, "sliding_window_pattern", false, 6, 1, 4096, &pattern));
        gguf_writer_set_u32(h->w, hf_key(h, "attention.sliding_window_pattern", k, sizeof k), (uint32_t)pattern);
    }
    double local;
    TRY(hf_cfg_num(h, "rope_local_base_freq", false, 10000.0, &local));
    if (!(local > 0)) return slm_err(SLM_ERR_FORMAT, "%s: rope_local_base_freq must be positive", h->cfg_path);
    gguf_writer_set_f32(h->w, hf_key(h, "rope.freq_base_swa", k, sizeof k), (float)local);
    return rope_scaling(h, false);
}

/* OPT: pre-norm, ReLU, biases, embeddings of the hidden size only. */
static slm_status opt_extra(hf_ctx *h) {
    static const char *const relu[] = {"relu", NULL};
    TRY(check_act(h, "activation_function", "relu", relu));
    bool pre, bias, affine, remove_final;
    TRY(hf_cfg_bool(h, "do_layer_norm_before", true, &pre));
    TRY(hf_cfg_bool(h, "enable_bias", true, &bias));
    TRY(hf_cfg_bool(h, "layer_norm_elementwise_affine", true, &affine));
    TRY(hf_cfg_bool(h, "_remove_final_layer_norm", false, &remove_final));
    if (!pre || remove_final)
        return slm_err(SLM_ERR_UNSUPPORTED, "%s: do_layer_norm_before false (post-norm OPT, e.g. opt-350m) is not "
                       "supported", h->cfg_path);
    if (!bias || !affine)
        return slm_err(SLM_ERR_UNSUPPORTED, "%s: %s false is not supported (slm's OPT has biases and norm gains)",
                       h->cfg_path, !bias ? "enable_bias" : "layer_norm_elementwise_affine");
    int64_t proj;
    TRY(hf_cfg_int(h, "word_embed_proj_dim", false, h->hp.n_embd, 1, 1 << 20, &proj));
    if (proj != h->hp.n_embd)
        return slm_err(SLM_ERR_UNSUPPORTED, "%s: word_embed_proj_dim %lld differs from hidden_size %lld "
                       "(project_in/project_out are not supported)", h->cfg_path, (long long)proj,
                       (long long)h->hp.n_embd);
    return SLM_OK;
}

/* ------------------------------------------------------------------------ */
/* The list                                                                   */
/* ------------------------------------------------------------------------ */

#define LLAMA_KEYS                                                                                            \
    {"hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "intermediate_size",  \
     "max_position_embeddings", "rms_norm_eps"}

static const hf_arch k_archs[] = {
    {"llama", "LlamaForCausalLM", "llama", k_model_prefix, k_llama_ignore, "layers.", k_llama_globals,
     k_llama_layer, LLAMA_KEYS, 1e-6, false, false, true, false, true, llama_extra},
    {"mistral", "MistralForCausalLM", "llama", k_model_prefix, k_llama_ignore, "layers.", k_llama_globals,
     k_llama_layer, LLAMA_KEYS, 1e-6, false, false, true, false, true, llama_extra},
    {"qwen2", "Qwen2ForCausalLM", "qwen2", k_model_prefix, k_llama_ignore, "layers.", k_llama_globals,
     k_qwen2_layer, LLAMA_KEYS, 1e-6, false, false, false, false, true, qwen_extra},
    {"qwen3", "Qwen3ForCausalLM", "qwen3", k_model_prefix, k_llama_ignore, "layers.", k_llama_globals,
     k_qwen3_layer, LLAMA_KEYS, 1e-6, false, false, false, false, true, qwen_extra},
    {"phi3", "Phi3ForCausalLM", "phi3", k_model_prefix, k_llama_ignore, "layers.", k_llama_globals, k_phi3_layer,
     LLAMA_KEYS, 1e-5, false, false, false, false, true, phi3_extra},
    {"gemma", "GemmaForCausalLM", "gemma", k_model_prefix, k_llama_ignore, "layers.", k_llama_globals,
     k_llama_layer, LLAMA_KEYS, 1e-6, true, false, false, true, true, gemma_extra},
    {"gemma2", "Gemma2ForCausalLM", "gemma2", k_model_prefix, k_llama_ignore, "layers.", k_llama_globals,
     k_gemma2_layer, LLAMA_KEYS, 1e-6, true, false, false, true, true, gemma2_extra},
    {"gemma3_text", "Gemma3ForCausalLM", "gemma3", k_gemma3_prefix, k_gemma3_ignore, "layers.", k_llama_globals,
     k_gemma2_layer, LLAMA_KEYS, 1e-6, true, false, false, true, true, gemma3_extra},
    {"gemma3", "Gemma3ForConditionalGeneration", "gemma3", k_gemma3_prefix, k_gemma3_ignore, "layers.",
     k_llama_globals, k_gemma2_layer, LLAMA_KEYS, 1e-6, true, false, false, true, true, gemma3_extra},
    {"gpt2", "GPT2LMHeadModel", "gpt2", k_gpt2_prefix, k_gpt2_ignore, "h.", k_gpt2_globals, k_gpt2_layer,
     {"n_embd", "n_layer", "n_head", NULL, "n_inner", "n_positions", "layer_norm_epsilon"}, 1e-5, true, true,
     false, false, false, NULL},
    {"opt", "OPTForCausalLM", "opt", k_opt_prefix, NULL, "layers.", k_opt_globals, k_opt_layer,
     {"hidden_size", "num_hidden_layers", "num_attention_heads", NULL, "ffn_dim", "max_position_embeddings",
      "layer_norm_eps"},
     1e-5, true, true, false, false, false, opt_extra},
};

const hf_arch *hf_arch_find(const char *model_type, const char *hf_class) {
    for (size_t i = 0; i < sizeof k_archs / sizeof k_archs[0]; i++)
        if (model_type ? !strcmp(k_archs[i].model_type, model_type) : !strcmp(k_archs[i].hf_class, hf_class))
            return &k_archs[i];
    return NULL;
}

void hf_arch_names(char *buf, size_t cap) {
    size_t len = 0;
    buf[0] = 0;
    for (size_t i = 0; i < sizeof k_archs / sizeof k_archs[0] && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%s", i ? ", " : "", k_archs[i].model_type);
}
