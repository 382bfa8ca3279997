/*
 * vocab.c — loading a tokenizer from GGUF metadata, and the entry points of
 * vocab.h (tokenize, pieces, special tokens).
 *
 * GGUF keys read (all under tokenizer.ggml.):
 *   model (string, required)          "llama" (SPM) or "gpt2" (byte-level BPE)
 *   pre (string)                      BPE pre-tokenizer name (pretok.c)
 *   tokens (string array, required)   the pieces, ids = indices
 *   scores (f32/int array)            SPM merge priorities
 *   token_type (int array)            1 normal 2 unknown 3 control 4 user-defined 5 unused 6 byte
 *   merges (string array, gpt2)       "left right", rank = index
 *   bos/eos/eot/eom/unknown/seperator/padding/mask_token_id, fim_{pre,suf,mid,pad,rep,sep}_token_id
 *   add_bos_token, add_eos_token, add_space_prefix (bool)
 * plus general.name (Phi-3's special tokens strip the whitespace after them).
 *
 * Defaults and fix-ups follow llama.cpp's llama_vocab::load: SPM defaults
 * BOS 1, EOS 2, UNK 0, add_bos, add_space_prefix; BPE defaults BOS = EOS = 11
 * (if in range); EOT/EOM/FIM tokens are found by text when not given; tokens
 * whose text ends a turn (<|im_end|>, <|eot_id|>, ...) become control tokens
 * and end a generation. Unlike llama.cpp, a special id out of range is an
 * error (llama.cpp warns and ignores it).
 *
 * Not here: the tokenizers themselves (spm.c, bpe.c, pretok.c), special-token
 * splitting (special.c), the streaming detokenizer (detok.c).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "tokenizer/hf.h"
#include "tokenizer/utf8.h"
#include "tokenizer/vocab_impl.h"

#define KEY(name) "tokenizer.ggml." name

bool slm_tokbuf_push(slm_tokbuf *b, slm_token t) {
    if (b->n == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 256;
        slm_token *ids = realloc(b->ids, cap * sizeof *ids);
        if (!ids) return false;
        b->ids = ids;
        b->cap = cap;
    }
    b->ids[b->n++] = t;
    return true;
}

/* ------------------------------------------------------------------------ */
/* Reading keys                                                              */
/* ------------------------------------------------------------------------ */

static const char *gname(const gguf_file *g) { return g->path ? g->path : "gguf"; }

static bool is_int_type(uint32_t t) {
    return t == GGUF_TYPE_UINT8 || t == GGUF_TYPE_INT8 || t == GGUF_TYPE_UINT16 ||
           t == GGUF_TYPE_INT16 || t == GGUF_TYPE_UINT32 || t == GGUF_TYPE_INT32 ||
           t == GGUF_TYPE_UINT64 || t == GGUF_TYPE_INT64;
}

static bool is_num_type(uint32_t t) {
    return is_int_type(t) || t == GGUF_TYPE_FLOAT32 || t == GGUF_TYPE_FLOAT64;
}

static bool is_uint_type(uint32_t t) {
    return t == GGUF_TYPE_UINT8 || t == GGUF_TYPE_UINT16 || t == GGUF_TYPE_UINT32 ||
           t == GGUF_TYPE_UINT64;
}

static const char *vtype(uint32_t t) {
    const char *s = gguf_vtype_name(t);
    return s ? s : "unknown type";
}

/* An optional token id key: absent leaves *id alone; otherwise it must be an
 * integer in [0, n_tokens). */
static slm_status read_id(const gguf_file *g, const char *key, int32_t n_tokens, slm_token *id) {
    const gguf_kv *kv = gguf_find_kv(g, key);
    if (!kv) return SLM_OK;
    const gguf_value *val = &kv->value;
    if (!is_int_type(val->type))
        return slm_err(SLM_ERR_FORMAT, "%s: %s: expected an integer, found %s", gname(g), key,
                       vtype(val->type));
    bool neg = !is_uint_type(val->type) && val->v.i64 < 0;
    uint64_t u = neg ? 0 : (is_uint_type(val->type) ? val->v.u64 : (uint64_t)val->v.i64);
    if (neg || u >= (uint64_t)n_tokens)
        return slm_err(SLM_ERR_FORMAT, "%s: %s = %lld is out of range (%d tokens)", gname(g), key,
                       neg ? (long long)val->v.i64 : (long long)u, n_tokens);
    *id = (slm_token)u;
    return SLM_OK;
}

static slm_status read_bool(const gguf_file *g, const char *key, bool *out) {
    const gguf_kv *kv = gguf_find_kv(g, key);
    if (!kv) return SLM_OK;
    if (kv->value.type != GGUF_TYPE_BOOL)
        return slm_err(SLM_ERR_FORMAT, "%s: %s: expected a bool, found %s", gname(g), key,
                       vtype(kv->value.type));
    *out = kv->value.v.b;
    return SLM_OK;
}

/* An optional string key: NULL if absent, an error if of another type. */
static slm_status read_str(const gguf_file *g, const char *key, const char **out) {
    const gguf_kv *kv = gguf_find_kv(g, key);
    *out = NULL;
    if (!kv) return SLM_OK;
    if (kv->value.type != GGUF_TYPE_STRING)
        return slm_err(SLM_ERR_FORMAT, "%s: %s: expected a string, found %s", gname(g), key,
                       vtype(kv->value.type));
    *out = kv->value.v.str.ptr;
    return SLM_OK;
}

/* An array key whose elements satisfy ok(); NULL if absent. */
static slm_status read_arr(const gguf_file *g, const char *key, bool (*ok)(uint32_t),
                           const char *what, const gguf_value **out) {
    const gguf_kv *kv = gguf_find_kv(g, key);
    *out = NULL;
    if (!kv) return SLM_OK;
    if (kv->value.type != GGUF_TYPE_ARRAY)
        return slm_err(SLM_ERR_FORMAT, "%s: %s: expected an array of %s, found %s", gname(g), key,
                       what, vtype(kv->value.type));
    if (!ok(kv->value.v.arr.elem_type))
        return slm_err(SLM_ERR_FORMAT, "%s: %s: expected an array of %s, found an array of %s",
                       gname(g), key, what, vtype(kv->value.v.arr.elem_type));
    *out = &kv->value;
    return SLM_OK;
}

static bool is_string_type(uint32_t t) { return t == GGUF_TYPE_STRING; }

/* For messages: at most 40 bytes of a piece, with control bytes escaped. */
static const char *show(const char *s, size_t n, char buf[200]) {
    size_t k = 0;
    for (size_t i = 0; i < n && i < 40 && k < 190; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) k += (size_t)snprintf(buf + k, 200 - k, "\\x%02x", c);
        else buf[k++] = (char)c;
    }
    if (n > 40 && k < 195) {
        memcpy(buf + k, "...", 3);
        k += 3;
    }
    buf[k] = 0;
    return buf;
}

/* ------------------------------------------------------------------------ */
/* Loading                                                                   */
/* ------------------------------------------------------------------------ */

static slm_token find_text(const slm_vocab *v, const char *s) {
    return slm_strmap_find(&v->text_to_id, s, strlen(s));
}

/* The lowest id among the tokens with one of these texts, or -1. */
static slm_token find_first(const slm_vocab *v, const char *const *texts) {
    slm_token best = -1;
    for (; *texts; texts++) {
        slm_token t = find_text(v, *texts);
        if (t >= 0 && (best < 0 || t < best)) best = t;
    }
    return best;
}

static const char *const k_eot_texts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>",
    "<EOT>", "_<EOT>", "[EOT]", "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>",
    "<end_of_utterance>", NULL};
static const char *const k_eom_texts[] = {"<|eom_id|>", NULL};
static const char *const k_fim_pre_texts[] = {
    "<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<\xef\xbd\x9c" "fim\xe2\x96\x81" "begin\xef\xbd\x9c>",
    "<PRE>", "\xe2\x96\x81<PRE>", "<|code_prefix|>", "<|prefix|>", NULL};
static const char *const k_fim_suf_texts[] = {
    "<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<\xef\xbd\x9c" "fim\xe2\x96\x81hole\xef\xbd\x9c>",
    "<SUF>", "\xe2\x96\x81<SUF>", "<|code_suffix|>", "<|suffix|>", NULL};
static const char *const k_fim_mid_texts[] = {
    "<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<\xef\xbd\x9c" "fim\xe2\x96\x81" "end\xef\xbd\x9c>",
    "<MID>", "\xe2\x96\x81<MID>", "<|code_middle|>", "<|middle|>", NULL};
static const char *const k_fim_pad_texts[] = {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>",
                                              "[PAD]", NULL};
static const char *const k_fim_rep_texts[] = {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>",
                                              "<REPO>", "<reponame>", NULL};
static const char *const k_fim_sep_texts[] = {"<|file_sep|>", NULL};
/* texts that end a generation */
static const char *const k_eog_texts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>",
    "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]",
    "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
    "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>", "[e~[", NULL};

/* For tokenizer.json vocabularies the added tokens alone are special, as in
 * Hugging Face: nothing is made a control token there. */
static void mark_control(slm_vocab *v, slm_token t) {
    if (t >= 0 && !v->hf) v->attr[t] |= SLM_TOK_CONTROL;
}

/* Finds an id by text when the file did not give one; the token becomes a
 * control token (llama.cpp does the same). */
static void detect(slm_vocab *v, slm_token *id, const char *const *texts) {
    if (*id >= 0) return;
    *id = find_first(v, texts);
    mark_control(v, *id);
}

static void set_eog(slm_vocab *v, slm_token t) {
    if (t >= 0) v->attr[t] |= SLM_TOK_EOG;
}

static void mark_eog(slm_vocab *v) {
    set_eog(v, v->fim_pad);
    set_eog(v, v->fim_rep);
    set_eog(v, v->fim_sep);
    for (const char *const *p = k_eog_texts; *p; p++) {
        slm_token t = find_text(v, *p);
        set_eog(v, t);
        mark_control(v, t);
    }
    set_eog(v, v->eos);
    set_eog(v, v->eot);
    set_eog(v, v->eom);
    /* gpt-oss / solar-open: "<|end|>" ends a message, not the generation */
    slm_token end = find_text(v, "<|end|>");
    slm_token ret = find_text(v, "<|return|>"), call = find_text(v, "<|call|>");
    slm_token calls = find_text(v, "<|calls|>"), flush = find_text(v, "<|flush|>");
    if (end >= 0 && ((ret >= 0 && call >= 0) || (calls >= 0 && flush >= 0)))
        v->attr[end] = SLM_TOK_USER_DEFINED; /* and no longer EOG */
    /* gpt-oss: these are always rendered */
    static const char *const k_user[] = {"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>",
                                         NULL};
    for (const char *const *p = k_user; *p; p++) {
        slm_token t = find_text(v, *p);
        if (t >= 0) v->attr[t] = (v->attr[t] & SLM_TOK_EOG) | SLM_TOK_USER_DEFINED;
    }
}

/* Per-model token attributes that the file does not carry (llama.cpp's list). */
static void set_strip_attrs(slm_vocab *v, const char *model_name, const char *pre, const char *arch) {
    char name[256];
    size_t k = 0;
    for (; model_name && model_name[k] && k + 1 < sizeof name; k++)
        name[k] = (char)tolower((unsigned char)model_name[k]);
    name[k] = 0;
    pre = pre ? pre : "";
    arch = arch ? arch : "";
    if (strstr(pre, "jina-v2-de") || strstr(pre, "jina-v2-es") || strstr(pre, "jina-v2-code") ||
        strstr(arch, "nomic-bert-moe") || strstr(arch, "jina-bert-v3")) {
        slm_token t = find_text(v, "<mask>");
        if (t >= 0) v->attr[t] |= SLM_TOK_LSTRIP;
    } else if (strstr(name, "phi-3") || strstr(name, "phi3")) {
        for (int32_t i = 0; i < v->n_special; i++) v->attr[v->special_ids[i]] |= SLM_TOK_RSTRIP;
        slm_token t = find_text(v, "</s>");
        if (t >= 0) v->attr[t] |= SLM_TOK_RSTRIP;
        static const char *const k_keep[] = {"<unk>", "<s>", "<|endoftext|>", NULL};
        for (const char *const *p = k_keep; *p; p++) {
            t = find_text(v, *p);
            if (t >= 0) v->attr[t] &= ~(uint32_t)SLM_TOK_RSTRIP;
        }
    } else if (strstr(name, "modern-bert")) {
        slm_token t = find_text(v, "[MASK]");
        if (t >= 0) v->attr[t] |= SLM_TOK_LSTRIP;
    }
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* The byte of a "<0xNN>" text, or -1. */
static int byte_of_text(const char *s, size_t n) {
    if (n != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>') return -1;
    int hi = hexval(s[3]), lo = hexval(s[4]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

/* Writes the decoded piece of token i at dst; returns its length (<= the text length). */
static size_t make_piece(const slm_vocab *v, int32_t i, char *dst) {
    const char *s = v->text_buf + v->text_off[i];
    size_t n = v->text_len[i];
    uint32_t a = v->attr[i];
    if (a & (SLM_TOK_UNKNOWN | SLM_TOK_CONTROL | SLM_TOK_USER_DEFINED)) {
        memcpy(dst, s, n);
        return n;
    }
    if (a & SLM_TOK_NORMAL) {
        size_t k = 0;
        if (v->type == SLM_VOCAB_SPM) {
            for (size_t j = 0; j < n;) {
                if (j + 3 <= n && memcmp(s + j, "\xe2\x96\x81", 3) == 0) {
                    dst[k++] = ' ';
                    j += 3;
                } else {
                    dst[k++] = s[j++];
                }
            }
            return k;
        }
        /* byte-level BPE: every character stands for one byte; a character
         * outside the mapping is kept as it is (llama.cpp writes a marker) */
        for (size_t j = 0; j < n;) {
            size_t j0 = j;
            uint32_t c = slm_utf8_decode_lenient((const uint8_t *)s, n, &j);
            int b = slm_bpe_cpt_to_byte(c);
            if (b >= 0) {
                dst[k++] = (char)b;
            } else {
                memcpy(dst + k, s + j0, j - j0);
                k += j - j0;
            }
        }
        return k;
    }
    if (a & SLM_TOK_BYTE) {
        int b = byte_of_text(s, n);
        if (b >= 0) {
            dst[0] = (char)b;
            return 1;
        }
        memcpy(dst, s, n);
        return n;
    }
    return 0; /* unused / undefined tokens have no text */
}

static slm_status load_merges(slm_vocab *v, const gguf_file *g) {
    const gguf_value *arr;
    slm_status st = read_arr(g, KEY("merges"), is_string_type, "strings", &arr);
    if (st != SLM_OK) return st;
    if (!arr) return slm_err(SLM_ERR_FORMAT, "%s: " KEY("merges") ": missing (required by gpt2)", gname(g));
    uint64_t n = arr->v.arr.n;
    if (n > INT32_MAX)
        return slm_err(SLM_ERR_FORMAT, "%s: " KEY("merges") ": too many (%llu)", gname(g),
                       (unsigned long long)n);
    if (!slm_pairmap_init(&v->merges, (size_t)n))
        return slm_err(SLM_ERR_NOMEM, "%s: out of memory", __func__);
    char *cat = NULL;
    size_t cap = 0;
    char buf[200];
    for (uint64_t i = 0; i < n; i++) {
        const char *s = arr->v.arr.items[i].v.str.ptr;
        size_t len = arr->v.arr.items[i].v.str.len;
        const char *sp = len > 1 ? memchr(s + 1, ' ', len - 1) : NULL; /* as llama.cpp: find(' ', 1) */
        if (!sp) {
            free(cat);
            return slm_err(SLM_ERR_FORMAT, "%s: " KEY("merges") "[%llu] = '%s': no space between the two tokens",
                           gname(g), (unsigned long long)i, show(s, len, buf));
        }
        size_t nl = (size_t)(sp - s), nr = len - nl - 1;
        int32_t l = slm_strmap_find(&v->text_to_id, s, nl);
        int32_t r = slm_strmap_find(&v->text_to_id, sp + 1, nr);
        if (l < 0 || r < 0) {
            free(cat);
            char buf2[200];
            return slm_err(SLM_ERR_FORMAT, "%s: " KEY("merges") "[%llu]: '%s' is not a token (in '%s')",
                           gname(g), (unsigned long long)i,
                           l < 0 ? show(s, nl, buf2) : show(sp + 1, nr, buf2), show(s, len, buf));
        }
        if (nl + nr > cap) {
            cap = 2 * (nl + nr);
            char *c = realloc(cat, cap);
            if (!c) {
                free(cat);
                return slm_err(SLM_ERR_NOMEM, "%s: out of memory", __func__);
            }
            cat = c;
        }
        memcpy(cat, s, nl);
        memcpy(cat + nl, sp + 1, nr);
        int32_t res = slm_strmap_find(&v->text_to_id, cat, nl + nr);
        slm_pairmap_insert(&v->merges, l, r, (int32_t)i, res); /* a repeated pair keeps its first rank */
    }
    free(cat);

    for (int b = 0; b < 256; b++) {
        uint8_t u[4];
        size_t k = slm_utf8_encode(slm_bpe_byte_to_cpt((uint8_t)b), u);
        v->byte_char_tok[b] = slm_strmap_find(&v->text_to_id, (const char *)u, k);
        char c = (char)b;
        v->one_byte_tok[b] = slm_strmap_find(&v->text_to_id, &c, 1);
    }
    return SLM_OK;
}

static slm_status load_tokens(slm_vocab *v, const gguf_file *g) {
    const gguf_value *toks, *scores, *types;
    slm_status st = read_arr(g, KEY("tokens"), is_string_type, "strings", &toks);
    if (st != SLM_OK) return st;
    if (!toks) return slm_err(SLM_ERR_FORMAT, "%s: " KEY("tokens") ": missing", gname(g));
    uint64_t n = toks->v.arr.n;
    if (n == 0) return slm_err(SLM_ERR_FORMAT, "%s: " KEY("tokens") ": empty", gname(g));
    if (n > INT32_MAX / 2)
        return slm_err(SLM_ERR_FORMAT, "%s: " KEY("tokens") ": too many (%llu)", gname(g),
                       (unsigned long long)n);
    if ((st = read_arr(g, KEY("scores"), is_num_type, "numbers", &scores)) != SLM_OK) return st;
    if (scores && scores->v.arr.n < n)
        return slm_err(SLM_ERR_FORMAT, "%s: " KEY("scores") ": %llu values for %llu tokens", gname(g),
                       (unsigned long long)scores->v.arr.n, (unsigned long long)n);
    if ((st = read_arr(g, KEY("token_type"), is_int_type, "integers", &types)) != SLM_OK) return st;
    if (types && types->v.arr.n < n)
        return slm_err(SLM_ERR_FORMAT, "%s: " KEY("token_type") ": %llu values for %llu tokens",
                       gname(g), (unsigned long long)types->v.arr.n, (unsigned long long)n);

    /* sizes first: texts (an empty one becomes "[EMPTY_<id>]", as llama.cpp) */
    uint64_t total = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t len = toks->v.arr.items[i].v.str.len;
        total += (len ? len : 24) + 1;
        if (total > UINT32_MAX)
            return slm_err(SLM_ERR_FORMAT, "%s: " KEY("tokens") ": texts too large", gname(g));
    }
    v->n_tokens = (int32_t)n;
    v->text_buf = malloc(total);
    v->text_off = malloc(n * sizeof *v->text_off);
    v->text_len = malloc(n * sizeof *v->text_len);
    v->scores = malloc(n * sizeof *v->scores);
    v->attr = malloc(n * sizeof *v->attr);
    v->piece_buf = malloc(total);
    v->piece_off = malloc((n + 1) * sizeof *v->piece_off);
    if (!v->text_buf || !v->text_off || !v->text_len || !v->scores || !v->attr || !v->piece_buf ||
        !v->piece_off || !slm_strmap_init(&v->text_to_id, n, v->text_buf, v->text_off, v->text_len))
        return slm_err(SLM_ERR_NOMEM, "%s: out of memory", __func__);

    uint32_t off = 0;
    char buf[200];
    for (uint64_t i = 0; i < n; i++) {
        const gguf_value *it = &toks->v.arr.items[i];
        char *dst = v->text_buf + off;
        uint32_t len = (uint32_t)it->v.str.len;
        if (len) memcpy(dst, it->v.str.ptr, len);
        else len = (uint32_t)sprintf(dst, "[EMPTY_%llu]", (unsigned long long)i);
        dst[len] = 0;
        v->text_off[i] = off;
        v->text_len[i] = len;
        off += len + 1;
        int32_t prev = slm_strmap_insert(&v->text_to_id, (int32_t)i);
        if (prev >= 0)
            return slm_err(SLM_ERR_FORMAT, "%s: " KEY("tokens") ": duplicate token '%s' (ids %d and %llu)",
                           gname(g), show(dst, len, buf), prev, (unsigned long long)i);
        v->scores[i] = scores ? gguf_arr_f32(scores, i) : 0.0f;
        uint32_t a = SLM_TOK_NORMAL;
        if (types) {
            switch (gguf_arr_i64(types, i)) {
            case 1: a = SLM_TOK_NORMAL; break;
            case 2: a = SLM_TOK_UNKNOWN; break;
            case 3: a = SLM_TOK_CONTROL; break;
            case 4: a = SLM_TOK_USER_DEFINED; break;
            case 5: a = SLM_TOK_UNUSED; break;
            case 6: a = SLM_TOK_BYTE; break;
            default: a = SLM_TOK_UNDEFINED; break;
            }
        }
        v->attr[i] = a;
    }
    return SLM_OK;
}

void slm_vocab_set_special_roles(slm_vocab *v) {
    detect(v, &v->eot, k_eot_texts);
    detect(v, &v->eom, k_eom_texts);
    detect(v, &v->fim_pre, k_fim_pre_texts);
    detect(v, &v->fim_suf, k_fim_suf_texts);
    detect(v, &v->fim_mid, k_fim_mid_texts);
    detect(v, &v->fim_pad, k_fim_pad_texts);
    detect(v, &v->fim_rep, k_fim_rep_texts);
    detect(v, &v->fim_sep, k_fim_sep_texts);
    mark_eog(v);
}

static slm_status load(slm_vocab *v, const gguf_file *g) {
    const char *model, *pre, *name, *arch;
    slm_status st;
    if ((st = read_str(g, KEY("model"), &model)) != SLM_OK) return st;
    if (!model) return slm_err(SLM_ERR_FORMAT, "%s: " KEY("model") ": missing", gname(g));
    if ((st = read_str(g, KEY("pre"), &pre)) != SLM_OK) return st;
    if ((st = read_str(g, "general.name", &name)) != SLM_OK) return st;
    if ((st = read_str(g, "general.architecture", &arch)) != SLM_OK) return st;
    if (strcmp(model, "llama") == 0) v->type = SLM_VOCAB_SPM;
    else if (strcmp(model, "gpt2") == 0) v->type = SLM_VOCAB_BPE;
    else
        return slm_err(SLM_ERR_UNSUPPORTED, "%s: " KEY("model") " = '%s': unsupported tokenizer (slm reads 'llama' and 'gpt2')",
                       gname(g), model);

    if ((st = load_tokens(v, g)) != SLM_OK) return st;
    int32_t n = v->n_tokens;

    /* defaults by tokenizer type */
    v->bos = v->eos = v->eot = v->eom = v->unk = v->sep = v->pad = v->mask = -1;
    v->fim_pre = v->fim_suf = v->fim_mid = v->fim_pad = v->fim_rep = v->fim_sep = -1;
    if (v->type == SLM_VOCAB_SPM) {
        v->bos = 1;
        v->eos = 2;
        v->unk = 0;
        v->add_bos = true;
        v->add_space_prefix = true;
    } else {
        if ((st = slm_pretok_new(pre, &v->pretok)) != SLM_OK) {
            char msg[512];
            snprintf(msg, sizeof msg, "%s", slm_last_error());
            return slm_err(st, "%s: %s", gname(g), msg);
        }
        slm_pretok_flags f = slm_pretok_get_flags(v->pretok);
        v->bos = v->eos = 11;
        if (f.no_bos) v->bos = -1;
        v->add_bos = f.add_bos;
        v->ignore_merges = f.ignore_merges;
    }
    if (v->bos >= n) v->bos = -1;
    if (v->eos >= n) v->eos = -1;
    if (v->unk >= n) v->unk = -1;
    if ((st = read_bool(g, KEY("add_space_prefix"), &v->add_space_prefix)) != SLM_OK) return st;

    const struct {
        const char *key;
        slm_token *id;
    } ids[] = {
        {KEY("bos_token_id"), &v->bos},          {KEY("eos_token_id"), &v->eos},
        {KEY("eot_token_id"), &v->eot},          {KEY("eom_token_id"), &v->eom},
        {KEY("unknown_token_id"), &v->unk},      {KEY("seperator_token_id"), &v->sep},
        {KEY("padding_token_id"), &v->pad},      {KEY("mask_token_id"), &v->mask},
        {KEY("fim_pre_token_id"), &v->fim_pre},  {KEY("fim_suf_token_id"), &v->fim_suf},
        {KEY("fim_mid_token_id"), &v->fim_mid},  {KEY("fim_pad_token_id"), &v->fim_pad},
        {KEY("fim_rep_token_id"), &v->fim_rep},  {KEY("fim_sep_token_id"), &v->fim_sep},
        {KEY("prefix_token_id"), &v->fim_pre},   {KEY("suffix_token_id"), &v->fim_suf},
        {KEY("middle_token_id"), &v->fim_mid},
    };
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
        if ((st = read_id(g, ids[i].key, n, ids[i].id)) != SLM_OK) return st;
    if ((st = read_bool(g, KEY("add_bos_token"), &v->add_bos)) != SLM_OK) return st;
    if ((st = read_bool(g, KEY("add_eos_token"), &v->add_eos)) != SLM_OK) return st;
    if (v->add_bos && v->bos < 0)
        return slm_err(SLM_ERR_FORMAT, "%s: " KEY("add_bos_token") " is true, but " KEY("bos_token_id") " is not set",
                       gname(g));
    if (v->add_eos && v->eos < 0)
        return slm_err(SLM_ERR_FORMAT, "%s: " KEY("add_eos_token") " is true, but " KEY("eos_token_id") " is not set",
                       gname(g));

    if (v->type == SLM_VOCAB_SPM) {
        v->spm_word_split = true;
        for (int32_t i = 0; i < n && v->spm_word_split; i++) {
            const char *s = v->text_buf + v->text_off[i];
            uint32_t len = v->text_len[i], lead = 0; /* bytes of the leading '▁' run */
            while (lead + 3 <= len && memcmp(s + lead, "\xe2\x96\x81", 3) == 0) lead += 3;
            for (uint32_t k = lead; k + 3 <= len; k++)
                if (memcmp(s + k, "\xe2\x96\x81", 3) == 0) v->spm_word_split = false;
        }
        for (int b = 0; b < 256; b++) {
            char hex[8], c = (char)b;
            snprintf(hex, sizeof hex, "<0x%02X>", b);
            slm_token t = find_text(v, hex);
            if (t < 0) t = slm_strmap_find(&v->text_to_id, &c, 1);
            v->byte_token[b] = t >= 0 ? t : v->unk;
        }
    } else {
        if ((st = load_merges(v, g)) != SLM_OK) return st;
    }

    slm_vocab_set_special_roles(v);

    if ((st = slm_special_build(v)) != SLM_OK) return st;

    uint32_t off = 0;
    for (int32_t i = 0; i < n; i++) {
        v->piece_off[i] = off;
        off += (uint32_t)make_piece(v, i, v->piece_buf + off);
    }
    v->piece_off[n] = off;

    set_strip_attrs(v, name, pre, arch);
    return SLM_OK;
}

slm_status slm_vocab_load_gguf(const gguf_file *g, slm_vocab **out) {
    if (!out) return slm_err(SLM_ERR_ARG, "%s: out is NULL", __func__);
    *out = NULL;
    if (!g) return slm_err(SLM_ERR_ARG, "%s: gguf file is NULL", __func__);
    slm_vocab *v = calloc(1, sizeof *v);
    if (!v) return slm_err(SLM_ERR_NOMEM, "%s: out of memory", __func__);
    slm_status st = load(v, g);
    if (st != SLM_OK) {
        slm_vocab_free(v);
        return st;
    }
    *out = v;
    return SLM_OK;
}

void slm_vocab_free(slm_vocab *v) {
    if (!v) return;
    slm_special_free(v);
    slm_pretok_free(v->pretok);
    slm_hf_free(v->hf);
    free(v->char_tok);
    slm_pairmap_free(&v->merges);
    slm_strmap_free(&v->text_to_id);
    free(v->text_buf);
    free(v->text_off);
    free(v->text_len);
    free(v->scores);
    free(v->attr);
    free(v->piece_buf);
    free(v->piece_off);
    free(v);
}

/* ------------------------------------------------------------------------ */
/* Queries                                                                   */
/* ------------------------------------------------------------------------ */

int32_t slm_vocab_n_tokens(const slm_vocab *v) { return v ? v->n_tokens : 0; }
slm_token slm_vocab_bos(const slm_vocab *v) { return v ? v->bos : -1; }
slm_token slm_vocab_eos(const slm_vocab *v) { return v ? v->eos : -1; }

bool slm_vocab_is_eog(const slm_vocab *v, slm_token t) {
    return v && t >= 0 && t < v->n_tokens && (v->attr[t] & SLM_TOK_EOG);
}

const char *slm_vocab_token_text(const slm_vocab *v, slm_token t) {
    if (!v || t < 0 || t >= v->n_tokens) return NULL;
    return v->text_buf + v->text_off[t];
}

int32_t slm_vocab_token_to_piece(const slm_vocab *v, slm_token t, char *buf, int32_t cap) {
    if (!v || t < 0 || t >= v->n_tokens) return -1;
    uint32_t n = v->piece_off[t + 1] - v->piece_off[t];
    if (n > INT32_MAX) return -1;
    if (buf && cap >= 0 && (uint32_t)cap >= n) memcpy(buf, v->piece_buf + v->piece_off[t], n);
    return (int32_t)n;
}

/* ------------------------------------------------------------------------ */
/* Tokenizing                                                                */
/* ------------------------------------------------------------------------ */

/* tokenizer.json vocabularies: the text as Hugging Face sees it (valid UTF-8),
 * then each raw fragment through the normalizers, pre-tokenizers and BPE. */
static slm_status tokenize_hf(const slm_vocab *v, const char *text, size_t len, bool add_special,
                              bool parse_special, slm_tokbuf *out) {
    size_t clean_len;
    char *clean = slm_hf_sanitize(text, len, &clean_len);
    if (!clean && clean_len == SIZE_MAX) return slm_err(SLM_ERR_NOMEM, "%s: out of memory", __func__);
    if (clean) {
        text = clean;
        len = clean_len;
    }
    slm_fragment *frags = NULL;
    size_t n_frags = 0;
    slm_hf_scratch *scratch = NULL;
    slm_status st = slm_special_partition(v, text, len, parse_special, &frags, &n_frags);
    if (st != SLM_OK) goto done;
    if (!(scratch = slm_hf_scratch_new(len))) goto nomem;
    if (add_special && v->add_bos && !slm_tokbuf_push(out, v->bos)) goto nomem;
    for (size_t i = 0; i < n_frags && st == SLM_OK; i++) {
        const slm_fragment *f = &frags[i];
        if (f->token >= 0) {
            if (!slm_tokbuf_push(out, f->token)) goto nomem;
        } else {
            st = slm_hf_tokenize(v, scratch, text + f->off, f->len, f->off == 0, out);
        }
    }
    if (st == SLM_OK && add_special && v->add_eos && !slm_tokbuf_push(out, v->eos)) goto nomem;
    goto done;
nomem:
    st = slm_err(SLM_ERR_NOMEM, "%s: out of memory", __func__);
done:
    free(frags);
    free(clean);
    slm_hf_scratch_free(scratch);
    return st;
}

static slm_status tokenize(const slm_vocab *v, const char *text, size_t len, bool add_special,
                           bool parse_special, slm_tokbuf *out) {
    if (v->hf) return tokenize_hf(v, text, len, add_special, parse_special, out);
    slm_fragment *frags;
    size_t n_frags;
    slm_status st = slm_special_partition(v, text, len, parse_special, &frags, &n_frags);
    if (st != SLM_OK) return st;
    slm_bpe_scratch *scratch = NULL;
    if (v->type == SLM_VOCAB_BPE && !(scratch = slm_bpe_scratch_new(len))) {
        free(frags);
        return slm_err(SLM_ERR_NOMEM, "%s: out of memory", __func__);
    }
    if (add_special && v->add_bos && !slm_tokbuf_push(out, v->bos)) goto nomem;
    bool prev_special = true; /* SPM: a space is prefixed at the start and after special tokens */
    for (size_t i = 0; i < n_frags && st == SLM_OK; i++) {
        const slm_fragment *f = &frags[i];
        if (f->token >= 0) {
            if (!slm_tokbuf_push(out, f->token)) goto nomem;
            prev_special = true;
        } else if (v->type == SLM_VOCAB_SPM) {
            st = slm_spm_tokenize(v, text + f->off, f->len, v->add_space_prefix && prev_special, out);
            prev_special = false;
        } else {
            st = slm_bpe_tokenize(v, scratch, text + f->off, f->len, out);
        }
    }
    if (st == SLM_OK && add_special && v->add_eos && !slm_tokbuf_push(out, v->eos)) goto nomem;
    free(frags);
    slm_bpe_scratch_free(scratch);
    return st;
nomem:
    free(frags);
    slm_bpe_scratch_free(scratch);
    return slm_err(SLM_ERR_NOMEM, "%s: out of memory", __func__);
}

int64_t slm_vocab_tokenize(const slm_vocab *v, const char *text, size_t len, bool add_special,
                           bool parse_special, slm_token *out, int64_t cap) {
    if (!v) return slm_err(SLM_ERR_ARG, "%s: vocab is NULL", __func__), -1;
    if (!text && len > 0) return slm_err(SLM_ERR_ARG, "%s: text is NULL", __func__), -1;
    if (cap < 0 || (!out && cap > 0))
        return slm_err(SLM_ERR_ARG, "%s: bad output buffer (cap %lld)", __func__, (long long)cap), -1;
    slm_tokbuf buf = {0};
    slm_status st = tokenize(v, text, len, add_special, parse_special, &buf);
    if (st != SLM_OK) {
        free(buf.ids);
        return -1;
    }
    size_t n = buf.n < (size_t)cap ? buf.n : (size_t)cap;
    if (n) memcpy(out, buf.ids, n * sizeof *out);
    int64_t total = (int64_t)buf.n;
    free(buf.ids);
    return total;
}
