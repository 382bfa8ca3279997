/*
 * hf_vocab.c — a Hugging Face tokenizer as GGUF tokenizer.ggml.* keys, the
 * way llama.cpp's converter writes them, so that a folder and the GGUF file
 * converted from it tokenize alike (and llama.cpp reads the file).
 *
 * Sources, first found wins:
 *   tokenizer.json           model.type "BPE": byte-level (pre-tokenizer or
 *                            decoder ByteLevel) -> "gpt2" with merges and a
 *                            pre-tokenizer name recognised from its regex;
 *                            byte_fallback -> "llama" (SentencePiece-style),
 *                            scores = -(rank of the merge that makes the
 *                            token), which orders merges as HF's BPE does;
 *   vocab.json + merges.txt  GPT-2 style files (GPT-2, OPT) -> "gpt2", "gpt-2";
 *   neither                  a placeholder of vocab_size tokens "<id_N>":
 *                            token ids work, text cannot be tokenized (a
 *                            warning says so).
 * Token types: added tokens are control (special) or user-defined, <0xNN>
 * pieces of SentencePiece vocabularies are bytes, the model's unk_token is
 * unknown, ids missing from the vocabulary up to vocab_size are "[PADn]"
 * unused tokens. Special ids come from tokenizer_config.json (bos_token ...
 * by text, add_bos_token / add_eos_token), else the post-processor's
 * template, else config.json's *_token_id. The chat template comes from
 * chat_template.jinja or tokenizer_config.json.
 *
 * Not supported (an error naming the key): Unigram and WordPiece models,
 * pre-tokenizers slm has no name for.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/error.h"
#include "model/hf_impl.h"

#define TRY(x)                         \
    do {                               \
        slm_status st_ = (x);          \
        if (st_ != SLM_OK) return st_; \
    } while (0)

#define HF_MAX_TOKENS (1 << 24)

enum { TT_NORMAL = 1, TT_UNKNOWN = 2, TT_CONTROL = 3, TT_USER = 4, TT_UNUSED = 5, TT_BYTE = 6 };

/* The regexes of the pre-tokenizers recognised in tokenizer.json (as
 * written there, after JSON unescaping) and slm's / llama.cpp's names. */
static const struct {
    const char *regex;
    const char *name;
} k_pre_regex[] = {
    {"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
     "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
     "llama-bpe"},
    {"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
     "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
     "qwen2"},
};

typedef struct {
    hf_ctx *h;
    const char *src;   /* file the vocabulary came from (messages) */
    int64_t n;         /* tokens */
    const char **text; /* [n]: into a JSON document or owned */
    size_t *len;
    int32_t *type;
    float *score; /* SentencePiece style only */
    const char **merges;
    int64_t n_merges;
    const char *model; /* "llama" / "gpt2" */
    const char *pre;
    bool spm_prefix; /* add_space_prefix */
    /* text -> id */
    int32_t *slots;
    size_t cap;
} vocab;

/* ------------------------------------------------------------------------ */
/* Text -> id                                                                 */
/* ------------------------------------------------------------------------ */

static uint64_t fnv(const char *s, size_t n) {
    uint64_t x = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) x = (x ^ (uint8_t)s[i]) * 1099511628211ull;
    return x;
}

static int32_t find_id(const vocab *v, const char *s, size_t n) {
    if (!v->cap) return -1;
    for (size_t i = fnv(s, n) & (v->cap - 1);; i = (i + 1) & (v->cap - 1)) {
        int32_t id = v->slots[i];
        if (id < 0) return -1;
        if (v->len[id] == n && memcmp(v->text[id], s, n) == 0) return id;
    }
}

static slm_status build_index(vocab *v) {
    v->cap = 16;
    while (v->cap < 2 * (size_t)v->n) v->cap *= 2;
    v->slots = hf_alloc(v->h, v->cap * sizeof *v->slots);
    if (!v->slots) return slm_err(SLM_ERR_NOMEM, "%s: out of memory", v->src);
    memset(v->slots, 0xff, v->cap * sizeof *v->slots);
    for (int64_t id = 0; id < v->n; id++) {
        if (!v->text[id]) continue;
        size_t i = fnv(v->text[id], v->len[id]) & (v->cap - 1);
        for (; v->slots[i] >= 0; i = (i + 1) & (v->cap - 1))
            if (v->len[v->slots[i]] == v->len[id] && !memcmp(v->text[v->slots[i]], v->text[id], v->len[id]))
                return slm_err(SLM_ERR_FORMAT, "%s: token '%s' has two ids (%d and %lld)", v->src, v->text[id],
                               v->slots[i], (long long)id);
        v->slots[i] = (int32_t)id;
    }
    return SLM_OK;
}

/* ------------------------------------------------------------------------ */
/* Building the token list                                                    */
/* ------------------------------------------------------------------------ */

static slm_status alloc_tokens(vocab *v, int64_t n) {
    if (n > HF_MAX_TOKENS) return slm_err(SLM_ERR_FORMAT, "%s: %lld tokens is too many", v->src, (long long)n);
    v->n = n;
    v->text = hf_alloc(v->h, (size_t)n * sizeof *v->text);
    v->len = hf_alloc(v->h, (size_t)n * sizeof *v->len);
    v->type = hf_alloc(v->h, (size_t)n * sizeof *v->type);
    v->score = hf_alloc(v->h, (size_t)n * sizeof *v->score);
    if (!v->text || !v->len || !v->type || !v->score) return slm_err(SLM_ERR_NOMEM, "%s: out of memory", v->src);
    return SLM_OK;
}

/* The highest id of a {"token": id} object and of added tokens, so that
 * the list can be sized before it is filled. */
static slm_status max_id(vocab *v, const slm_json_node *obj, const slm_json_node *added, int64_t *out) {
    int64_t mx = -1, id;
    *out = -1;
    for (const slm_json_node *c = slm_json_child(obj); c; c = slm_json_next(c)) {
        if (!slm_json_int(c, 0, HF_MAX_TOKENS - 1, &id))
            return slm_err(SLM_ERR_FORMAT, "%s: vocabulary: the id of '%s' must be an integer in 0..%d", v->src,
                           c->key, HF_MAX_TOKENS - 1);
        if (id > mx) mx = id;
    }
    int64_t i = 0;
    for (const slm_json_node *a = slm_json_child(added); a; a = slm_json_next(a), i++) {
        if (!slm_json_int(slm_json_get(a, "id"), 0, HF_MAX_TOKENS - 1, &id) || !slm_json_get_str(a, "content", NULL))
            return slm_err(SLM_ERR_FORMAT, "%s: added_tokens[%lld] needs an integer 'id' and a string 'content'",
                           v->src, (long long)i);
        if (id > mx) mx = id;
    }
    *out = mx;
    return SLM_OK;
}

static slm_status set_token(vocab *v, int64_t id, const char *text, size_t len, int32_t type) {
    if (v->text[id] && (v->len[id] != len || memcmp(v->text[id], text, len)))
        return slm_err(SLM_ERR_FORMAT, "%s: id %lld is both '%s' and '%s'", v->src, (long long)id, v->text[id], text);
    v->text[id] = text;
    v->len[id] = len;
    v->type[id] = type;
    return SLM_OK;
}

static bool is_byte_piece(const char *s, size_t n) {
    return n == 6 && s[0] == '<' && s[1] == '0' && s[2] == 'x' && s[5] == '>';
}

/* Fills the list from {"token": id}, added tokens and [PADn] holes. */
static slm_status fill(vocab *v, const slm_json_node *obj, const slm_json_node *added, const char *unk) {
    int64_t mx = -1;
    TRY(max_id(v, obj, added, &mx));
    int64_t n = mx + 1 > v->h->hp.n_vocab ? mx + 1 : v->h->hp.n_vocab;
    TRY(alloc_tokens(v, n));
    bool spm = !strcmp(v->model, "llama");
    for (const slm_json_node *c = slm_json_child(obj); c; c = slm_json_next(c)) {
        int64_t id = (int64_t)c->v.num;
        int32_t type = TT_NORMAL;
        if (spm && is_byte_piece(c->key, c->key_len)) type = TT_BYTE;
        if (unk && !strcmp(c->key, unk)) type = TT_UNKNOWN;
        TRY(set_token(v, id, c->key, c->key_len, type));
    }
    for (const slm_json_node *a = slm_json_child(added); a; a = slm_json_next(a)) {
        int64_t id = (int64_t)slm_json_get(a, "id")->v.num;
        size_t len;
        const char *s = slm_json_get_str(a, "content", &len);
        int32_t type = slm_json_get_bool(a, "special", false) ? TT_CONTROL : TT_USER;
        if (unk && !strcmp(s, unk)) type = TT_UNKNOWN;
        v->text[id] = NULL; /* an added token may restate a vocabulary entry */
        TRY(set_token(v, id, s, len, type));
    }
    for (int64_t id = 0; id < n; id++) {
        if (v->text[id]) continue;
        char *pad = hf_alloc(v->h, 32);
        if (!pad) return slm_err(SLM_ERR_NOMEM, "%s: out of memory", v->src);
        snprintf(pad, 32, "[PAD%lld]", (long long)id);
        TRY(set_token(v, id, pad, strlen(pad), TT_UNUSED));
    }
    return build_index(v);
}

/* merges: "a b" strings or ["a", "b"] pairs -> "a b" strings. */
static slm_status read_merges(vocab *v, const slm_json_node *merges) {
    if (!slm_json_is(merges, SLM_JSON_ARRAY))
        return slm_err(SLM_ERR_FORMAT, "%s: model.merges must be an array", v->src);
    v->n_merges = slm_json_count(merges);
    v->merges = hf_alloc(v->h, (size_t)(v->n_merges ? v->n_merges : 1) * sizeof *v->merges);
    if (!v->merges) return slm_err(SLM_ERR_NOMEM, "%s: out of memory", v->src);
    int64_t i = 0;
    for (const slm_json_node *m = slm_json_child(merges); m; m = slm_json_next(m), i++) {
        size_t la = 0, lb = 0;
        const char *a = NULL, *b = NULL, *s = slm_json_str(m, &la);
        if (s) {
            const char *sp = memchr(s, ' ', la);
            if (sp && sp != s && sp + 1 < s + la && !memchr(sp + 1, ' ', (size_t)(s + la - sp - 1))) {
                v->merges[i] = s;
                continue;
            }
        } else if (slm_json_count(m) == 2) {
            a = slm_json_str(slm_json_at(m, 0), &la);
            b = slm_json_str(slm_json_at(m, 1), &lb);
        }
        if (!a || !b || !la || !lb || memchr(a, ' ', la) || memchr(b, ' ', lb))
            return slm_err(SLM_ERR_FORMAT, "%s: model.merges[%lld] must be \"left right\" or [\"left\", \"right\"] "
                           "(tokens without spaces)", v->src, (long long)i);
        char *j = hf_alloc(v->h, la + lb + 2);
        if (!j) return slm_err(SLM_ERR_NOMEM, "%s: out of memory", v->src);
        memcpy(j, a, la);
        j[la] = ' ';
        memcpy(j + la + 1, b, lb);
        v->merges[i] = j;
    }
    return SLM_OK;
}

/* SentencePiece-style scores: the token a merge makes gets -rank. */
static void merge_scores(vocab *v) {
    for (int64_t id = 0; id < v->n; id++) v->score[id] = v->type[id] == TT_NORMAL ? -1e9f : 0.0f;
    char buf[1024];
    for (int64_t r = 0; r < v->n_merges; r++) {
        const char *sp = strchr(v->merges[r], ' ');
        size_t la = (size_t)(sp - v->merges[r]), lb = strlen(sp + 1);
        if (la + lb >= sizeof buf) continue;
        memcpy(buf, v->merges[r], la);
        memcpy(buf + la, sp + 1, lb);
        int32_t id = find_id(v, buf, la + lb);
        if (id >= 0 && v->type[id] == TT_NORMAL && v->score[id] == -1e9f) v->score[id] = -(float)r;
    }
}

/* ------------------------------------------------------------------------ */
/* tokenizer.json                                                             */
/* ------------------------------------------------------------------------ */

static bool has_type(const slm_json_node *n, const char *type, const char *list_key) {
    const char *t = slm_json_get_str(n, "type", NULL);
    if (t && !strcmp(t, type)) return true;
    for (const slm_json_node *c = slm_json_child(slm_json_get(n, list_key)); c; c = slm_json_next(c))
        if (has_type(c, type, list_key)) return true;
    return false;
}

/* The pre-tokenizer's name for tokenizer.ggml.pre. */
static slm_status pre_name(vocab *v, const slm_json_node *pt) {
    const char *t = slm_json_get_str(pt, "type", NULL);
    if (t && !strcmp(t, "ByteLevel") && slm_json_get_bool(pt, "use_regex", true)) {
        v->pre = "gpt-2";
        return SLM_OK;
    }
    if (t && !strcmp(t, "Sequence")) {
        const slm_json_node *list = slm_json_get(pt, "pretokenizers");
        const slm_json_node *a = slm_json_at(list, 0), *b = slm_json_at(list, 1);
        const char *ta = slm_json_get_str(a, "type", NULL), *tb = slm_json_get_str(b, "type", NULL);
        if (slm_json_count(list) == 2 && ta && tb && !strcmp(tb, "ByteLevel")) {
            const char *re = slm_json_get_str(slm_json_get(a, "pattern"), "Regex", NULL);
            if (!strcmp(ta, "Split") && re && !slm_json_get_bool(b, "use_regex", true))
                for (size_t i = 0; i < sizeof k_pre_regex / sizeof k_pre_regex[0]; i++)
                    if (!strcmp(re, k_pre_regex[i].regex)) {
                        v->pre = k_pre_regex[i].name;
                        return SLM_OK;
                    }
            if (!strcmp(ta, "Digits") && slm_json_get_bool(a, "individual_digits", false) &&
                slm_json_get_bool(b, "use_regex", true)) {
                v->pre = "smollm";
                return SLM_OK;
            }
        }
    }
    return slm_err(SLM_ERR_UNSUPPORTED, "%s: pre_tokenizer (type '%s') is not one slm recognises (it knows "
                   "GPT-2's ByteLevel, Llama 3's and Qwen2's Split regex, SmolLM's Digits)", v->src, t ? t : "?");
}

static slm_status from_tokenizer_json(vocab *v, const slm_json_node *root) {
    const slm_json_node *model = slm_json_get(root, "model");
    if (!slm_json_is(model, SLM_JSON_OBJECT))
        return slm_err(SLM_ERR_FORMAT, "%s: key 'model' missing or not an object", v->src);
    const char *type = slm_json_get_str(model, "type", NULL);
    if (type && strcmp(type, "BPE"))
        return slm_err(SLM_ERR_UNSUPPORTED, "%s: model.type '%s' is not supported (slm reads BPE tokenizers)", v->src,
                       type);
    const slm_json_node *vmap = slm_json_get(model, "vocab");
    if (!slm_json_is(vmap, SLM_JSON_OBJECT))
        return slm_err(SLM_ERR_FORMAT, "%s: model.vocab missing or not an object", v->src);
    const slm_json_node *added = slm_json_get(root, "added_tokens");
    if (added && !slm_json_is(added, SLM_JSON_ARRAY) && !slm_json_is(added, SLM_JSON_NULL))
        return slm_err(SLM_ERR_FORMAT, "%s: added_tokens must be an array", v->src);
    const slm_json_node *pt = slm_json_get(root, "pre_tokenizer"), *dec = slm_json_get(root, "decoder");
    bool byte_level = has_type(pt, "ByteLevel", "pretokenizers") || has_type(dec, "ByteLevel", "decoders");
    bool fallback = slm_json_get_bool(model, "byte_fallback", false) || has_type(dec, "ByteFallback", "decoders");
    if (!byte_level && !fallback)
        return slm_err(SLM_ERR_UNSUPPORTED, "%s: a BPE model that is neither byte-level nor byte_fallback is not "
                       "supported", v->src);
    v->model = byte_level ? "gpt2" : "llama";
    TRY(fill(v, vmap, slm_json_is(added, SLM_JSON_ARRAY) ? added : NULL, slm_json_get_str(model, "unk_token", NULL)));
    TRY(read_merges(v, slm_json_get(model, "merges")));
    if (byte_level) return pre_name(v, pt);
    merge_scores(v);
    /* SentencePiece's leading space: a normalizer Prepend("▁") or a Metaspace that prepends */
    const slm_json_node *norm = slm_json_get(root, "normalizer");
    v->spm_prefix = has_type(norm, "Prepend", "normalizers");
    if (has_type(pt, "Metaspace", "pretokenizers")) {
        const char *scheme = slm_json_get_str(pt, "prepend_scheme", NULL);
        v->spm_prefix = scheme ? strcmp(scheme, "never") != 0 : slm_json_get_bool(pt, "add_prefix_space", true);
    }
    return SLM_OK;
}

/* ------------------------------------------------------------------------ */
/* vocab.json + merges.txt                                                    */
/* ------------------------------------------------------------------------ */

static slm_status from_vocab_merges(vocab *v, const slm_json_node *vmap, char *merges_txt, const char *mpath,
                                    const slm_json_node *added_decoder) {
    if (!slm_json_is(vmap, SLM_JSON_OBJECT))
        return slm_err(SLM_ERR_FORMAT, "%s: expected an object of token: id", v->src);
    v->model = "gpt2";
    v->pre = "gpt-2";
    TRY(fill(v, vmap, NULL, NULL));
    /* tokenizer_config.json "added_tokens_decoder": {"id": {"content", "special"}} */
    for (const slm_json_node *c = slm_json_child(added_decoder); c; c = slm_json_next(c)) {
        char *end;
        long id = strtol(c->key, &end, 10);
        size_t len;
        const char *s = slm_json_get_str(c, "content", &len);
        if (*end || id < 0 || id >= v->n || !s) continue;
        if (find_id(v, s, len) == (int32_t)id)
            v->type[id] = slm_json_get_bool(c, "special", false) ? TT_CONTROL : TT_USER;
    }
    int64_t cap = 1;
    for (char *p = merges_txt; *p; p++) cap += *p == '\n';
    v->merges = hf_alloc(v->h, (size_t)cap * sizeof *v->merges);
    if (!v->merges) return slm_err(SLM_ERR_NOMEM, "%s: out of memory", mpath);
    int64_t line = 0;
    for (char *p = merges_txt, *nl; p && *p; p = nl) {
        nl = strchr(p, '\n');
        if (nl) *nl++ = 0;
        size_t n = strlen(p);
        if (n && p[n - 1] == '\r') p[--n] = 0;
        line++;
        if (!n || (line == 1 && !strncmp(p, "#version", 8))) continue;
        char *sp = strchr(p, ' ');
        if (!sp || sp == p || !sp[1] || strchr(sp + 1, ' '))
            return slm_err(SLM_ERR_FORMAT, "%s: line %lld: expected \"left right\"", mpath, (long long)line);
        v->merges[v->n_merges++] = p;
    }
    return SLM_OK;
}

/* ------------------------------------------------------------------------ */
/* Special tokens and the chat template                                       */
/* ------------------------------------------------------------------------ */

/* "bos_token": "<s>" or {"content": "<s>", ...} -> its id, -1 if absent. */
static int32_t special_by_text(const vocab *v, const slm_json_node *tc, const char *key) {
    const slm_json_node *n = slm_json_get(tc, key);
    size_t len;
    const char *s = slm_json_str(n, &len);
    if (!s) s = slm_json_get_str(n, "content", &len);
    return s ? find_id(v, s, len) : -1;
}

static int32_t config_id(const vocab *v, const slm_json_node *cfg, const char *key) {
    const slm_json_node *n = slm_json_get(cfg, key);
    if (slm_json_is(n, SLM_JSON_ARRAY)) n = slm_json_at(n, 0);
    int64_t id;
    return slm_json_int(n, 0, v->n - 1, &id) ? (int32_t)id : -1;
}

/* The TemplateProcessing post-processor (alone or in a Sequence). */
static const slm_json_node *template_proc(const slm_json_node *pp) {
    const char *t = slm_json_get_str(pp, "type", NULL);
    if (t && !strcmp(t, "TemplateProcessing")) return pp;
    for (const slm_json_node *c = slm_json_child(slm_json_get(pp, "processors")); c; c = slm_json_next(c))
        if ((t = slm_json_get_str(c, "type", NULL)) && !strcmp(t, "TemplateProcessing")) return c;
    return NULL;
}

static int32_t template_special(const vocab *v, const slm_json_node *item) {
    size_t len;
    const char *s = slm_json_get_str(slm_json_get(item, "SpecialToken"), "id", &len);
    return s ? find_id(v, s, len) : -1;
}

static char *read_text(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n + 1 >= cap) {
            char *b = realloc(buf, cap *= 2);
            if (!b) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = b;
        }
        size_t got = fread(buf + n, 1, cap - 1 - n, f);
        n += got;
        if (!got) break;
    }
    fclose(f);
    if (buf) buf[n] = 0;
    if (len) *len = n;
    return buf;
}

static void write_specials(vocab *v, const slm_json_node *tc, const slm_json_node *tok_root) {
    gguf_writer *w = v->h->w;
    static const char *const keys[][2] = {{"bos_token", "bos"}, {"eos_token", "eos"}, {"unk_token", "unknown"},
                                          {"pad_token", "padding"}, {"sep_token", "seperator"},
                                          {"mask_token", "mask"}};
    int32_t ids[6];
    for (int i = 0; i < 6; i++) ids[i] = special_by_text(v, tc, keys[i][0]);
    const slm_json_node *add_bos = slm_json_get(tc, "add_bos_token"), *add_eos = slm_json_get(tc, "add_eos_token");
    int has_bos = slm_json_is(add_bos, SLM_JSON_TRUE) ? 1 : slm_json_is(add_bos, SLM_JSON_FALSE) ? 0 : -1;
    int has_eos = slm_json_is(add_eos, SLM_JSON_TRUE) ? 1 : slm_json_is(add_eos, SLM_JSON_FALSE) ? 0 : -1;
    const slm_json_node *tp = template_proc(slm_json_get(tok_root, "post_processor"));
    const slm_json_node *single = slm_json_get(tp, "single");
    if (tp && slm_json_count(single) > 0) {
        int32_t first = template_special(v, slm_json_at(single, 0));
        int32_t last = template_special(v, slm_json_at(single, slm_json_count(single) - 1));
        if (first >= 0 && ids[0] < 0) ids[0] = first;
        if (has_bos < 0) has_bos = first >= 0 && first == ids[0];
        if (slm_json_count(single) > 1 && last >= 0 && ids[1] < 0) ids[1] = last;
        if (has_eos < 0) has_eos = slm_json_count(single) > 1 && last >= 0 && last == ids[1];
    }
    static const char *const cfg_keys[] = {"bos_token_id", "eos_token_id", NULL, "pad_token_id", NULL, NULL};
    for (int i = 0; i < 6; i++)
        if (ids[i] < 0 && cfg_keys[i]) ids[i] = config_id(v, v->h->cfg_top, cfg_keys[i]);
    char k[96];
    for (int i = 0; i < 6; i++) {
        if (ids[i] < 0) continue;
        snprintf(k, sizeof k, "tokenizer.ggml.%s_token_id", keys[i][1]);
        gguf_writer_set_u32(w, k, (uint32_t)ids[i]);
    }
    if (has_bos >= 0 && (ids[0] >= 0 || !has_bos)) gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", has_bos);
    if (has_eos >= 0 && (ids[1] >= 0 || !has_eos)) gguf_writer_set_bool(w, "tokenizer.ggml.add_eos_token", has_eos);
}

static void write_chat_template(hf_ctx *h, const slm_json_node *tc) {
    char path[4096];
    snprintf(path, sizeof path, "%s/chat_template.jinja", h->dir);
    char *t = read_text(path, NULL);
    if (t) {
        gguf_writer_set_str(h->w, "tokenizer.chat_template", t);
        free(t);
        return;
    }
    const slm_json_node *ct = slm_json_get(tc, "chat_template");
    const char *s = slm_json_str(ct, NULL);
    if (s) {
        gguf_writer_set_str(h->w, "tokenizer.chat_template", s);
        return;
    }
    for (const slm_json_node *c = slm_json_child(slm_json_is(ct, SLM_JSON_ARRAY) ? ct : NULL); c;
         c = slm_json_next(c)) {
        const char *name = slm_json_get_str(c, "name", NULL), *tmpl = slm_json_get_str(c, "template", NULL);
        if (!name || !tmpl) continue;
        char k[256];
        if (!strcmp(name, "default")) snprintf(k, sizeof k, "tokenizer.chat_template");
        else snprintf(k, sizeof k, "tokenizer.chat_template.%s", name);
        gguf_writer_set_str(h->w, k, tmpl);
    }
}

static void write_vocab(vocab *v) {
    gguf_writer *w = v->h->w;
    gguf_writer_set_str(w, "tokenizer.ggml.model", v->model);
    if (v->pre) gguf_writer_set_str(w, "tokenizer.ggml.pre", v->pre);
    gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", v->text, (uint64_t)v->n);
    gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, v->type, (uint64_t)v->n);
    if (!strcmp(v->model, "llama")) {
        gguf_writer_set_arr(w, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, v->score, (uint64_t)v->n);
        gguf_writer_set_bool(w, "tokenizer.ggml.add_space_prefix", v->spm_prefix);
    }
    if (v->merges) gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", v->merges, (uint64_t)v->n_merges);
}

static bool exists(const char *path);

/* No tokenizer files: "<id_N>" pieces, ids from config.json. */
static slm_status placeholder(vocab *v) {
    hf_ctx *h = v->h;
    TRY(alloc_tokens(v, h->hp.n_vocab));
    for (int64_t id = 0; id < v->n; id++) {
        char *s = hf_alloc(h, 32);
        if (!s) return slm_err(SLM_ERR_NOMEM, "%s: out of memory", h->dir);
        snprintf(s, 32, "<id_%lld>", (long long)id);
        v->text[id] = s;
        v->len[id] = strlen(s);
        v->type[id] = TT_UNUSED;
    }
    v->model = "llama";
    TRY(build_index(v));
    write_vocab(v);
    int32_t bos = config_id(v, h->cfg_top, "bos_token_id"), eos = config_id(v, h->cfg_top, "eos_token_id");
    if (bos >= 0) gguf_writer_set_u32(h->w, "tokenizer.ggml.bos_token_id", (uint32_t)bos);
    if (eos >= 0) gguf_writer_set_u32(h->w, "tokenizer.ggml.eos_token_id", (uint32_t)eos);
    gguf_writer_set_bool(h->w, "tokenizer.ggml.add_bos_token", bos >= 0);
    h->info->placeholder_vocab = true;
    static _Atomic int warned; /* once per process: tests and servers load many */
    char sp[4096];
    snprintf(sp, sizeof sp, "%s/tokenizer.model", h->dir);
    if (!warned++)
        fprintf(stderr, "slm: warning: %s has no tokenizer.json (nor vocab.json + merges.txt%s): its %lld tokens are "
                "placeholders; token ids work, text cannot be tokenized\n", h->dir,
                exists(sp) ? "; tokenizer.model is not read" : "", (long long)v->n);
    return SLM_OK;
}

static bool exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

slm_status hf_vocab_keys(hf_ctx *h) {
    char tj[4096], tcj[4096], vj[4096], mt[4096];
    snprintf(tj, sizeof tj, "%s/tokenizer.json", h->dir);
    snprintf(tcj, sizeof tcj, "%s/tokenizer_config.json", h->dir);
    snprintf(vj, sizeof vj, "%s/vocab.json", h->dir);
    snprintf(mt, sizeof mt, "%s/merges.txt", h->dir);
    vocab v = {.h = h};
    const size_t mark = h->own->n_bufs; /* scratch from here on is freed at the end */
    slm_json *tok = NULL, *tcfg = NULL, *vocab_doc = NULL;
    char *merges = NULL;
    slm_status st = SLM_OK;
    if (exists(tcj) && (st = slm_json_parse_file(tcj, &tcfg))) return st;
    const slm_json_node *tc = slm_json_root(tcfg);
    if (exists(tj)) {
        v.src = tj;
        if (!(st = slm_json_parse_file(tj, &tok))) st = from_tokenizer_json(&v, slm_json_root(tok));
    } else if (exists(vj) && exists(mt)) {
        v.src = vj;
        if (!(merges = read_text(mt, NULL))) st = slm_err(SLM_ERR_IO, "%s: cannot read", mt);
        if (!st) st = slm_json_parse_file(vj, &vocab_doc);
        if (!st) st = from_vocab_merges(&v, slm_json_root(vocab_doc), merges, mt, slm_json_get(tc, "added_tokens_decoder"));
    } else {
        st = placeholder(&v);
        goto done;
    }
    if (!st) {
        write_vocab(&v);
        write_specials(&v, tc, slm_json_root(tok));
        write_chat_template(h, tc);
    }
done:
    /* the writer copied every string and array it was given */
    for (size_t i = mark; i < h->own->n_bufs; i++) free(h->own->bufs[i]);
    h->own->n_bufs = mark;
    slm_json_free(tok);
    slm_json_free(tcfg);
    slm_json_free(vocab_doc);
    free(merges);
    return st;
}
