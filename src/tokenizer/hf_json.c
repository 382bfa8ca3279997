/*
 * hf_json.c — loading a Hugging Face tokenizer.json (and tokenizer_config.json)
 * into an slm_vocab (see hf.h for how the result is used).
 *
 * Fields read from tokenizer.json:
 *   model            type "BPE" (or no type, with merges): vocab {text: id},
 *                    merges ["a b", ...] or [["a", "b"], ...] (rank = index; a
 *                    repeated pair keeps its last rank, as transformers.js and
 *                    the Rust crate), unk_token, byte_fallback, fuse_unk,
 *                    ignore_merges; continuing_subword_prefix and
 *                    end_of_word_suffix only if empty; dropout is ignored
 *   added_tokens     [{id, content, special, lstrip, rstrip, ...}]: special ones
 *                    become control tokens (split out with parse_special), the
 *                    others user-defined (always split out); normalized and
 *                    single_word are not read (the text is matched as written)
 *   normalizer       Sequence, Prepend, Replace, NFC, NFD, NFKC, NFKD,
 *                    Lowercase, Strip, StripAccents
 *   pre_tokenizer    Sequence, Split, ByteLevel, Metaspace, Digits,
 *                    Whitespace, WhitespaceSplit
 *   post_processor   TemplateProcessing, RobertaProcessing, BertProcessing,
 *                    ByteLevel, Sequence: the special tokens put before and
 *                    after a single text (at most one each) become BOS / EOS
 *                    with add_bos / add_eos
 *   decoder          ByteLevel, Replace (string), ByteFallback, Fuse, Strip,
 *                    Metaspace, Sequence: they make each token's piece
 * and from tokenizer_config.json: bos_token, eos_token, pad_token (strings or
 * {"content": ...}), add_bos_token / add_eos_token (used when the
 * post-processor adds nothing), chat_template (kept, see
 * slm_vocab_chat_template). Any other type fails with SLM_ERR_UNSUPPORTED
 * naming the field.
 *
 * Ids: the vocabulary has max(id) + 1 tokens; an id no entry names is an
 * unused token with an empty piece. An added token with the id of a vocab
 * entry replaces its text; if its text is also another id's, the added token
 * wins the lookup.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "base/error.h"
#include "base/json.h"
#include "tokenizer/hf.h"
#include "tokenizer/utf8.h"

#define MAX_ID (1 << 28)
#define MAX_DECODERS 16

typedef struct {
    const char *name; /* for messages */
    slm_vocab *v;
    struct slm_hf *hf;
    uint8_t *added; /* (n_tokens) 1 for added tokens */
} loader;

/* For messages: at most 60 bytes of s, control bytes escaped. */
static const char *show(const char *s, size_t n, char buf[256]) {
    size_t k = 0;
    for (size_t i = 0; s && i < n && i < 60 && k < 240; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) k += (size_t)snprintf(buf + k, 256 - k, "\\x%02x", c);
        else buf[k++] = (char)c;
    }
    if (n > 60 && k < 250) {
        memcpy(buf + k, "...", 3);
        k += 3;
    }
    buf[k] = 0;
    return buf;
}

static slm_status bad(const loader *ld, const char *field, const char *what) {
    return slm_err(SLM_ERR_FORMAT, "%s: %s: %s", ld->name, field, what);
}

static slm_status nomem(void) { return slm_err(SLM_ERR_NOMEM, "tokenizer.json: out of memory"); }

/* "type" of a component, or an error naming the field. */
static slm_status get_type(const loader *ld, const slm_json_node *n, const char *field, const char **type) {
    if (!slm_json_is(n, SLM_JSON_OBJECT)) return bad(ld, field, "expected an object");
    *type = slm_json_get_str(n, "type", NULL);
    if (!*type) return bad(ld, field, "missing \"type\"");
    return SLM_OK;
}

static slm_status unsupported(const loader *ld, const char *field, const char *type, const char *known) {
    return slm_err(SLM_ERR_UNSUPPORTED, "%s: %s.type = '%s' is not supported (slm reads %s)", ld->name, field, type,
                   known);
}

static char *dup_mem(const char *s, size_t n) {
    char *p = malloc(n + 1);
    if (!p) return NULL;
    if (n) memcpy(p, s, n);
    p[n] = 0;
    return p;
}

/* A {"String": s} or {"Regex": r} pattern. */
static slm_status get_pattern(const loader *ld, const slm_json_node *n, const char *field, char **lit,
                              size_t *lit_len, hf_regex **re) {
    const slm_json_node *p = slm_json_get(n, "pattern");
    size_t len;
    const char *s;
    *lit = NULL;
    *re = NULL;
    if ((s = slm_json_get_str(p, "String", &len))) {
        if (!(*lit = dup_mem(s, len))) return nomem();
        *lit_len = len;
        return SLM_OK;
    }
    if ((s = slm_json_get_str(p, "Regex", &len))) {
        char what[300];
        snprintf(what, sizeof what, "%s: %s.pattern", ld->name, field);
        *re = slm_hf_regex_new(s, len, false, what);
        return *re ? SLM_OK : SLM_ERR_UNSUPPORTED;
    }
    return bad(ld, field, "pattern must be {\"String\": ...} or {\"Regex\": ...}");
}

/* ------------------------------------------------------------------------ */
/* Normalizers and pre-tokenizers                                            */
/* ------------------------------------------------------------------------ */

static slm_status add_norm(loader *ld, const slm_json_node *n, const char *field, int depth) {
    if (slm_json_is(n, SLM_JSON_NULL) || !n) return SLM_OK;
    if (depth > 8) return bad(ld, field, "nested too deeply");
    const char *type;
    slm_status st = get_type(ld, n, field, &type);
    if (st != SLM_OK) return st;
    if (!strcmp(type, "Sequence")) {
        const slm_json_node *list = slm_json_get(n, "normalizers");
        if (!slm_json_is(list, SLM_JSON_ARRAY)) return bad(ld, field, "Sequence without a \"normalizers\" array");
        uint32_t i = 0;
        for (const slm_json_node *c = slm_json_child(list); c; c = slm_json_next(c), i++) {
            char sub[256];
            snprintf(sub, sizeof sub, "%s.normalizers[%u]", field, i);
            if ((st = add_norm(ld, c, sub, depth + 1)) != SLM_OK) return st;
        }
        return SLM_OK;
    }
    struct slm_hf *hf = ld->hf;
    hf_norm *list = realloc(hf->norms, (size_t)(hf->n_norms + 1) * sizeof *list);
    if (!list) return nomem();
    hf->norms = list;
    hf_norm *nm = &list[hf->n_norms++];
    memset(nm, 0, sizeof *nm);
    size_t len;
    const char *s;
    if (!strcmp(type, "Prepend")) {
        nm->kind = HF_NORM_PREPEND;
        if (!(s = slm_json_get_str(n, "prepend", &len))) return bad(ld, field, "Prepend without \"prepend\"");
        if (!(nm->content = dup_mem(s, len))) return nomem();
        nm->content_len = len;
    } else if (!strcmp(type, "Replace")) {
        nm->kind = HF_NORM_REPLACE;
        if ((st = get_pattern(ld, n, field, &nm->pattern, &nm->pattern_len, &nm->re)) != SLM_OK) return st;
        if (!(s = slm_json_get_str(n, "content", &len))) return bad(ld, field, "Replace without \"content\"");
        if (!(nm->content = dup_mem(s, len))) return nomem();
        nm->content_len = len;
    } else if (!strcmp(type, "NFC")) {
        nm->kind = HF_NORM_NFC;
    } else if (!strcmp(type, "NFD")) {
        nm->kind = HF_NORM_NFD;
    } else if (!strcmp(type, "NFKC")) {
        nm->kind = HF_NORM_NFKC;
    } else if (!strcmp(type, "NFKD")) {
        nm->kind = HF_NORM_NFKD;
    } else if (!strcmp(type, "Lowercase")) {
        nm->kind = HF_NORM_LOWERCASE;
    } else if (!strcmp(type, "Strip")) {
        nm->kind = HF_NORM_STRIP;
        nm->left = slm_json_get_bool(n, "strip_left", true);
        nm->right = slm_json_get_bool(n, "strip_right", true);
    } else if (!strcmp(type, "StripAccents")) {
        nm->kind = HF_NORM_STRIP_ACCENTS;
    } else {
        hf->n_norms--;
        return unsupported(ld, field, type,
                           "Sequence, Prepend, Replace, NFC, NFD, NFKC, NFKD, Lowercase, Strip, StripAccents");
    }
    return SLM_OK;
}

static slm_status parse_behavior(const loader *ld, const slm_json_node *n, const char *field,
                                 enum hf_split_behavior *out) {
    const char *b = slm_json_get_str(n, "behavior", NULL);
    static const struct {
        const char *name;
        enum hf_split_behavior b;
    } names[] = {{"isolated", HF_SPLIT_ISOLATED},
                 {"removed", HF_SPLIT_REMOVED},
                 {"mergedwithprevious", HF_SPLIT_MERGED_WITH_PREVIOUS},
                 {"mergedwithnext", HF_SPLIT_MERGED_WITH_NEXT},
                 {"contiguous", HF_SPLIT_CONTIGUOUS}};
    if (!b) return bad(ld, field, "Split without \"behavior\"");
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcasecmp(b, names[i].name)) {
            *out = names[i].b;
            return SLM_OK;
        }
    char msg[256];
    snprintf(msg, sizeof msg, "unknown behavior '%.60s'", b);
    return bad(ld, field, msg);
}

static slm_status parse_prepend(const loader *ld, const slm_json_node *n, const char *field, enum hf_prepend *out) {
    const char *p = slm_json_get_str(n, "prepend_scheme", NULL);
    if (!p) {
        *out = slm_json_get_bool(n, "add_prefix_space", true) ? HF_PREPEND_ALWAYS : HF_PREPEND_NEVER;
        return SLM_OK;
    }
    if (!strcasecmp(p, "always")) *out = HF_PREPEND_ALWAYS;
    else if (!strcasecmp(p, "first")) *out = HF_PREPEND_FIRST;
    else if (!strcasecmp(p, "never")) *out = HF_PREPEND_NEVER;
    else return bad(ld, field, "prepend_scheme must be always, first or never");
    return SLM_OK;
}

/* GPT-2's regex, as transformers.js writes it for ByteLevel(use_regex). */
static const char k_gpt2_re[] = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

static slm_status add_pre(loader *ld, const slm_json_node *n, const char *field, int depth) {
    if (slm_json_is(n, SLM_JSON_NULL) || !n) return SLM_OK;
    if (depth > 8) return bad(ld, field, "nested too deeply");
    const char *type;
    slm_status st = get_type(ld, n, field, &type);
    if (st != SLM_OK) return st;
    if (!strcmp(type, "Sequence")) {
        const slm_json_node *list = slm_json_get(n, "pretokenizers");
        if (!slm_json_is(list, SLM_JSON_ARRAY)) return bad(ld, field, "Sequence without a \"pretokenizers\" array");
        uint32_t i = 0;
        for (const slm_json_node *c = slm_json_child(list); c; c = slm_json_next(c), i++) {
            char sub[256];
            snprintf(sub, sizeof sub, "%s.pretokenizers[%u]", field, i);
            if ((st = add_pre(ld, c, sub, depth + 1)) != SLM_OK) return st;
        }
        return SLM_OK;
    }
    struct slm_hf *hf = ld->hf;
    hf_pre *list = realloc(hf->pres, (size_t)(hf->n_pres + 1) * sizeof *list);
    if (!list) return nomem();
    hf->pres = list;
    hf_pre *pr = &list[hf->n_pres++];
    memset(pr, 0, sizeof *pr);
    char what[300];
    snprintf(what, sizeof what, "%s: %s", ld->name, field);
    if (!strcmp(type, "Split")) {
        pr->kind = HF_PRE_SPLIT;
        if ((st = get_pattern(ld, n, field, &pr->literal, &pr->literal_len, &pr->re)) != SLM_OK) return st;
        if ((st = parse_behavior(ld, n, field, &pr->behavior)) != SLM_OK) return st;
        pr->invert = slm_json_get_bool(n, "invert", false);
    } else if (!strcmp(type, "ByteLevel")) {
        pr->kind = HF_PRE_BYTELEVEL;
        pr->add_prefix_space = slm_json_get_bool(n, "add_prefix_space", false);
        if (slm_json_get_bool(n, "use_regex", true) &&
            !(pr->re = slm_hf_regex_new(k_gpt2_re, sizeof k_gpt2_re - 1, false, what)))
            return SLM_ERR_UNSUPPORTED;
    } else if (!strcmp(type, "Metaspace")) {
        pr->kind = HF_PRE_METASPACE;
        size_t len = 3;
        const char *r = slm_json_get_str(n, "replacement", &len);
        if (!r) r = "\xe2\x96\x81";
        if (len == 0 || len > 4 || ((unsigned char)r[0] == ' ')) return bad(ld, field, "replacement must be one character");
        size_t i = 0;
        (void)slm_utf8_decode_lenient((const uint8_t *)r, len, &i);
        if (i != len) return bad(ld, field, "replacement must be one character");
        memcpy(pr->replacement, r, len);
        pr->replacement_len = len;
        if ((st = parse_prepend(ld, n, field, &pr->prepend)) != SLM_OK) return st;
        pr->split = slm_json_get_bool(n, "split", true);
    } else if (!strcmp(type, "Digits")) {
        pr->kind = HF_PRE_DIGITS;
        pr->individual_digits = slm_json_get_bool(n, "individual_digits", false);
    } else if (!strcmp(type, "Whitespace")) {
        pr->kind = HF_PRE_SPLIT;
        pr->behavior = HF_SPLIT_REMOVED;
        pr->invert = true;
        static const char re[] = "\\w+|[^\\w\\s]+";
        if (!(pr->re = slm_hf_regex_new(re, sizeof re - 1, true, what))) return SLM_ERR_UNSUPPORTED;
    } else if (!strcmp(type, "WhitespaceSplit")) {
        pr->kind = HF_PRE_SPLIT;
        pr->behavior = HF_SPLIT_REMOVED;
        static const char re[] = "\\s+";
        if (!(pr->re = slm_hf_regex_new(re, sizeof re - 1, true, what))) return SLM_ERR_UNSUPPORTED;
    } else {
        hf->n_pres--;
        return unsupported(ld, field, type, "Sequence, Split, ByteLevel, Metaspace, Digits, Whitespace, WhitespaceSplit");
    }
    return SLM_OK;
}

/* ------------------------------------------------------------------------ */
/* Tokens                                                                    */
/* ------------------------------------------------------------------------ */

typedef struct {
    const char *s;
    uint32_t len;
    bool set;
} id_text;

static slm_status get_id(const loader *ld, const slm_json_node *n, const char *field, int32_t *id) {
    int64_t x;
    if (!slm_json_int(n, 0, MAX_ID - 1, &x)) {
        char msg[128];
        snprintf(msg, sizeof msg, "id must be an integer in [0, %d)", MAX_ID);
        return bad(ld, field, msg);
    }
    *id = (int32_t)x;
    return SLM_OK;
}

static slm_status load_tokens(loader *ld, const slm_json_node *model, const slm_json_node *added) {
    slm_vocab *v = ld->v;
    const slm_json_node *vocab = slm_json_get(model, "vocab");
    if (!slm_json_is(vocab, SLM_JSON_OBJECT)) return bad(ld, "model.vocab", "missing or not an object");
    if (added && !slm_json_is(added, SLM_JSON_ARRAY) && !slm_json_is(added, SLM_JSON_NULL))
        return bad(ld, "added_tokens", "expected an array");
    slm_status st;
    int32_t n = 0;
    for (const slm_json_node *c = slm_json_child(vocab); c; c = slm_json_next(c)) {
        int32_t id;
        if ((st = get_id(ld, c, "model.vocab", &id)) != SLM_OK) return st;
        if (id + 1 > n) n = id + 1;
    }
    uint32_t k = 0;
    for (const slm_json_node *c = slm_json_child(added); c; c = slm_json_next(c), k++) {
        char field[64];
        snprintf(field, sizeof field, "added_tokens[%u]", k);
        int32_t id;
        if (!slm_json_is(c, SLM_JSON_OBJECT) || !slm_json_get_str(c, "content", NULL))
            return bad(ld, field, "expected an object with \"id\" and \"content\"");
        if ((st = get_id(ld, slm_json_get(c, "id"), field, &id)) != SLM_OK) return st;
        if (id + 1 > n) n = id + 1;
    }
    if (n == 0) return bad(ld, "model.vocab", "no tokens");

    id_text *texts = calloc((size_t)n, sizeof *texts);
    ld->added = calloc((size_t)n, 1);
    v->attr = calloc((size_t)n, sizeof *v->attr);
    if (!texts || !ld->added || !v->attr) {
        free(texts);
        return nomem();
    }
    v->n_tokens = n;
    char b1[256], b2[256];
    for (const slm_json_node *c = slm_json_child(vocab); c; c = slm_json_next(c)) {
        int32_t id = (int32_t)c->v.num;
        if (texts[id].set) {
            st = slm_err(SLM_ERR_FORMAT, "%s: model.vocab: id %d is given to '%s' and '%s'", ld->name, id,
                         show(texts[id].s, texts[id].len, b1), show(c->key, c->key_len, b2));
            free(texts);
            return st;
        }
        texts[id] = (id_text){c->key, c->key_len, true};
        v->attr[id] = SLM_TOK_NORMAL;
    }
    for (const slm_json_node *c = slm_json_child(added); c; c = slm_json_next(c)) {
        int32_t id = (int32_t)slm_json_get(c, "id")->v.num;
        size_t len;
        const char *s = slm_json_get_str(c, "content", &len);
        texts[id] = (id_text){s, (uint32_t)len, true};
        ld->added[id] = 1;
        uint32_t a = slm_json_get_bool(c, "special", false) ? SLM_TOK_CONTROL : SLM_TOK_USER_DEFINED;
        if (slm_json_get_bool(c, "lstrip", false)) a |= SLM_TOK_LSTRIP;
        if (slm_json_get_bool(c, "rstrip", false)) a |= SLM_TOK_RSTRIP;
        v->attr[id] = a;
    }

    uint64_t total = 0;
    for (int32_t i = 0; i < n; i++) total += (uint64_t)texts[i].len + 1;
    if (total > UINT32_MAX) {
        free(texts);
        return bad(ld, "model.vocab", "token texts too large");
    }
    v->text_buf = malloc(total);
    v->text_off = malloc((size_t)n * sizeof *v->text_off);
    v->text_len = malloc((size_t)n * sizeof *v->text_len);
    v->scores = calloc((size_t)n, sizeof *v->scores);
    if (!v->text_buf || !v->text_off || !v->text_len || !v->scores ||
        !slm_strmap_init(&v->text_to_id, (size_t)n, v->text_buf, v->text_off, v->text_len)) {
        free(texts);
        return nomem();
    }
    uint32_t off = 0;
    for (int32_t i = 0; i < n; i++) {
        if (texts[i].len) memcpy(v->text_buf + off, texts[i].s, texts[i].len);
        v->text_buf[off + texts[i].len] = 0;
        v->text_off[i] = off;
        v->text_len[i] = texts[i].len;
        off += texts[i].len + 1;
        if (!texts[i].set) v->attr[i] = SLM_TOK_UNUSED;
    }
    /* added tokens first: their text wins a lookup */
    for (int pass = 0; pass < 2; pass++) {
        for (int32_t i = 0; i < n; i++) {
            if (!texts[i].set || ld->added[i] != (pass == 0)) continue;
            int32_t prev = slm_strmap_insert(&v->text_to_id, i);
            if (prev >= 0 && !ld->added[prev]) {
                st = slm_err(SLM_ERR_FORMAT, "%s: model.vocab: '%s' has ids %d and %d", ld->name,
                             show(texts[i].s, texts[i].len, b1), prev, i);
                free(texts);
                return st;
            }
        }
    }
    free(texts);
    return SLM_OK;
}

/* Splits a merge "a b" at its first space (the second part ends at the next
 * space, as transformers.js reads it). */
static slm_status load_merges(loader *ld, const slm_json_node *model) {
    slm_vocab *v = ld->v;
    const slm_json_node *merges = slm_json_get(model, "merges");
    if (!merges || slm_json_is(merges, SLM_JSON_NULL)) merges = NULL;
    else if (!slm_json_is(merges, SLM_JSON_ARRAY)) return bad(ld, "model.merges", "expected an array");
    uint32_t n = slm_json_count(merges);
    if (!slm_pairmap_init(&v->merges, n ? n : 1)) return nomem();
    if (!n) return SLM_OK;
    const slm_json_node **items = malloc(n * sizeof *items);
    char *cat = NULL;
    size_t cap = 0;
    if (!items) return nomem();
    uint32_t i = 0;
    for (const slm_json_node *c = slm_json_child(merges); c; c = slm_json_next(c)) items[i++] = c;
    slm_status st = SLM_OK;
    char field[64], b1[256], b2[256], b3[256];
    /* last to first: the first insert of a pair wins, so a repeated pair keeps its last rank */
    for (uint32_t r = n; r-- > 0 && st == SLM_OK;) {
        const slm_json_node *c = items[r];
        snprintf(field, sizeof field, "model.merges[%u]", r);
        const char *a, *b;
        size_t na = 0, nb = 0;
        if (slm_json_is(c, SLM_JSON_STRING)) {
            size_t len;
            const char *s = slm_json_str(c, &len);
            const char *sp = memchr(s, ' ', len);
            if (!sp) {
                st = bad(ld, field, "no space between the two tokens");
                break;
            }
            a = s;
            na = (size_t)(sp - s);
            b = sp + 1;
            const char *sp2 = memchr(b, ' ', len - na - 1);
            nb = sp2 ? (size_t)(sp2 - b) : len - na - 1;
        } else if (slm_json_count(c) == 2 && slm_json_is(slm_json_at(c, 0), SLM_JSON_STRING) &&
                   slm_json_is(slm_json_at(c, 1), SLM_JSON_STRING) && slm_json_is(c, SLM_JSON_ARRAY)) {
            a = slm_json_str(slm_json_at(c, 0), &na);
            b = slm_json_str(slm_json_at(c, 1), &nb);
        } else {
            st = bad(ld, field, "expected \"a b\" or [\"a\", \"b\"]");
            break;
        }
        int32_t l = slm_strmap_find(&v->text_to_id, a, na), rt = slm_strmap_find(&v->text_to_id, b, nb);
        if (na + nb > cap) {
            cap = 2 * (na + nb);
            char *t = realloc(cat, cap);
            if (!t) {
                st = nomem();
                break;
            }
            cat = t;
        }
        if (na) memcpy(cat, a, na);
        if (nb) memcpy(cat + na, b, nb);
        int32_t res = slm_strmap_find(&v->text_to_id, cat, na + nb);
        if (l < 0 || rt < 0 || res < 0) {
            const char *miss = l < 0 ? a : rt < 0 ? b : cat;
            size_t nm = l < 0 ? na : rt < 0 ? nb : na + nb;
            st = slm_err(SLM_ERR_FORMAT, "%s: %s: '%s' is not a token (merge '%s' + '%s')", ld->name, field,
                         show(miss, nm, b1), show(a, na, b2), show(b, nb, b3));
            break;
        }
        slm_pairmap_insert(&v->merges, l, rt, (int32_t)r, res);
    }
    free(items);
    free(cat);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Post-processor: what add_special adds                                     */
/* ------------------------------------------------------------------------ */

typedef struct {
    slm_token pre[4], post[4];
    int n_pre, n_post;
} template_ids;

static slm_status add_tmpl(const loader *ld, slm_token *list, int *n, slm_token id, const char *field) {
    if (*n >= 4) return bad(ld, field, "too many special tokens");
    list[(*n)++] = id;
    return SLM_OK;
}

static slm_status parse_post(const loader *ld, const slm_json_node *n, const char *field, template_ids *t, int depth) {
    if (!n || slm_json_is(n, SLM_JSON_NULL)) return SLM_OK;
    if (depth > 8) return bad(ld, field, "nested too deeply");
    const char *type;
    slm_status st = get_type(ld, n, field, &type);
    if (st != SLM_OK) return st;
    const slm_vocab *v = ld->v;
    char b1[256];
    if (!strcmp(type, "ByteLevel")) return SLM_OK;
    if (!strcmp(type, "Sequence")) {
        const slm_json_node *list = slm_json_get(n, "processors");
        if (!slm_json_is(list, SLM_JSON_ARRAY)) return bad(ld, field, "Sequence without a \"processors\" array");
        uint32_t i = 0;
        for (const slm_json_node *c = slm_json_child(list); c; c = slm_json_next(c), i++) {
            char sub[256];
            snprintf(sub, sizeof sub, "%s.processors[%u]", field, i);
            if ((st = parse_post(ld, c, sub, t, depth + 1)) != SLM_OK) return st;
        }
        return SLM_OK;
    }
    if (!strcmp(type, "RobertaProcessing") || !strcmp(type, "BertProcessing")) {
        const char *keys[2] = {"cls", "sep"};
        for (int k = 0; k < 2; k++) {
            const slm_json_node *pair = slm_json_get(n, keys[k]);
            int32_t id;
            if (slm_json_count(pair) != 2 || get_id(ld, slm_json_at(pair, 1), field, &id) != SLM_OK || id >= v->n_tokens)
                return bad(ld, field, k ? "\"sep\" must be [token, id] with a valid id" : "\"cls\" must be [token, id] with a valid id");
            if ((st = add_tmpl(ld, k ? t->post : t->pre, k ? &t->n_post : &t->n_pre, id, field)) != SLM_OK) return st;
        }
        return SLM_OK;
    }
    if (strcmp(type, "TemplateProcessing") != 0)
        return unsupported(ld, field, type, "TemplateProcessing, RobertaProcessing, BertProcessing, ByteLevel, Sequence");
    const slm_json_node *single = slm_json_get(n, "single");
    const slm_json_node *specials = slm_json_get(n, "special_tokens");
    if (!slm_json_is(single, SLM_JSON_ARRAY)) return bad(ld, field, "TemplateProcessing without a \"single\" array");
    bool seen_a = false;
    for (const slm_json_node *item = slm_json_child(single); item; item = slm_json_next(item)) {
        const slm_json_node *sp = slm_json_get(item, "SpecialToken");
        if (!sp) {
            if (slm_json_get(item, "Sequence")) seen_a = true;
            continue;
        }
        size_t len;
        const char *name = slm_json_get_str(sp, "id", &len);
        if (!name) return bad(ld, field, "SpecialToken without an \"id\"");
        const slm_json_node *ids = slm_json_get(slm_json_get(specials, name), "ids");
        if (slm_json_is(ids, SLM_JSON_ARRAY)) {
            for (const slm_json_node *c = slm_json_child(ids); c; c = slm_json_next(c)) {
                int32_t id;
                if (get_id(ld, c, field, &id) != SLM_OK || id >= v->n_tokens)
                    return bad(ld, field, "special_tokens: an id out of range");
                if ((st = add_tmpl(ld, seen_a ? t->post : t->pre, seen_a ? &t->n_post : &t->n_pre, id, field)) != SLM_OK)
                    return st;
            }
        } else {
            int32_t id = slm_strmap_find(&v->text_to_id, name, len);
            if (id < 0) {
                char msg[320];
                snprintf(msg, sizeof msg, "special token '%s' is not a token", show(name, len, b1));
                return bad(ld, field, msg);
            }
            if ((st = add_tmpl(ld, seen_a ? t->post : t->pre, seen_a ? &t->n_post : &t->n_pre, id, field)) != SLM_OK)
                return st;
        }
    }
    return SLM_OK;
}

/* ------------------------------------------------------------------------ */
/* Decoder: token pieces                                                     */
/* ------------------------------------------------------------------------ */

enum dec_kind { DEC_BYTELEVEL, DEC_REPLACE, DEC_BYTEFALLBACK, DEC_FUSE, DEC_STRIP, DEC_METASPACE };

typedef struct {
    enum dec_kind kind;
    const char *pat, *content; /* REPLACE; METASPACE: pat = replacement; STRIP: content */
    size_t pat_len, content_len;
    int64_t start, stop;
    enum hf_prepend prepend;
} dec_step;

typedef struct {
    dec_step steps[MAX_DECODERS];
    int n;
} decoder;

static slm_status parse_decoder(const loader *ld, const slm_json_node *n, const char *field, decoder *d, int depth) {
    if (!n || slm_json_is(n, SLM_JSON_NULL)) return SLM_OK;
    if (depth > 8) return bad(ld, field, "nested too deeply");
    const char *type;
    slm_status st = get_type(ld, n, field, &type);
    if (st != SLM_OK) return st;
    if (!strcmp(type, "Sequence")) {
        const slm_json_node *list = slm_json_get(n, "decoders");
        if (!slm_json_is(list, SLM_JSON_ARRAY)) return bad(ld, field, "Sequence without a \"decoders\" array");
        uint32_t i = 0;
        for (const slm_json_node *c = slm_json_child(list); c; c = slm_json_next(c), i++) {
            char sub[256];
            snprintf(sub, sizeof sub, "%s.decoders[%u]", field, i);
            if ((st = parse_decoder(ld, c, sub, d, depth + 1)) != SLM_OK) return st;
        }
        return SLM_OK;
    }
    if (d->n >= MAX_DECODERS) return bad(ld, field, "too many decoders");
    dec_step *s = &d->steps[d->n];
    memset(s, 0, sizeof *s);
    if (!strcmp(type, "ByteLevel")) {
        s->kind = DEC_BYTELEVEL;
    } else if (!strcmp(type, "ByteFallback")) {
        s->kind = DEC_BYTEFALLBACK;
    } else if (!strcmp(type, "Fuse")) {
        s->kind = DEC_FUSE;
    } else if (!strcmp(type, "Replace")) {
        s->kind = DEC_REPLACE;
        s->pat = slm_json_get_str(slm_json_get(n, "pattern"), "String", &s->pat_len);
        s->content = slm_json_get_str(n, "content", &s->content_len);
        if (!s->pat || !s->content)
            return slm_err(SLM_ERR_UNSUPPORTED, "%s: %s: only Replace with a {\"String\": ...} pattern and a content is supported",
                           ld->name, field);
    } else if (!strcmp(type, "Strip")) {
        s->kind = DEC_STRIP;
        s->content = slm_json_get_str(n, "content", &s->content_len);
        if (!s->content || !slm_json_int(slm_json_get(n, "start"), 0, 1 << 20, &s->start) ||
            !slm_json_int(slm_json_get(n, "stop"), 0, 1 << 20, &s->stop))
            return bad(ld, field, "Strip needs \"content\", \"start\" and \"stop\"");
    } else if (!strcmp(type, "Metaspace")) {
        s->kind = DEC_METASPACE;
        s->pat = slm_json_get_str(n, "replacement", &s->pat_len);
        if (!s->pat) {
            s->pat = "\xe2\x96\x81";
            s->pat_len = 3;
        }
        if ((st = parse_prepend(ld, n, field, &s->prepend)) != SLM_OK) return st;
    } else {
        return unsupported(ld, field, type, "ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace, Sequence");
    }
    d->n++;
    return SLM_OK;
}

typedef struct {
    char *p;
    size_t n, cap;
} dbuf;

static bool buf_room(dbuf *b, size_t need) {
    if (need <= b->cap) return true;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) return false;
    b->p = p;
    b->cap = cap;
    return true;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* One decoder step on the piece in cur (result in tmp, then swapped). */
static bool apply_step(const dec_step *s, bool added, dbuf *cur, dbuf *tmp) {
    tmp->n = 0;
    switch (s->kind) {
    case DEC_BYTELEVEL:
        if (added) return true;
        if (!buf_room(tmp, cur->n)) return false;
        for (size_t j = 0; j < cur->n;) {
            size_t j0 = j;
            uint32_t c = slm_utf8_decode_lenient((const uint8_t *)cur->p, cur->n, &j);
            int b = slm_bpe_cpt_to_byte(c);
            if (b >= 0) {
                tmp->p[tmp->n++] = (char)b;
            } else {
                memcpy(tmp->p + tmp->n, cur->p + j0, j - j0);
                tmp->n += j - j0;
            }
        }
        break;
    case DEC_REPLACE:
    case DEC_METASPACE: {
        const char *pat = s->pat, *con = s->kind == DEC_REPLACE ? s->content : " ";
        size_t pl = s->pat_len, cl = s->kind == DEC_REPLACE ? s->content_len : 1;
        if (pl == 0) return true;
        for (size_t j = 0; j < cur->n;) {
            if (!buf_room(tmp, tmp->n + (cl > pl ? cl : pl) + 4)) return false;
            if (cur->n - j >= pl && memcmp(cur->p + j, pat, pl) == 0) {
                memcpy(tmp->p + tmp->n, con, cl);
                tmp->n += cl;
                j += pl;
            } else {
                tmp->p[tmp->n++] = cur->p[j++];
            }
        }
        break;
    }
    case DEC_BYTEFALLBACK:
        if (cur->n == 6 && memcmp(cur->p, "<0x", 3) == 0 && cur->p[5] == '>' && hexval(cur->p[3]) >= 0 &&
            hexval(cur->p[4]) >= 0) {
            cur->p[0] = (char)(hexval(cur->p[3]) * 16 + hexval(cur->p[4]));
            cur->n = 1;
        }
        return true;
    case DEC_STRIP: {
        size_t a = 0, b = cur->n, cl = s->content_len;
        for (int64_t k = 0; k < s->start && cl && b - a >= cl && memcmp(cur->p + a, s->content, cl) == 0; k++) a += cl;
        for (int64_t k = 0; k < s->stop && cl && b - a >= cl && memcmp(cur->p + b - cl, s->content, cl) == 0; k++) b -= cl;
        memmove(cur->p, cur->p + a, b - a);
        cur->n = b - a;
        return true;
    }
    case DEC_FUSE: return true;
    }
    dbuf t = *cur;
    *cur = *tmp;
    *tmp = t;
    return true;
}

static slm_status make_pieces(loader *ld, const decoder *d) {
    slm_vocab *v = ld->v;
    int n = v->n_tokens;
    /* steps after Fuse see the whole text: only a Strip of leading spaces is kept there */
    int n_token_steps = d->n;
    for (int i = 0; i < d->n; i++)
        if (d->steps[i].kind == DEC_FUSE) {
            n_token_steps = i;
            break;
        }
    for (int i = 0; i < d->n; i++) {
        const dec_step *s = &d->steps[i];
        if (s->kind == DEC_METASPACE && s->prepend != HF_PREPEND_NEVER) ld->hf->strip_lead = 1;
        if (s->kind == DEC_STRIP && i > n_token_steps && s->content_len == 1 && s->content[0] == ' ')
            ld->hf->strip_lead += (int)s->start;
    }
    dbuf all = {0}, cur = {0}, tmp = {0};
    v->piece_off = malloc(((size_t)n + 1) * sizeof *v->piece_off);
    if (!v->piece_off) return nomem();
    bool ok = true;
    for (int32_t i = 0; i < n && ok; i++) {
        v->piece_off[i] = (uint32_t)all.n;
        if (v->attr[i] & SLM_TOK_UNUSED) continue;
        cur.n = 0;
        ok = buf_room(&cur, v->text_len[i] + 1);
        if (!ok) break;
        memcpy(cur.p, v->text_buf + v->text_off[i], v->text_len[i]);
        cur.n = v->text_len[i];
        for (int k = 0; k < n_token_steps && ok; k++) ok = apply_step(&d->steps[k], ld->added[i], &cur, &tmp);
        ok = ok && all.n + cur.n < UINT32_MAX && buf_room(&all, all.n + cur.n + 1);
        if (ok && cur.n) memcpy(all.p + all.n, cur.p, cur.n);
        all.n += cur.n;
    }
    free(cur.p);
    free(tmp.p);
    if (!ok) {
        free(all.p);
        return nomem();
    }
    v->piece_off[n] = (uint32_t)all.n;
    v->piece_buf = all.p ? all.p : malloc(1);
    return v->piece_buf ? SLM_OK : nomem();
}

/* ------------------------------------------------------------------------ */
/* Loading                                                                   */
/* ------------------------------------------------------------------------ */

/* A token named in tokenizer_config.json: "text" or {"content": "text"}. */
static const char *config_token(const slm_json_node *cfg, const char *key, size_t *len) {
    const slm_json_node *n = slm_json_get(cfg, key);
    if (slm_json_is(n, SLM_JSON_OBJECT)) n = slm_json_get(n, "content");
    return slm_json_str(n, len);
}

static slm_token find_config_token(const slm_vocab *v, const slm_json_node *cfg, const char *key) {
    size_t len;
    const char *s = config_token(cfg, key, &len);
    return s ? slm_strmap_find(&v->text_to_id, s, len) : -1;
}

static slm_status load_config(loader *ld, const slm_json_node *cfg, const template_ids *t) {
    slm_vocab *v = ld->v;
    if (cfg && !slm_json_is(cfg, SLM_JSON_OBJECT))
        return slm_err(SLM_ERR_FORMAT, "%s: tokenizer_config.json: expected an object", ld->name);
    slm_token cfg_bos = find_config_token(v, cfg, "bos_token");
    slm_token cfg_eos = find_config_token(v, cfg, "eos_token");
    v->pad = find_config_token(v, cfg, "pad_token");
    v->bos = t->n_pre ? t->pre[0] : cfg_bos;
    v->eos = t->n_post ? t->post[0] : cfg_eos;
    v->add_bos = t->n_pre > 0;
    v->add_eos = t->n_post > 0;
    if (t->n_pre == 0 && t->n_post == 0) { /* no post-processor template: the config's flags */
        v->add_bos = slm_json_get_bool(cfg, "add_bos_token", false) && v->bos >= 0;
        v->add_eos = slm_json_get_bool(cfg, "add_eos_token", false) && v->eos >= 0;
    }
    if (cfg_eos >= 0) v->attr[cfg_eos] |= SLM_TOK_EOG;

    const slm_json_node *tmpl = slm_json_get(cfg, "chat_template");
    size_t len = 0;
    const char *s = slm_json_str(tmpl, &len);
    if (!s && slm_json_is(tmpl, SLM_JSON_ARRAY)) { /* [{name, template}]: "default", else the first */
        for (const slm_json_node *c = slm_json_child(tmpl); c; c = slm_json_next(c)) {
            const char *name = slm_json_get_str(c, "name", NULL);
            const char *body = slm_json_get_str(c, "template", &len);
            if (body && (!s || (name && !strcmp(name, "default")))) s = body;
            if (s && name && !strcmp(name, "default")) break;
        }
    }
    if (s) {
        size_t n = strlen(s); /* a template with a NUL inside is cut there */
        if (!(ld->hf->chat_template = dup_mem(s, n))) return nomem();
    }
    return SLM_OK;
}

static slm_status load_docs(loader *ld, const slm_json_node *root, const slm_json_node *cfg) {
    slm_vocab *v = ld->v;
    if (!slm_json_is(root, SLM_JSON_OBJECT)) return bad(ld, "(top level)", "expected an object");
    const slm_json_node *model = slm_json_get(root, "model");
    if (!slm_json_is(model, SLM_JSON_OBJECT)) return bad(ld, "model", "missing or not an object");
    const char *type = slm_json_get_str(model, "type", NULL);
    if (type ? strcmp(type, "BPE") != 0 : !slm_json_get(model, "merges"))
        return slm_err(SLM_ERR_UNSUPPORTED, "%s: model.type = '%s' is not supported (slm reads BPE)", ld->name,
                       type ? type : "(none)");
    const char *cs = slm_json_get_str(model, "continuing_subword_prefix", NULL);
    const char *ew = slm_json_get_str(model, "end_of_word_suffix", NULL);
    if ((cs && *cs) || (ew && *ew))
        return slm_err(SLM_ERR_UNSUPPORTED, "%s: model.%s is not supported", ld->name,
                       cs && *cs ? "continuing_subword_prefix" : "end_of_word_suffix");

    v->type = SLM_VOCAB_BPE;
    v->bpe_chars = true;
    v->special_leftmost = true;
    v->byte_fallback = slm_json_get_bool(model, "byte_fallback", false);
    v->fuse_unk = slm_json_get_bool(model, "fuse_unk", false);
    v->ignore_merges = slm_json_get_bool(model, "ignore_merges", false);
    v->bos = v->eos = v->eot = v->eom = v->unk = v->sep = v->pad = v->mask = -1;
    v->fim_pre = v->fim_suf = v->fim_mid = v->fim_pad = v->fim_rep = v->fim_sep = -1;

    slm_status st;
    if ((st = load_tokens(ld, model, slm_json_get(root, "added_tokens"))) != SLM_OK) return st;
    if ((st = load_merges(ld, model)) != SLM_OK) return st;
    size_t unk_len;
    const char *unk = slm_json_get_str(model, "unk_token", &unk_len);
    if (unk) {
        v->unk = slm_strmap_find(&v->text_to_id, unk, unk_len);
        if (v->unk >= 0 && (v->attr[v->unk] & SLM_TOK_CONTROL)) v->attr[v->unk] |= SLM_TOK_UNKNOWN;
    }
    for (int b = 0; b < 256; b++) {
        char hex[8];
        snprintf(hex, sizeof hex, "<0x%02X>", b);
        v->byte_token[b] = slm_strmap_find(&v->text_to_id, hex, 6);
        if (v->byte_fallback && v->byte_token[b] >= 0 && !ld->added[v->byte_token[b]])
            v->attr[v->byte_token[b]] = SLM_TOK_BYTE;
        v->byte_char_tok[b] = v->one_byte_tok[b] = -1;
    }
    if (!(v->char_tok = malloc(2048 * sizeof *v->char_tok))) return nomem();
    for (uint32_t c = 0; c < 2048; c++) {
        uint8_t u[4];
        size_t k = slm_utf8_encode(c, u);
        v->char_tok[c] = slm_strmap_find(&v->text_to_id, (const char *)u, k);
    }

    if ((st = add_norm(ld, slm_json_get(root, "normalizer"), "normalizer", 0)) != SLM_OK) return st;
    if ((st = add_pre(ld, slm_json_get(root, "pre_tokenizer"), "pre_tokenizer", 0)) != SLM_OK) return st;
    template_ids t = {{0}, {0}, 0, 0};
    if ((st = parse_post(ld, slm_json_get(root, "post_processor"), "post_processor", &t, 0)) != SLM_OK) return st;
    if (t.n_pre > 1 || t.n_post > 1)
        return slm_err(SLM_ERR_UNSUPPORTED, "%s: post_processor adds %d tokens before and %d after a text (slm adds at most one each)",
                       ld->name, t.n_pre, t.n_post);
    decoder d = {.n = 0};
    if ((st = parse_decoder(ld, slm_json_get(root, "decoder"), "decoder", &d, 0)) != SLM_OK) return st;
    if ((st = make_pieces(ld, &d)) != SLM_OK) return st;
    if ((st = load_config(ld, cfg, &t)) != SLM_OK) return st;

    slm_vocab_set_special_roles(v);
    return slm_special_build(v);
}

/* Loads from parsed documents (cfg may be NULL) and frees them. */
static slm_status load_parsed(slm_json *doc, slm_json *cfg, const char *name, slm_vocab **out) {
    loader ld = {name, calloc(1, sizeof(slm_vocab)), calloc(1, sizeof(struct slm_hf)), NULL};
    slm_status st;
    if (!ld.v || !ld.hf) {
        free(ld.v);
        free(ld.hf);
        st = nomem();
    } else {
        ld.v->hf = ld.hf;
        st = load_docs(&ld, slm_json_root(doc), slm_json_root(cfg));
        if (st != SLM_OK) slm_vocab_free(ld.v);
        else *out = ld.v;
    }
    free(ld.added);
    slm_json_free(doc);
    slm_json_free(cfg);
    return st;
}

slm_status slm_vocab_load_hf_text(const char *json, size_t len, const char *config_json, size_t config_len,
                                  const char *name, slm_vocab **out) {
    if (!out) return slm_err(SLM_ERR_ARG, "%s: out is NULL", __func__);
    *out = NULL;
    if (!name) name = "tokenizer.json";
    slm_json *doc = NULL, *cfg = NULL;
    slm_status st = slm_json_parse(json, len, name, &doc);
    if (st != SLM_OK) return st;
    if (config_json && (st = slm_json_parse(config_json, config_len, "tokenizer_config.json", &cfg)) != SLM_OK) {
        slm_json_free(doc);
        return st;
    }
    return load_parsed(doc, cfg, name, out);
}

static bool is_dir(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

bool slm_vocab_is_hf_path(const char *path) {
    if (!path) return false;
    size_t n = strlen(path);
    if (n >= 5 && strcmp(path + n - 5, ".json") == 0) return true;
    if (!is_dir(path)) return false;
    char buf[4096];
    snprintf(buf, sizeof buf, "%s/tokenizer.json", path);
    struct stat sb;
    return stat(buf, &sb) == 0;
}

slm_status slm_vocab_load_hf(const char *path, slm_vocab **out) {
    if (!out) return slm_err(SLM_ERR_ARG, "%s: out is NULL", __func__);
    *out = NULL;
    if (!path) return slm_err(SLM_ERR_ARG, "%s: path is NULL", __func__);
    char json_path[4096], cfg_path[4096];
    if (is_dir(path)) {
        snprintf(json_path, sizeof json_path, "%s/tokenizer.json", path);
        snprintf(cfg_path, sizeof cfg_path, "%s/tokenizer_config.json", path);
    } else {
        snprintf(json_path, sizeof json_path, "%s", path);
        const char *slash = strrchr(path, '/');
        if (slash) snprintf(cfg_path, sizeof cfg_path, "%.*s/tokenizer_config.json", (int)(slash - path), path);
        else snprintf(cfg_path, sizeof cfg_path, "tokenizer_config.json");
    }
    slm_json *doc = NULL, *cfg = NULL;
    slm_status st = slm_json_parse_file(json_path, &doc);
    if (st != SLM_OK) return st;
    struct stat sb;
    if (strcmp(cfg_path, json_path) != 0 && stat(cfg_path, &sb) == 0 &&
        (st = slm_json_parse_file(cfg_path, &cfg)) != SLM_OK) {
        slm_json_free(doc);
        return st;
    }
    return load_parsed(doc, cfg, path, out);
}

const char *slm_vocab_chat_template(const slm_vocab *v) {
    return v && v->hf ? v->hf->chat_template : NULL;
}
