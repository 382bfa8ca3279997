/* hf_util.c — writers of Hugging Face folders for the tests (see hf_util.h). */
#include "hf_util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/fp16.h"
#include "formats/gguf.h"
#include "slm.h"

/* ------------------------------------------------------------------------ */
/* Text                                                                       */
/* ------------------------------------------------------------------------ */

typedef struct {
    char *s;
    size_t n, cap;
} sbuf;

static void sb_add(sbuf *b, const char *p, size_t n) {
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->s = realloc(b->s, b->cap);
    }
    memcpy(b->s + b->n, p, n);
    b->n += n;
    b->s[b->n] = 0;
}

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *tmp = malloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(tmp, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb_add(b, tmp, (size_t)n);
    free(tmp);
}

/* A JSON string literal of n bytes. */
static void sb_json_str(sbuf *b, const char *s, size_t n) {
    sb_add(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            sb_add(b, e, 2);
        } else if (c < 0x20) {
            char e[8];
            snprintf(e, sizeof e, "\\u%04x", c);
            sb_add(b, e, 6);
        } else {
            sb_add(b, (const char *)&c, 1);
        }
    }
    sb_add(b, "\"", 1);
}

bool hu_write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (!f) return false;
    size_t n = strlen(text);
    bool ok = fwrite(text, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

/* ------------------------------------------------------------------------ */
/* safetensors                                                                */
/* ------------------------------------------------------------------------ */

bool hu_write_safetensors(const char *path, const hu_tensor *t, int n, const char *metadata) {
    sbuf h = {0};
    sb_add(&h, "{", 1);
    if (metadata) sb_printf(&h, "\"__metadata__\":%s", metadata);
    uint64_t off = 0;
    for (int i = 0; i < n; i++) {
        if (i || metadata) sb_add(&h, ",", 1);
        sb_json_str(&h, t[i].name, strlen(t[i].name));
        sb_printf(&h, ":{\"dtype\":\"%s\",\"shape\":[", t[i].dtype);
        for (int d = 0; d < t[i].n_dims; d++) sb_printf(&h, "%s%lld", d ? "," : "", (long long)t[i].shape[d]);
        sb_printf(&h, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
                  (unsigned long long)(off + t[i].nbytes));
        off += t[i].nbytes;
    }
    sb_add(&h, "}", 1);
    while (h.n % 8) sb_add(&h, " ", 1);
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(h.s);
        return false;
    }
    uint8_t len[8];
    for (int i = 0; i < 8; i++) len[i] = (uint8_t)((uint64_t)h.n >> (8 * i));
    bool ok = fwrite(len, 1, 8, f) == 8 && fwrite(h.s, 1, h.n, f) == h.n;
    for (int i = 0; i < n && ok; i++) ok = !t[i].nbytes || fwrite(t[i].data, 1, t[i].nbytes, f) == t[i].nbytes;
    free(h.s);
    return fclose(f) == 0 && ok;
}

/* ------------------------------------------------------------------------ */
/* Golden GGUF -> HF folder                                                   */
/* ------------------------------------------------------------------------ */

/* How a golden GGUF architecture is written as an HF folder. */
typedef struct {
    const char *arch, *model_type, *cls;
    const char *layer_fmt;         /* "model.layers.%d." */
    const char *const (*names)[2]; /* GGUF block tensor -> HF module */
    const char *const (*globals)[2];
    bool permute_qk, norm_minus_one, conv1d;
} rev_arch;

static const char *const k_llama_names[][2] = {
    {"attn_norm", "input_layernorm"},    {"attn_q", "self_attn.q_proj"},      {"attn_k", "self_attn.k_proj"},
    {"attn_v", "self_attn.v_proj"},      {"attn_output", "self_attn.o_proj"}, {"attn_q_norm", "self_attn.q_norm"},
    {"attn_k_norm", "self_attn.k_norm"}, {"ffn_norm", "post_attention_layernorm"},
    {"ffn_gate", "mlp.gate_proj"},       {"ffn_up", "mlp.up_proj"},           {"ffn_down", "mlp.down_proj"},
    {NULL, NULL},
};
static const char *const k_gemma2_names[][2] = {
    {"attn_norm", "input_layernorm"},    {"attn_q", "self_attn.q_proj"},      {"attn_k", "self_attn.k_proj"},
    {"attn_v", "self_attn.v_proj"},      {"attn_output", "self_attn.o_proj"}, {"attn_q_norm", "self_attn.q_norm"},
    {"attn_k_norm", "self_attn.k_norm"}, {"post_attention_norm", "post_attention_layernorm"},
    {"ffn_norm", "pre_feedforward_layernorm"}, {"post_ffw_norm", "post_feedforward_layernorm"},
    {"ffn_gate", "mlp.gate_proj"},       {"ffn_up", "mlp.up_proj"},           {"ffn_down", "mlp.down_proj"},
    {NULL, NULL},
};
static const char *const k_phi3_names[][2] = {
    {"attn_norm", "input_layernorm"},          {"attn_qkv", "self_attn.qkv_proj"},
    {"attn_output", "self_attn.o_proj"},       {"ffn_norm", "post_attention_layernorm"},
    {"ffn_up", "mlp.gate_up_proj"},            {"ffn_down", "mlp.down_proj"},
    {NULL, NULL},
};
static const char *const k_gpt2_names[][2] = {
    {"attn_norm", "ln_1"}, {"attn_qkv", "attn.c_attn"}, {"attn_output", "attn.c_proj"},
    {"ffn_norm", "ln_2"},  {"ffn_up", "mlp.c_fc"},      {"ffn_down", "mlp.c_proj"},
    {NULL, NULL},
};
static const char *const k_llama_globals[][2] = {
    {"token_embd", "model.embed_tokens"}, {"output_norm", "model.norm"}, {"output", "lm_head"}, {NULL, NULL}};
static const char *const k_gpt2_globals[][2] = {
    {"token_embd", "wte"}, {"position_embd", "wpe"}, {"output_norm", "ln_f"}, {"output", "lm_head"}, {NULL, NULL}};

static const rev_arch k_rev[] = {
    {"llama", "llama", "LlamaForCausalLM", "model.layers.%d.", k_llama_names, k_llama_globals, true, false, false},
    {"qwen2", "qwen2", "Qwen2ForCausalLM", "model.layers.%d.", k_llama_names, k_llama_globals, false, false, false},
    {"qwen3", "qwen3", "Qwen3ForCausalLM", "model.layers.%d.", k_llama_names, k_llama_globals, false, false, false},
    {"phi3", "phi3", "Phi3ForCausalLM", "model.layers.%d.", k_phi3_names, k_llama_globals, false, false, false},
    {"gemma", "gemma", "GemmaForCausalLM", "model.layers.%d.", k_llama_names, k_llama_globals, false, true, false},
    {"gemma2", "gemma2", "Gemma2ForCausalLM", "model.layers.%d.", k_gemma2_names, k_llama_globals, false, true,
     false},
    {"gemma3", "gemma3_text", "Gemma3ForCausalLM", "model.layers.%d.", k_gemma2_names, k_llama_globals, false, true,
     false},
    {"gpt2", "gpt2", "GPT2LMHeadModel", "h.%d.", k_gpt2_names, k_gpt2_globals, false, false, true},
};

static bool hf_name(const rev_arch *ra, const char *gguf, char *out, size_t cap) {
    char what[64], kind[16];
    int il;
    if (sscanf(gguf, "blk.%d.%63[^.].%15s", &il, what, kind) == 3) {
        for (int i = 0; ra->names[i][0]; i++)
            if (!strcmp(what, ra->names[i][0])) {
                char pre[64];
                snprintf(pre, sizeof pre, ra->layer_fmt, il);
                snprintf(out, cap, "%s%s.%s", pre, ra->names[i][1], kind);
                return true;
            }
        return false;
    }
    if (sscanf(gguf, "%63[^.].%15s", what, kind) != 2) return false;
    for (int i = 0; ra->globals[i][0]; i++)
        if (!strcmp(what, ra->globals[i][0])) {
            snprintf(out, cap, "%s.%s", ra->globals[i][1], kind);
            return true;
        }
    return false;
}

/* F32 values -> dtype bytes (malloc'd). */
static void *convert(const float *x, size_t n, const char *dtype, size_t *nbytes) {
    if (!strcmp(dtype, "F32")) {
        *nbytes = n * 4;
        void *p = malloc(*nbytes);
        memcpy(p, x, *nbytes);
        return p;
    }
    uint16_t *h = malloc(n * 2);
    for (size_t i = 0; i < n; i++) h[i] = !strcmp(dtype, "F16") ? slm_fp32_to_fp16(x[i]) : slm_fp32_to_bf16(x[i]);
    *nbytes = n * 2;
    return h;
}

static uint32_t key_u32(const gguf_file *g, const char *arch, const char *suffix, uint32_t def) {
    char k[128];
    snprintf(k, sizeof k, "%s.%s", arch, suffix);
    uint32_t v;
    return gguf_get_u32(g, k, &v) ? v : def;
}

static float key_f32(const gguf_file *g, const char *arch, const char *suffix, float def) {
    char k[128];
    snprintf(k, sizeof k, "%s.%s", arch, suffix);
    float v;
    return gguf_get_f32(g, k, &v) ? v : def;
}

bool hu_folder_from_gguf(const char *gguf_path, const char *dir, const hu_opts *o) {
    gguf_file *g = NULL;
    if (gguf_open(gguf_path, &g) != SLM_OK) {
        fprintf(stderr, "hu_folder_from_gguf: %s\n", slm_last_error());
        return false;
    }
    mkdir(dir, 0755);
    const char *arch = gguf_get_str(g, "general.architecture");
    const rev_arch *ra = NULL;
    for (size_t i = 0; i < sizeof k_rev / sizeof k_rev[0]; i++)
        if (!strcmp(k_rev[i].arch, arch)) ra = &k_rev[i];
    if (!ra) {
        fprintf(stderr, "hu_folder_from_gguf: no HF form for %s\n", arch);
        gguf_close(g);
        return false;
    }
    const uint32_t E = key_u32(g, arch, "embedding_length", 0), L = key_u32(g, arch, "block_count", 0),
                   H = key_u32(g, arch, "attention.head_count", 0),
                   HKV = key_u32(g, arch, "attention.head_count_kv", H),
                   HD = key_u32(g, arch, "attention.key_length", E / H), F = key_u32(g, arch, "feed_forward_length", 0),
                   CTX = key_u32(g, arch, "context_length", 2048), NROT = key_u32(g, arch, "rope.dimension_count", HD);
    const float eps = key_f32(g, arch, ra->conv1d ? "attention.layer_norm_epsilon" : "attention.layer_norm_rms_epsilon",
                              1e-5f),
                theta = key_f32(g, arch, "rope.freq_base", 10000.0f);
    const gguf_tensor *emb = gguf_find_tensor(g, "token_embd.weight");
    bool tied = !gguf_find_tensor(g, "output.weight");
    bool freqs = gguf_find_tensor(g, "rope_freqs.weight") != NULL;

    /* tensors */
    hu_tensor *ts = calloc(g->n_tensors, sizeof *ts);
    void **bufs = calloc(g->n_tensors, sizeof *bufs);
    int n = 0;
    bool ok = true;
    for (uint64_t i = 0; i < g->n_tensors && ok; i++) {
        const gguf_tensor *t = &g->tensors[i];
        if (!strcmp(t->name, "rope_freqs.weight")) continue;
        hu_tensor *h = &ts[n];
        if (!hf_name(ra, t->name, h->name, sizeof h->name) || t->type != SLM_TYPE_F32) {
            fprintf(stderr, "hu_folder_from_gguf: cannot map %s\n", t->name);
            ok = false;
            break;
        }
        size_t nel = (size_t)(t->ne[0] * t->ne[1]);
        float *x = malloc(nel * 4);
        memcpy(x, t->data, nel * 4);
        bool is_q = strstr(t->name, ".attn_q.") != NULL, is_k = strstr(t->name, ".attn_k.") != NULL;
        if (ra->permute_qk && (is_q || is_k)) { /* GGUF's interleaved pairs -> HF's halves */
            uint32_t heads = is_q ? H : HKV;
            size_t rb = t->n_dims == 2 ? (size_t)t->ne[0] : 1;
            float *src = malloc(nel * 4);
            memcpy(src, x, nel * 4);
            for (uint32_t hh = 0; hh < heads; hh++)
                for (uint32_t k = 0; k < HD / 2; k++)
                    for (uint32_t j = 0; j < 2; j++)
                        memcpy(x + (size_t)(hh * HD + j * HD / 2 + k) * rb, src + (size_t)(hh * HD + 2 * k + j) * rb,
                               rb * 4);
            free(src);
        }
        if (ra->norm_minus_one && strstr(t->name, "norm.weight")) /* Gemma stores w, GGUF 1 + w */
            for (size_t k = 0; k < nel; k++) x[k] -= 1.0f;
        h->dtype = t->n_dims == 2 ? o->dtype_2d : o->dtype_1d;
        h->n_dims = (int)t->n_dims;
        if (t->n_dims == 2 && ra->conv1d && strncmp(t->name, "blk.", 4) == 0) { /* Conv1D: (in, out) */
            float *tr = malloc(nel * 4);
            for (int64_t r = 0; r < t->ne[1]; r++)
                for (int64_t c = 0; c < t->ne[0]; c++) tr[c * t->ne[1] + r] = x[r * t->ne[0] + c];
            free(x);
            x = tr;
            h->shape[0] = t->ne[0];
            h->shape[1] = t->ne[1];
        } else if (t->n_dims == 2) {
            h->shape[0] = t->ne[1];
            h->shape[1] = t->ne[0];
        } else {
            h->shape[0] = t->ne[0];
        }
        h->data = bufs[n] = convert(x, nel, h->dtype, &h->nbytes);
        free(x);
        n++;
    }

    /* GPT-2 checkpoints carry causal-mask buffers the loader must skip */
    static const float mask[16] = {1, 0, 0, 0, 1, 1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 1}, masked = -1e4f;
    if (ok && ra->conv1d) {
        ts = realloc(ts, (size_t)(n + 2) * sizeof *ts);
        ts[n] = (hu_tensor){"h.0.attn.bias", "F32", 4, {1, 1, 4, 4}, mask, sizeof mask};
        ts[n + 1] = (hu_tensor){"h.0.attn.masked_bias", "F32", 0, {0}, &masked, 4};
        bufs = realloc(bufs, (size_t)(n + 2) * sizeof *bufs);
        bufs[n] = bufs[n + 1] = NULL;
        n += 2;
    }

    /* config.json */
    char path[1024];
    if (ok) {
        sbuf c = {0};
        sb_printf(&c, "{\n  \"architectures\": [\"%s\"],\n  \"model_type\": \"%s\",\n", ra->cls, ra->model_type);
        if (ra->conv1d) {
            sb_printf(&c, "  \"n_embd\": %u,\n  \"n_layer\": %u,\n  \"n_head\": %u,\n  \"n_inner\": %u,\n", E, L, H, F);
            sb_printf(&c, "  \"n_positions\": %u,\n  \"n_ctx\": %u,\n  \"layer_norm_epsilon\": %.9g,\n", CTX, CTX, eps);
            sb_printf(&c, "  \"activation_function\": \"gelu_new\",\n");
        } else {
            sb_printf(&c, "  \"hidden_size\": %u,\n  \"num_hidden_layers\": %u,\n  \"num_attention_heads\": %u,\n", E,
                      L, H);
            sb_printf(&c, "  \"num_key_value_heads\": %u,\n  \"intermediate_size\": %u,\n  \"head_dim\": %u,\n", HKV,
                      F, HD);
            sb_printf(&c, "  \"rms_norm_eps\": %.9g,\n  \"rope_theta\": %.9g,\n  \"max_position_embeddings\": %u,\n",
                      eps, theta, CTX);
            if (ra->norm_minus_one) sb_printf(&c, "  \"hidden_activation\": \"gelu_pytorch_tanh\",\n");
            else sb_printf(&c, "  \"hidden_act\": \"silu\",\n");
            if (NROT != HD) sb_printf(&c, "  \"partial_rotary_factor\": %.9g,\n", (double)NROT / HD);
        }
        if (!strcmp(arch, "gemma2"))
            sb_printf(&c, "  \"attn_logit_softcapping\": %.9g,\n  \"final_logit_softcapping\": %.9g,\n"
                          "  \"query_pre_attn_scalar\": %u,\n",
                      key_f32(g, arch, "attn_logit_softcapping", 0), key_f32(g, arch, "final_logit_softcapping", 0),
                      HD);
        if (!strcmp(arch, "gemma3"))
            sb_printf(&c, "  \"sliding_window_pattern\": %u,\n  \"rope_local_base_freq\": %.9g,\n"
                          "  \"final_logit_softcapping\": null,\n  \"attn_logit_softcapping\": null,\n",
                      key_u32(g, arch, "attention.sliding_window_pattern", 6), key_f32(g, arch, "rope.freq_base_swa", 0));
        if (key_u32(g, arch, "attention.sliding_window", 0))
            sb_printf(&c, "  \"sliding_window\": %u,\n", key_u32(g, arch, "attention.sliding_window", 0));
        sb_printf(&c, "  \"vocab_size\": %lld,\n  \"tie_word_embeddings\": %s,\n", (long long)emb->ne[1],
                  tied ? "true" : "false");
        sb_printf(&c, "  \"torch_dtype\": \"float32\",\n  \"bos_token_id\": 1,\n  \"eos_token_id\": 2");
        if (freqs && !o->no_llama3_scaling)
            sb_printf(&c, ",\n  \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0, \"low_freq_factor\": 1.0,"
                      " \"high_freq_factor\": 4.0, \"original_max_position_embeddings\": %u}", CTX);
        if (o->extra_config) sb_printf(&c, "%s", o->extra_config);
        sb_printf(&c, "\n}\n");
        snprintf(path, sizeof path, "%s/config.json", dir);
        ok = hu_write_text(path, c.s);
        free(c.s);
    }

    /* weights: one file, or shards and an index */
    if (ok && o->n_shards <= 1) {
        snprintf(path, sizeof path, "%s/model.safetensors", dir);
        ok = hu_write_safetensors(path, ts, n, "{\"format\":\"pt\"}");
    } else if (ok) {
        sbuf idx = {0};
        size_t total = 0;
        for (int i = 0; i < n; i++) total += ts[i].nbytes;
        sb_printf(&idx, "{\n  \"metadata\": {\"total_size\": %zu},\n  \"weight_map\": {", total);
        int per = (n + o->n_shards - 1) / o->n_shards;
        for (int s = 0; s < o->n_shards && ok; s++) {
            int lo = s * per, hi = lo + per < n ? lo + per : n;
            char name[128];
            snprintf(name, sizeof name, "model-%05d-of-%05d.safetensors", s + 1, o->n_shards);
            snprintf(path, sizeof path, "%s/%s", dir, name);
            ok = hu_write_safetensors(path, ts + lo, hi - lo, "{\"format\":\"pt\"}");
            for (int i = lo; i < hi; i++) sb_printf(&idx, "%s\n    \"%s\": \"%s\"", i ? "," : "", ts[i].name, name);
        }
        sb_printf(&idx, "\n  }\n}\n");
        snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
        if (ok) ok = hu_write_text(path, idx.s);
        free(idx.s);
    }
    for (int i = 0; i < n; i++) free(bufs[i]);
    free(bufs);
    free(ts);
    gguf_close(g);
    return ok;
}

bool hu_tiny_folder(const char *dir, int64_t n_vocab) {
    enum { E = 8, F = 16 };
    mkdir(dir, 0755);
    float *emb = malloc((size_t)n_vocab * E * sizeof(float));
    for (int64_t i = 0; i < n_vocab * E; i++) emb[i] = (float)((i * 7919) % 101) / 101.0f - 0.5f;
    static float mat[F * E], ones[E];
    for (int i = 0; i < F * E; i++) mat[i] = (float)((i * 31) % 17) / 17.0f - 0.5f;
    for (int i = 0; i < E; i++) ones[i] = 1.0f;
    hu_tensor t[11] = {
        {"model.embed_tokens.weight", "F32", 2, {n_vocab, E}, emb, (size_t)n_vocab * E * 4},
        {"model.norm.weight", "F32", 1, {E}, ones, E * 4},
        {"model.layers.0.input_layernorm.weight", "F32", 1, {E}, ones, E * 4},
        {"model.layers.0.post_attention_layernorm.weight", "F32", 1, {E}, ones, E * 4},
        {"model.layers.0.self_attn.q_proj.weight", "F32", 2, {E, E}, mat, E * E * 4},
        {"model.layers.0.self_attn.k_proj.weight", "F32", 2, {E, E}, mat + 8, E * E * 4},
        {"model.layers.0.self_attn.v_proj.weight", "F32", 2, {E, E}, mat + 16, E * E * 4},
        {"model.layers.0.self_attn.o_proj.weight", "F32", 2, {E, E}, mat + 24, E * E * 4},
        {"model.layers.0.mlp.gate_proj.weight", "F32", 2, {F, E}, mat, F * E * 4},
        {"model.layers.0.mlp.up_proj.weight", "F32", 2, {F, E}, mat, F * E * 4},
        {"model.layers.0.mlp.down_proj.weight", "F32", 2, {E, F}, mat, E * F * 4},
    };
    char path[1024], cfg[1024];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    bool ok = hu_write_safetensors(path, t, 11, NULL);
    free(emb);
    snprintf(cfg, sizeof cfg,
             "{\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": \"llama\", \"hidden_size\": %d, "
             "\"num_hidden_layers\": 1, \"num_attention_heads\": 2, \"intermediate_size\": %d, \"vocab_size\": %lld, "
             "\"max_position_embeddings\": 64, \"tie_word_embeddings\": true}\n",
             E, F, (long long)n_vocab);
    snprintf(path, sizeof path, "%s/config.json", dir);
    return ok && hu_write_text(path, cfg);
}

/* ------------------------------------------------------------------------ */
/* tokenizer.json from a GGUF vocabulary                                      */
/* ------------------------------------------------------------------------ */

typedef struct {
    const char *s;
    size_t n;
    int32_t id;
} tok_ref;

static int cmp_tok(const void *a, const void *b) {
    const tok_ref *x = a, *y = b;
    size_t n = x->n < y->n ? x->n : y->n;
    int c = memcmp(x->s, y->s, n);
    return c ? c : (x->n > y->n) - (x->n < y->n);
}

static int32_t lookup(const tok_ref *sorted, size_t n, const char *s, size_t len) {
    tok_ref key = {s, len, 0};
    const tok_ref *r = bsearch(&key, sorted, n, sizeof *sorted, cmp_tok);
    return r ? r->id : -1;
}

typedef struct {
    int32_t l, r;
    float score;
    int32_t piece;
} merge;

static int cmp_merge(const void *a, const void *b) {
    const merge *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1; /* higher score first */
    if (x->piece != y->piece) return x->piece - y->piece;
    if (x->l != y->l) return x->l - y->l;
    return x->r - y->r;
}

bool hu_tokenizer_from_gguf(const char *gguf_path, const char *dir) {
    gguf_file *g = NULL;
    if (gguf_open(gguf_path, &g) != SLM_OK) return false;
    const char *model = gguf_get_str(g, "tokenizer.ggml.model");
    const gguf_value *toks = gguf_get_arr(g, "tokenizer.ggml.tokens", GGUF_TYPE_STRING);
    const gguf_value *types = gguf_get_arr(g, "tokenizer.ggml.token_type", GGUF_TYPE_INT32);
    if (!model || !toks || !types) {
        gguf_close(g);
        return false;
    }
    const uint64_t n = toks->v.arr.n;
    bool spm = !strcmp(model, "llama");
    sbuf b = {0};
    sb_printf(&b, "{\"version\":\"1.0\",\"added_tokens\":[");
    int n_added = 0;
    for (uint64_t i = 0; i < n; i++) {
        int64_t tt = gguf_arr_i64(types, i);
        if (tt != 3 && tt != 2) continue; /* control and unknown tokens are added, special tokens */
        sb_printf(&b, "%s{\"id\":%llu,\"content\":", n_added++ ? "," : "", (unsigned long long)i);
        sb_json_str(&b, toks->v.arr.items[i].v.str.ptr, toks->v.arr.items[i].v.str.len);
        sb_printf(&b, ",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,"
                      "\"special\":true}");
    }
    sb_printf(&b, "],");
    if (spm) {
        sb_printf(&b, "\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Prepend\",\"prepend\":"
                      "\"\\u2581\"},{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},\"content\":\"\\u2581\"}]},"
                      "\"pre_tokenizer\":null,\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":["
                      "{\"SpecialToken\":{\"id\":\"<s>\",\"type_id\":0}},{\"Sequence\":{\"id\":\"A\",\"type_id\":0}}],"
                      "\"pair\":[],\"special_tokens\":{\"<s>\":{\"id\":\"<s>\",\"ids\":[1],\"tokens\":[\"<s>\"]}}},"
                      "\"decoder\":{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"Replace\",\"pattern\":{\"String\":"
                      "\"\\u2581\"},\"content\":\" \"},{\"type\":\"ByteFallback\"},{\"type\":\"Fuse\"},{\"type\":"
                      "\"Strip\",\"content\":\" \",\"start\":1,\"stop\":0}]},");
        sb_printf(&b, "\"model\":{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":\"<unk>\",\"continuing_subword_"
                      "prefix\":null,\"end_of_word_suffix\":null,\"fuse_unk\":true,\"byte_fallback\":true,\"vocab\":{");
    } else {
        sb_printf(&b, "\"normalizer\":null,\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false,"
                      "\"trim_offsets\":true,\"use_regex\":true},\"post_processor\":{\"type\":\"ByteLevel\","
                      "\"add_prefix_space\":true,\"trim_offsets\":false,\"use_regex\":true},\"decoder\":{\"type\":"
                      "\"ByteLevel\",\"add_prefix_space\":true,\"trim_offsets\":true,\"use_regex\":true},");
        sb_printf(&b, "\"model\":{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":null,\"continuing_subword_"
                      "prefix\":\"\",\"end_of_word_suffix\":\"\",\"fuse_unk\":false,\"byte_fallback\":false,\"vocab\":{");
    }
    for (uint64_t i = 0; i < n; i++) {
        if (i) sb_add(&b, ",", 1);
        sb_json_str(&b, toks->v.arr.items[i].v.str.ptr, toks->v.arr.items[i].v.str.len);
        sb_printf(&b, ":%llu", (unsigned long long)i);
    }
    sb_printf(&b, "},\"merges\":[");
    if (!spm) {
        const gguf_value *mg = gguf_get_arr(g, "tokenizer.ggml.merges", GGUF_TYPE_STRING);
        for (uint64_t i = 0; mg && i < mg->v.arr.n; i++) {
            if (i) sb_add(&b, ",", 1);
            sb_json_str(&b, mg->v.arr.items[i].v.str.ptr, mg->v.arr.items[i].v.str.len);
        }
    } else {
        /* HF's SentencePieceExtractor: every split of a piece into two pieces is
         * a merge; merges ordered by the piece's score */
        const gguf_value *sc = gguf_get_arr(g, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32);
        tok_ref *sorted = malloc(n * sizeof *sorted);
        for (uint64_t i = 0; i < n; i++)
            sorted[i] = (tok_ref){toks->v.arr.items[i].v.str.ptr, toks->v.arr.items[i].v.str.len, (int32_t)i};
        qsort(sorted, n, sizeof *sorted, cmp_tok);
        size_t cap = 1 << 16, nm = 0;
        merge *ms = malloc(cap * sizeof *ms);
        for (uint64_t i = 0; i < n; i++) {
            if (gguf_arr_i64(types, i) != 1) continue;
            const char *s = toks->v.arr.items[i].v.str.ptr;
            size_t len = toks->v.arr.items[i].v.str.len;
            for (size_t k = 1; k < len; k++) {
                if (((unsigned char)s[k] & 0xC0) == 0x80) continue; /* split at character boundaries */
                int32_t l = lookup(sorted, n, s, k), r = lookup(sorted, n, s + k, len - k);
                if (l < 0 || r < 0) continue;
                if (nm == cap) ms = realloc(ms, (cap *= 2) * sizeof *ms);
                ms[nm++] = (merge){l, r, gguf_arr_f32(sc, i), (int32_t)i};
            }
        }
        qsort(ms, nm, sizeof *ms, cmp_merge);
        for (size_t i = 0; i < nm; i++) {
            sb_printf(&b, "%s[", i ? "," : "");
            sb_json_str(&b, toks->v.arr.items[ms[i].l].v.str.ptr, toks->v.arr.items[ms[i].l].v.str.len);
            sb_add(&b, ",", 1);
            sb_json_str(&b, toks->v.arr.items[ms[i].r].v.str.ptr, toks->v.arr.items[ms[i].r].v.str.len);
            sb_add(&b, "]", 1);
        }
        free(ms);
        free(sorted);
    }
    sb_printf(&b, "]}}\n");
    char path[1024];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    bool ok = hu_write_text(path, b.s);
    free(b.s);
    gguf_close(g);
    return ok;
}
