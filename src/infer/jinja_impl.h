/*
 * jinja_impl.h — what the jinja_*.c files share and nothing else includes:
 * the bodies of values, a string builder, text helpers with JavaScript's
 * semantics, the tokens, the syntax tree, and the evaluator's context that
 * the built-in filters, tests and methods need.
 *
 *   jinja_text.c      string builder, UTF-8 / UTF-16 helpers, JS number text,
 *                     case mapping, JSON string escaping
 *   jinja_value.c     value bodies, reference counts, printing, tojson,
 *                     truthiness, equality
 *   jinja_json.c      JSON text -> values
 *   jinja_lex.c       template source -> tokens (trim_blocks, lstrip_blocks,
 *                     whitespace control)
 *   jinja_parse.c     tokens -> syntax tree
 *   jinja_eval.c      statements and expressions
 *   jinja_builtins.c  filters, tests, methods of strings/dicts, globals
 */
#ifndef SLM_INFER_JINJA_IMPL_H
#define SLM_INFER_JINJA_IMPL_H

#include <stdarg.h>

#include "base/error.h"
#include "infer/jinja.h"

/* ------------------------------------------------------------------------ */
/* Allocation (panics on failure, see jinja.h)                               */
/* ------------------------------------------------------------------------ */

void *jz_malloc(size_t n);
void *jz_calloc(size_t n, size_t size);
void *jz_realloc(void *p, size_t n);
/* Grows *p (an array of *cap items of size each) to hold at least need items. */
void jz_grow(void **p, size_t *cap, size_t need, size_t size);

/* ------------------------------------------------------------------------ */
/* Value bodies                                                              */
/* ------------------------------------------------------------------------ */

/* Strings hold WTF-8: UTF-8 that may also encode lone UTF-16 surrogates
 * (which slicing a string by UTF-16 units can make, as in JavaScript). */
struct slm_jv_string {
    int32_t rc; /* -1: a template's literal, shared by renders and never counted */
    size_t len; /* bytes, without the NUL */
    char s[];   /* len bytes + NUL */
};

struct slm_jv_array {
    int32_t rc;
    size_t n, cap;
    slm_jv *items;
};

/* Lookup is linear: chat messages and tool schemas have a handful of keys. */
struct slm_jv_object {
    int32_t rc;
    bool is_namespace; /* made by namespace(): attributes assignable, always true */
    size_t n, cap;
    slm_jv_string **keys;
    slm_jv *vals;
};

typedef enum {
    JF_RANGE,
    JF_NAMESPACE,
    JF_RAISE_EXCEPTION,
    JF_STRFTIME_NOW,
    JF_MACRO,  /* a {% macro %} */
    JF_CALLER, /* caller() inside a macro invoked by {% call %} */
} jfunc_kind;

struct jnode;
struct jscope;
struct slm_jv_function {
    int32_t rc;
    jfunc_kind kind;
    const struct jnode *node; /* JF_MACRO: the macro; JF_CALLER: the call block */
    struct jscope *scope;     /* JF_CALLER: scope of the call block, NULL once it ended */
};

slm_jv jv_func(jfunc_kind kind, const struct jnode *node, struct jscope *scope);
/* A string value taking ownership of a malloc'd buffer p of n bytes + NUL room. */
slm_jv jv_str_own(char *p, size_t n);

/* ------------------------------------------------------------------------ */
/* String builder                                                            */
/* ------------------------------------------------------------------------ */

typedef struct {
    char *p;
    size_t n, cap;
} jsb;

void jsb_put(jsb *b, const char *s, size_t n);
void jsb_puts(jsb *b, const char *s);
void jsb_putc(jsb *b, char c);
void jsb_printf(jsb *b, const char *fmt, ...) SLM_PRINTF(2, 3);
/* The buffer as a string value (the builder is emptied). */
slm_jv jsb_to_value(jsb *b);
/* The buffer, NUL-terminated, handed to the caller (the builder is emptied). */
char *jsb_take(jsb *b, size_t *len);
void jsb_free(jsb *b);

/* ------------------------------------------------------------------------ */
/* Text                                                                      */
/* ------------------------------------------------------------------------ */

/* Next code point of s[n] from *i (advanced). Surrogates encoded in WTF-8
 * come back as themselves; an invalid byte comes back as 0xFFFD, 1 byte. */
uint32_t ju_next(const char *s, size_t n, size_t *i);
/* Appends cp as (WTF-)8. */
void ju_put(jsb *b, uint32_t cp);
/* Length in UTF-16 code units, as JavaScript's String.length. */
size_t ju_utf16_len(const char *s, size_t n);
/* JavaScript's white space (String.prototype.trim, \s). */
bool ju_is_space(uint32_t cp);
/* Bytes of s[n] without JS white space at the start / at the end. */
size_t ju_lspace(const char *s, size_t n);
size_t ju_rspace(const char *s, size_t n);
/* Case mapping as JavaScript's toUpperCase/toLowerCase for ASCII, Latin-1,
 * Latin Extended-A, Greek and Cyrillic (other scripts pass through). */
void ju_put_upper(jsb *b, uint32_t cp);
void ju_put_lower(jsb *b, uint32_t cp);
/* Number.prototype.toString(): shortest round-trip digits, exponent form
 * below 1e-6 and from 1e21, "NaN", "Infinity"; -0 writes "0". */
void ju_js_number(jsb *b, double v);
/* A JSON string literal as JSON.stringify writes it; ensure_ascii writes
 * every non-ASCII character as \uXXXX (Python's default). */
void ju_json_string(jsb *b, const char *s, size_t n, bool ensure_ascii);
/* Final output: lone surrogates become U+FFFD, split pairs are joined. */
void ju_to_utf8(jsb *b);
/* Joins surrogate pairs written as two WTF-8 surrogates; lone ones stay. */
void ju_join_surrogates(jsb *b);

/* ------------------------------------------------------------------------ */
/* Values: conversions shared by the evaluator and the built-ins             */
/* ------------------------------------------------------------------------ */

/* HF's class name of a value's type ("StringValue", "UndefinedValue", ...). */
const char *jv_type_name(slm_jv v);
bool jv_truthy(slm_jv v);
/* ==: JavaScript's loose equality over the primitive values (1 == 1.0,
 * "1" == 1, none == undefined); lists, dicts and functions by identity. */
bool jv_equal(slm_jv a, slm_jv b);
/* What {{ v }} writes: "" for none and undefined, "1.0" for a float 1.0,
 * lists and dicts as JSON with undefined items written "undefined". */
bool jv_print(jsb *b, slm_jv v);
/* JavaScript's String(v) as string + and ~ use it: numbers without ".0",
 * a list as its printed items joined by ",", "" for none/undefined. */
bool jv_js_string(jsb *b, slm_jv v);

/* The printers above and jv_write_json return false for a value nested
 * deeper than this (or a namespace that contains itself). */
#define JV_MAX_PRINT_DEPTH 1000
#define JV_PRINT_DEPTH_MSG "cannot print a value nested more than 1000 deep (or one that contains itself)"

typedef struct {
    int indent;           /* <= 0: one line */
    const char *item_sep; /* NULL: ", " (",\n" with indent) */
    const char *key_sep;  /* NULL: ": " */
    bool ensure_ascii;
    bool sort_keys;
    bool undefined_text; /* write undefined as "undefined" (printing) not null */
} jv_json_opts;

/* Returns false (and writes nothing useful) if v holds a function or is
 * nested too deeply. */
bool jv_write_json(jsb *b, slm_jv v, const jv_json_opts *o);

slm_jv jv_list_copy(slm_jv list);
/* Borrowed lookup of n key bytes; NULL when absent. */
slm_jv *jv_dict_find(slm_jv dict, const char *key, size_t n);
/* Empties a dict, releasing keys and values (used to break namespace cycles). */
void jv_dict_clear(slm_jv dict);

/* ------------------------------------------------------------------------ */
/* Tokens                                                                    */
/* ------------------------------------------------------------------------ */

typedef enum {
    TK_EOF,
    TK_TEXT,       /* s[n]: template text, already whitespace-controlled */
    TK_EXPR_OPEN,  /* {{ */
    TK_EXPR_CLOSE, /* }} */
    TK_STMT_OPEN,  /* {% */
    TK_STMT_CLOSE, /* %} */
    TK_NAME,
    TK_STRING, /* s[n]: decoded */
    TK_INT,
    TK_FLOAT,
    TK_OP,
} jtok_kind;

typedef enum {
    OP_NONE,
    OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_FLOORDIV, OP_MOD, OP_POW, OP_CONCAT,
    OP_EQ, OP_NE, OP_LT, OP_GT, OP_LE, OP_GE, OP_IN, OP_NOT_IN,
    OP_ASSIGN, OP_LPAREN, OP_RPAREN, OP_LBRACKET, OP_RBRACKET, OP_LBRACE, OP_RBRACE,
    OP_COMMA, OP_DOT, OP_COLON, OP_PIPE,
} jop;

typedef struct {
    jtok_kind kind;
    jop op;
    const char *s; /* TEXT, NAME, STRING: in the template's arena */
    size_t n;
    double num;
    uint32_t pos; /* byte offset in the original source */
} jtok;

/* ------------------------------------------------------------------------ */
/* Template: arena, source positions, tree                                   */
/* ------------------------------------------------------------------------ */

typedef struct jarena_block jarena_block;
typedef struct {
    jarena_block *head;
} jarena;

void *jarena_alloc(jarena *a, size_t n);
char *jarena_strdup(jarena *a, const char *s, size_t n);
void jarena_free(jarena *a);

typedef enum {
    /* statements */
    JN_TEXT,         /* name[name_len] */
    JN_OUTPUT,       /* {{ a }} */
    JN_IF,           /* if a: kids else kids2 (an elif is an IF alone in kids2) */
    JN_FOR,          /* for a (NAME or TUPLE) in b [if c]: kids else kids2 */
    JN_SET,          /* set a (NAME, ATTR or TUPLE) = b */
    JN_SET_BLOCK,    /* set a: kids ... endset */
    JN_MACRO,        /* macro name(kids2: NAME or KWARG with default): kids */
    JN_CALL_BLOCK,   /* call(kids2: caller's params) a (a CALL): kids */
    JN_FILTER_BLOCK, /* filter a (FILTER chain, innermost operand NULL): kids */
    JN_BREAK,
    JN_CONTINUE,
    /* expressions */
    JN_LITERAL, /* lit */
    JN_NAME,    /* name */
    JN_LIST,    /* kids */
    JN_TUPLE,   /* kids */
    JN_DICT,    /* keys kids, values kids2 */
    JN_ATTR,    /* a.name */
    JN_INDEX,   /* a[b] */
    JN_SLICE,   /* a[b:c:d], each of b c d may be NULL */
    JN_CALL,    /* a(kids, kids2 of KWARG) */
    JN_KWARG,   /* name=a */
    JN_FILTER,  /* a | name(kids, kids2) */
    JN_TEST,    /* a is [not] name(kids); op = 1 when negated */
    JN_NEG,     /* -a */
    JN_POS,     /* +a */
    JN_NOT,     /* not a */
    JN_AND,     /* a and b */
    JN_OR,      /* a or b */
    JN_BINARY,  /* a op b */
    JN_TERNARY, /* a if b else c (c may be NULL) */
} jnode_kind;

typedef struct jnode {
    jnode_kind kind;
    jop op;
    uint32_t pos; /* byte offset in the original source */
    const char *name;
    size_t name_len;
    slm_jv lit;
    struct jnode *a, *b, *c, *d;
    struct jnode **kids;
    int32_t n_kids;
    struct jnode **kids2;
    int32_t n_kids2;
} jnode;

struct slm_jinja_template {
    jarena arena;
    char *src; /* the original source, for line/column of errors */
    size_t src_len;
    jnode **body;
    int32_t n_body;
    slm_jv *lits; /* literal strings (immortal while the template lives) */
    size_t n_lits, cap_lits;
};

/* Line and column (1-based, columns in characters) of byte pos of src. */
void jinja_line_col(const char *src, size_t len, uint32_t pos, int32_t *line, int32_t *col);
/* Fills err and slm_last_error from a message at pos; returns SLM_ERR_FORMAT. */
slm_status jinja_compile_error(const slm_jinja_template *tpl, slm_jinja_error *err, uint32_t pos, const char *fmt,
                               ...) SLM_PRINTF(4, 5);

/* Lexer: tokens of tpl->src into *toks (malloc'd; strings in tpl->arena). */
slm_status jinja_lex(slm_jinja_template *tpl, jtok **toks, size_t *n_toks, slm_jinja_error *err);
/* Parser: fills tpl->body. */
slm_status jinja_parse(slm_jinja_template *tpl, const jtok *toks, size_t n_toks, slm_jinja_error *err);

/* ------------------------------------------------------------------------ */
/* Evaluator context                                                         */
/* ------------------------------------------------------------------------ */

typedef struct jscope {
    struct jscope *parent;
    size_t n, cap;
    const char **names;
    size_t *name_lens;
    slm_jv *vals;
} jscope;

typedef struct {
    const slm_jinja_template *tpl;
    slm_jinja_options opts;
    slm_jinja_error *err;
    bool failed;
    int64_t steps;
    int32_t depth;
    slm_jv vars;       /* the caller's variables (a dict) */
    slm_jv namespaces; /* every namespace() made, emptied at the end */
} jctx;

/* Records the first error (at node's position); always returns false. */
bool jx_fail(jctx *cx, const jnode *at, const char *fmt, ...) SLM_PRINTF(3, 4);
/* raise_exception(msg): the template's own error. */
bool jx_raise(jctx *cx, const jnode *at, const char *msg);

/* Evaluated arguments of a call, filter or test. */
typedef struct {
    size_t n_pos;
    slm_jv *pos;
    size_t n_kw;
    const char **kw_names;
    slm_jv *kw;
} jargs;

/* Positional argument i, or keyword name, or NULL when neither was given. */
const slm_jv *jargs_get(const jargs *a, size_t i, const char *name);

/* Built-ins (jinja_builtins.c). Each returns false after jx_fail. */
bool jb_filter(jctx *cx, const jnode *at, const char *name, slm_jv v, const jargs *args, slm_jv *out);
bool jb_test(jctx *cx, const jnode *at, const char *name, slm_jv v, const jargs *args, bool *out);
/* obj.name(args): methods of strings, dicts and lists. */
bool jb_method(jctx *cx, const jnode *at, slm_jv obj, const char *name, const jargs *args, slm_jv *out);
/* The global function a name refers to when no variable has it
 * (undefined when none). */
slm_jv jb_global(const char *name, size_t n);
bool jb_call_global(jctx *cx, const jnode *at, const slm_jv_function *f, const jargs *args, slm_jv *out);

/* Python-style slice of a list or string (strings by code point, as HF). */
slm_jv jv_slice(slm_jv v, const double *start, const double *stop, const double *step);
/* Strings: concatenation and UTF-16 indexing shared by eval and built-ins. */
bool jv_concat(slm_jv a, slm_jv b, slm_jv *out);

#endif
