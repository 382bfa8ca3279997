/*
 * pretok.c — regex pre-tokenizers of byte-level BPE vocabularies (see pretok.h):
 * the table of tokenizer.ggml.pre names and their regexes, and the splitter.
 */
#include "tokenizer/pretok.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "tokenizer/utf8.h"

/* ------------------------------------------------------------------------ */
/* The pre-tokenizers                                                        */
/* ------------------------------------------------------------------------ */

#define MAX_REGEX 6

typedef struct {
    const char *names; /* tokenizer.ggml.pre values, '|'-separated */
    const char *regex[MAX_REGEX];
    slm_pretok_flags flags;
} pretok_def;

/* GPT-2's regex (OpenAI encoder.py); the base of many others. */
#define RE_GPT2 "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"
/* Llama 3 (tiktoken cl100k style). */
#define RE_LLAMA3                                                                            \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+" \
    "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
/* Qwen2: as Llama 3 but single digits. */
#define RE_QWEN2                                                                          \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+" \
    "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
/* GPT-4o (o200k): case-aware words with contractions. */
#define RE_GPT4O                                                                                  \
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+"        \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+"       \
    "[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+" \
    "[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
/* BLOOM / GPT3-Finnish / Poro: everything up to whitespace or punctuation. */
#define RE_BLOOM " ?[^(\\s|.,!?…。，、।۔،)]+"
/* CJK runs, shared by the DeepSeek pre-tokenizers. */
#define RE_DEEPSEEK_CJK "[一-龥ࠀ-一가-퟿]+"
#define RE_DEEPSEEK3_MAIN                                                                      \
    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\\r\\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+" \
    "| ?[\\p{P}\\p{S}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

static const pretok_def k_pretoks[] = {
    /* llama.cpp's fallback for BPE vocabularies without a (known) pre-tokenizer */
    {"default",
     {"[\\p{P}\\$\\+<=>\\^~\\|]+", RE_GPT2, "\\p{N}+", "[0-9][0-9][0-9]"},
     {0}},
    {"llama3|llama-v3|llama-bpe|falcon3|falcon-h1|pixtral|midm-2.0|lfm2|jina-v5-nano",
     {RE_LLAMA3},
     {.ignore_merges = true, .add_bos = true}},
    {"dbrx|smaug-bpe", {RE_LLAMA3}, {0}},
    {"glm4|chatglm-bpe", {RE_LLAMA3}, {.no_bos = true}},
    {"deepseek-llm",
     {"[\r\n]",
      "\\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-\\x{1F7D}ᾀ-ᾴᾶ-ᾼ\\x{1FBE}ῂ-ῄῆ-ῌῐ-\\x{1FD3}ῖ-\\x{1FDB}ῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤ\\x{2126}ℨ\\x{212A}-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+",
      "\\s?[!-/:-~！-／：-～‘-‟　-。]+", "\\s+$", RE_DEEPSEEK_CJK, "\\p{N}+"},
     {0}},
    {"deepseek-coder", {"[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", RE_DEEPSEEK_CJK, "\\p{N}"}, {0}},
    {"deepseek-v3|hunyuan-dense|joyai-llm|hy_v4",
     {"\\p{N}{1,3}", "[一-龥぀-ゟ゠-ヿ]+", RE_DEEPSEEK3_MAIN},
     {0}},
    {"falcon", {"[\\p{P}\\$\\+<=>\\^~\\|`]+", RE_GPT2, "[0-9][0-9][0-9]"}, {0}},
    {"gpt-2|phi-2|jina-es|jina-de|gigachat|jina-v2-es|jina-v2-de|a.x-4.0|mellum|modern-bert|"
     "jina-v1-en|jina-v2-code|roberta-bpe|exaone4|mpt|olmo|jais|trillion|granite-docling",
     {RE_GPT2},
     {0}},
    {"starcoder|refact|command-r|smollm|codeshell|exaone|minerva-7b|mellum2", {"\\p{N}", RE_GPT2}, {0}},
    {"qwen2|deepseek-r1-qwen|kormo|f2llmv2|megrez|stablelm2|hunyuan|solar-open|grok-2",
     {RE_QWEN2},
     {0}},
    {"qwen35",
     {"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}| ?[^\\s\\p{L}\\p{M}"
      "\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
     {0}},
    {"poro-chat|bloom|gpt3-finnish", {RE_BLOOM}, {0}},
    {"viking", {RE_BLOOM, "\\p{N}"}, {0}},
    {"tekken",
     {"[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+|"
      "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*|"
      "\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
     {.ignore_merges = true, .add_bos = true}},
    {"gpt-4o|llama4|kanana2|talkie|minimax-m2", {RE_GPT4O}, {0}},
    {"tiny_aya|cohere2moe", {"\\d{1,3}(?=(?:\\d{3})*\\b)", RE_GPT4O}, {0}},
    {"chameleon",
     {"<sentinel:[0-9]+>", "(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z", "([\\t\\n]|    |  )", "\\p{N}",
      "[\\p{P}!-/:-@\\[-`{-~]", RE_GPT2},
     {.add_bos = true}},
    {"bailingmoe|bailingmoe2|llada-moe",
     {"'(?i:[sdmt]|ll|ve|re)|[^\\r\\n\\p{L}\\p{N}]?+\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]++[\\r\\n]*|"
      "\\s*[\\r\\n]|\\s+(?!\\S)|\\s+"},
     {0}},
    {"seed-coder",
     {"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1}| ?[^\\s\\p{L}\\p{N}\\r\\n]+"
      "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
     {0}},
    {"ufakzeka",
     {"[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
     {0}},
    {"laguna", {"[^\\n]+|[\\n]+", RE_QWEN2}, {0}},
    {"exaone-moe",
     {"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?(?:\\p{L}\\p{M}*(?: \\p{L}\\p{M}*)*)+|"
      "\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]?|\\s*[\\r\\n]|\\s+(?!\\S)|\\s+"},
     {0}},
    {"minicpm5",
     {"\\p{N}{1,3}",
      "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}+| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
      "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
     {.ignore_merges = true}},
    {"jais-2",
     {"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+"
      "[\\r\\n]*|\\s*[\\r\\n]+|\\s{512}(?!\\S)|\\s{256}(?!\\S)|\\s{128}(?!\\S)|\\s{64}(?!\\S)|"
      "\\s{32}(?!\\S)|\\s{16}(?!\\S)|\\s{8}(?!\\S)|\\s{4}(?!\\S)|\\s{1,2}(?!\\S)|\\s{1}"},
     {0}},
    {"superbpe", {"\\p{N}+", "(?=(\\d{3})+(?!\\d))"}, {0}},
};

#define N_PRETOKS (sizeof k_pretoks / sizeof k_pretoks[0])

struct slm_pretok {
    const pretok_def *def;
    char name[64];
    int n_regex;
    pcre2_code *code[MAX_REGEX];
};

static bool name_in_list(const char *list, const char *name) {
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *bar = strchr(p, '|');
        size_t k = bar ? (size_t)(bar - p) : strlen(p);
        if (k == n && memcmp(p, name, n) == 0) return true;
        if (!bar) break;
        p = bar + 1;
    }
    return false;
}

slm_status slm_pretok_new(const char *name, slm_pretok **out) {
    *out = NULL;
    if (!name || !*name) name = "default";
    const pretok_def *def = NULL;
    for (size_t i = 0; i < N_PRETOKS && !def; i++)
        if (name_in_list(k_pretoks[i].names, name)) def = &k_pretoks[i];
    if (!def)
        return slm_err(SLM_ERR_UNSUPPORTED, "tokenizer.ggml.pre: unknown pre-tokenizer '%s'", name);

    slm_pretok *p = calloc(1, sizeof *p);
    if (!p) return slm_err(SLM_ERR_NOMEM, "%s: out of memory", __func__);
    p->def = def;
    snprintf(p->name, sizeof p->name, "%s", name);
    for (int i = 0; i < MAX_REGEX && def->regex[i]; i++) {
        int errcode;
        PCRE2_SIZE erroff;
        /* $ only at the very end, as std::regex (ECMAScript) */
        uint32_t opts = PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY;
        p->code[i] = pcre2_compile((PCRE2_SPTR)def->regex[i], PCRE2_ZERO_TERMINATED, opts, &errcode,
                                   &erroff, NULL);
        if (!p->code[i]) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(errcode, msg, sizeof msg);
            slm_pretok_free(p);
            return slm_err(SLM_ERR_UNSUPPORTED, "tokenizer.ggml.pre '%s': regex %d: %s at %zu", name,
                           i, (const char *)msg, (size_t)erroff);
        }
        p->n_regex = i + 1;
        /* JIT is an optimisation only: without it PCRE2 interprets */
        (void)pcre2_jit_compile(p->code[i], PCRE2_JIT_COMPLETE);
    }
    *out = p;
    return SLM_OK;
}

void slm_pretok_free(slm_pretok *p) {
    if (!p) return;
    for (int i = 0; i < p->n_regex; i++) pcre2_code_free(p->code[i]);
    free(p);
}

slm_pretok_flags slm_pretok_get_flags(const slm_pretok *p) { return p->def->flags; }
const char *slm_pretok_name(const slm_pretok *p) { return p->name; }

/* ------------------------------------------------------------------------ */
/* Scratch memory                                                            */
/* ------------------------------------------------------------------------ */

struct slm_pretok_scratch {
    uint8_t *words;     /* re-encoded text (what BPE sees) */
    uint8_t *mt;        /* match text (what the regexes see) */
    uint32_t *words_off; /* (n_cpt + 1) byte offset of codepoint i in words */
    uint32_t *mt_off;    /* (n_cpt + 1) byte offset of codepoint i in mt */
    size_t cap_bytes;   /* capacity of words and mt */
    size_t cap_cpts;    /* capacity of words_off and mt_off */
    size_t *bounds[2];  /* segment boundaries (mt offsets), double-buffered */
    size_t cap_bounds[2];
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    pcre2_jit_stack *jit_stack; /* created only if the default one overflows */
};

slm_pretok_scratch *slm_pretok_scratch_new(void) {
    slm_pretok_scratch *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->md = pcre2_match_data_create(1, NULL);
    s->mctx = pcre2_match_context_create(NULL);
    if (!s->md || !s->mctx) {
        slm_pretok_scratch_free(s);
        return NULL;
    }
    return s;
}

void slm_pretok_scratch_free(slm_pretok_scratch *s) {
    if (!s) return;
    free(s->words);
    free(s->mt);
    free(s->words_off);
    free(s->mt_off);
    free(s->bounds[0]);
    free(s->bounds[1]);
    if (s->md) pcre2_match_data_free(s->md);
    if (s->mctx) pcre2_match_context_free(s->mctx);
    if (s->jit_stack) pcre2_jit_stack_free(s->jit_stack);
    free(s);
}

static bool grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return true;
    size_t n = *cap ? *cap : 64;
    while (n < need) n *= 2;
    void *q = realloc(*p, n * elem);
    if (!q) return false;
    *p = q;
    *cap = n;
    return true;
}

/* ------------------------------------------------------------------------ */
/* Splitting                                                                 */
/* ------------------------------------------------------------------------ */

/* Non-ASCII whitespace (Unicode White_Space, as llama.cpp's tables). */
static bool is_wide_space(uint32_t c) {
    return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
           c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

/* Decodes text into s->words (re-encoded) and s->mt (match text). */
static slm_status prepare(slm_pretok_scratch *s, const uint8_t *text, size_t len, size_t *n_cpt) {
    /* re-encoding never grows the text by more than 3x (1 bad byte -> U+FFFD) */
    if (len > (UINT32_MAX - 4) / 3) return slm_err(SLM_ERR_ARG, "%s: text too long", __func__);
    size_t cap = s->cap_bytes, cap2 = s->cap_bytes;
    if (!grow((void **)&s->words, &cap, 3 * len + 4, 1) ||
        !grow((void **)&s->mt, &cap2, 3 * len + 4, 1))
        return slm_err(SLM_ERR_NOMEM, "%s: out of memory", __func__);
    s->cap_bytes = cap < cap2 ? cap : cap2;
    size_t capc = s->cap_cpts, capc2 = s->cap_cpts;
    if (!grow((void **)&s->words_off, &capc, len + 1, sizeof(uint32_t)) ||
        !grow((void **)&s->mt_off, &capc2, len + 1, sizeof(uint32_t)))
        return slm_err(SLM_ERR_NOMEM, "%s: out of memory", __func__);
    s->cap_cpts = capc < capc2 ? capc : capc2;

    size_t i = 0, n = 0;
    uint32_t wb = 0, mb = 0;
    while (i < len) {
        uint32_t c = slm_utf8_decode_lenient(text, len, &i);
        if (c > 0x10FFFF) c = 0xFFFD;
        uint32_t m = c;
        if (c >= 0xD800 && c <= 0xDFFF) m = 0xE000; /* a surrogate: PCRE2 needs valid UTF-8 */
        else if (c > 0x7F && is_wide_space(c)) m = 0x0B;
        s->words_off[n] = wb;
        s->mt_off[n] = mb;
        n++;
        wb += (uint32_t)slm_utf8_encode(c, s->words + wb);
        mb += (uint32_t)slm_utf8_encode(m, s->mt + mb);
    }
    s->words_off[n] = wb;
    s->mt_off[n] = mb;
    *n_cpt = n;
    return SLM_OK;
}

static slm_status push_bound(slm_pretok_scratch *s, int k, size_t *n, size_t b) {
    if (*n > 0 && s->bounds[k][*n - 1] >= b) return SLM_OK; /* no empty pieces */
    if (!grow((void **)&s->bounds[k], &s->cap_bounds[k], *n + 1, sizeof(size_t)))
        return slm_err(SLM_ERR_NOMEM, "%s: out of memory", __func__);
    s->bounds[k][(*n)++] = b;
    return SLM_OK;
}

static int run_match(slm_pretok_scratch *s, const pcre2_code *code, const uint8_t *subj,
                     size_t len, size_t pos, uint32_t opts) {
    int rc = pcre2_match(code, subj, len, pos, opts | PCRE2_NO_UTF_CHECK, s->md, s->mctx);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT && !s->jit_stack) {
        s->jit_stack = pcre2_jit_stack_create(64 * 1024, 64 * 1024 * 1024, NULL);
        if (!s->jit_stack) return PCRE2_ERROR_NOMEMORY;
        pcre2_jit_stack_assign(s->mctx, NULL, s->jit_stack);
        rc = pcre2_match(code, subj, len, pos, opts | PCRE2_NO_UTF_CHECK, s->md, s->mctx);
    }
    return rc;
}

/* Splits every segment of bounds[src] by one regex into bounds[!src]. */
static slm_status split_one(slm_pretok_scratch *s, const pcre2_code *code, int src, size_t n_src,
                            size_t *n_dst) {
    int dst = !src;
    *n_dst = 0;
    slm_status st = push_bound(s, dst, n_dst, 0);
    for (size_t k = 0; k + 1 < n_src && st == SLM_OK; k++) {
        size_t a = s->bounds[src][k], b = s->bounds[src][k + 1];
        const uint8_t *subj = s->mt + a;
        size_t len = b - a, pos = 0;
        uint32_t opts = 0;
        while (pos <= len) {
            int rc = run_match(s, code, subj, len, pos, opts);
            if (rc == PCRE2_ERROR_NOMATCH) {
                if (opts == 0) break;
                /* an empty match could not be extended: move on one character */
                opts = 0;
                if (pos >= len) break;
                pos += slm_utf8_len(subj[pos]);
                continue;
            }
            if (rc < 0) {
                PCRE2_UCHAR msg[256];
                pcre2_get_error_message(rc, msg, sizeof msg);
                return slm_err(SLM_ERR_FORMAT, "pre-tokenizer: regex match failed: %s",
                               (const char *)msg);
            }
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(s->md);
            size_t ms = ov[0], me = ov[1];
            if ((st = push_bound(s, dst, n_dst, a + ms)) != SLM_OK) return st;
            if ((st = push_bound(s, dst, n_dst, a + me)) != SLM_OK) return st;
            pos = me;
            opts = ms == me ? PCRE2_NOTEMPTY_ATSTART | PCRE2_ANCHORED : 0;
        }
        st = push_bound(s, dst, n_dst, b);
    }
    return st;
}

slm_status slm_pretok_split(const slm_pretok *p, slm_pretok_scratch *s, const char *text,
                            size_t len, const uint8_t **words, const size_t **bounds,
                            size_t *n_words) {
    size_t n_cpt = 0;
    slm_status st = prepare(s, (const uint8_t *)text, len, &n_cpt);
    if (st != SLM_OK) return st;
    size_t mt_len = s->mt_off[n_cpt];

    int cur = 0;
    size_t n = 0;
    if ((st = push_bound(s, 0, &n, 0)) != SLM_OK) return st;
    if ((st = push_bound(s, 0, &n, mt_len)) != SLM_OK) return st;
    for (int r = 0; r < p->n_regex && n > 1; r++) {
        size_t n_new;
        if ((st = split_one(s, p->code[r], cur, n, &n_new)) != SLM_OK) return st;
        cur = !cur;
        n = n_new;
    }

    /* match-text offsets -> word-text offsets (both are codepoint boundaries) */
    size_t c = 0;
    for (size_t k = 0; k < n; k++) {
        size_t b = s->bounds[cur][k];
        while (s->mt_off[c] < b) c++;
        s->bounds[cur][k] = s->words_off[c];
    }
    *words = s->words;
    *bounds = s->bounds[cur];
    *n_words = n > 0 ? n - 1 : 0;
    return SLM_OK;
}
