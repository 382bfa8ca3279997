/*
 * jinja.h — a Jinja interpreter for chat templates, written to render
 * byte for byte what the reference renderer of the Hugging Face ecosystem
 * (the npm package @huggingface/jinja, 0.5.x) renders, including its quirks
 * (JavaScript number printing, "true"/"false", UTF-16 string lengths, the
 * errors it raises). tests/test_templates.c pins that against its renderings.
 *
 * Two halves:
 *   values     slm_jv: undefined / none / bool / int / float / string / list /
 *              dict (ordered keys) / function, reference-counted; the caller
 *              builds a template's variables with them (or parses JSON text
 *              into them with slm_jv_parse_json).
 *   templates  slm_jinja_compile parses a template once; slm_jinja_render
 *              renders it with a dict of variables into a malloc'd string.
 *
 * Values are not thread-safe (plain reference counts): a value may be read
 * by one render at a time. A compiled template is immutable and can be
 * rendered by several threads at once.
 *
 * Out of memory is not reported as a status here: every allocation goes
 * through a wrapper that panics (file:line) when malloc fails. Sizes are
 * bounded instead: slm_jinja_limits caps output, loop steps and recursion,
 * so a hostile template cannot make a render run away.
 *
 * Internals shared by the jinja_*.c files are in jinja_impl.h; the chat API
 * (messages in, prompt out) is in chat.h.
 */
#ifndef SLM_INFER_JINJA_H
#define SLM_INFER_JINJA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "slm.h"

/* ------------------------------------------------------------------------ */
/* Values                                                                    */
/* ------------------------------------------------------------------------ */

typedef enum {
    SLM_JV_UNDEFINED = 0, /* a missing variable or key; prints as "" */
    SLM_JV_NONE,          /* none / None / JSON null */
    SLM_JV_BOOL,
    SLM_JV_INT,   /* an integer: a double with an integral literal (JS semantics) */
    SLM_JV_FLOAT, /* a number written with a decimal point; prints as "1.0" */
    SLM_JV_STRING,
    SLM_JV_LIST,
    SLM_JV_DICT, /* string keys in insertion order; also namespace() objects */
    SLM_JV_FUNC, /* a macro, caller() or a built-in global such as range */
} slm_jv_type;

typedef struct slm_jv_string slm_jv_string;
typedef struct slm_jv_array slm_jv_array;
typedef struct slm_jv_object slm_jv_object;
typedef struct slm_jv_function slm_jv_function;

/* A value, passed by value. Strings, lists, dicts and functions point to a
 * reference-counted body: a function that returns an slm_jv returns a new
 * reference (release it), one that takes an slm_jv borrows it unless its
 * comment says the value is consumed. */
typedef struct {
    slm_jv_type type;
    union {
        bool b;
        double num; /* SLM_JV_INT and SLM_JV_FLOAT */
        slm_jv_string *str;
        slm_jv_array *list;
        slm_jv_object *dict;
        slm_jv_function *func;
    } u;
} slm_jv;

slm_jv slm_jv_undefined(void);
slm_jv slm_jv_none(void);
slm_jv slm_jv_bool(bool b);
slm_jv slm_jv_int(int64_t i);
slm_jv slm_jv_float(double d);
/* Copies s (UTF-8; invalid bytes are kept as they are). */
slm_jv slm_jv_str(const char *s);
slm_jv slm_jv_strn(const char *s, size_t n);
slm_jv slm_jv_list(void);
slm_jv slm_jv_dict(void);

slm_jv slm_jv_retain(slm_jv v);
void slm_jv_release(slm_jv v);

/* Appends item to a list (item consumed). */
void slm_jv_list_push(slm_jv list, slm_jv item);
/* Sets key in a dict, replacing an existing value in place (val consumed). */
void slm_jv_dict_set(slm_jv dict, const char *key, slm_jv val);
void slm_jv_dict_setn(slm_jv dict, const char *key, size_t key_len, slm_jv val);

/* Items of a list, keys of a dict, bytes of a string; 0 for other types. */
size_t slm_jv_len(slm_jv v);
/* Borrowed: the i-th item of a list (undefined when out of range). */
slm_jv slm_jv_list_at(slm_jv list, size_t i);
/* Borrowed: the value of key (undefined when absent or not a dict). */
slm_jv slm_jv_dict_get(slm_jv dict, const char *key);
/* Borrowed: the i-th key (as a string value) and value of a dict. */
slm_jv slm_jv_dict_key_at(slm_jv dict, size_t i);
slm_jv slm_jv_dict_val_at(slm_jv dict, size_t i);
/* The bytes of a string (NUL-terminated), or NULL for other types. */
const char *slm_jv_str_ptr(slm_jv v);

/*
 * Parses JSON text (RFC 8259: one value, whitespace around it) into a value.
 * Numbers with an integral value become SLM_JV_INT (as JavaScript's
 * JSON.parse loses the difference between 1 and 1.0), others SLM_JV_FLOAT;
 * objects keep their key order (a repeated key keeps its first position and
 * its last value). Nesting deeper than 512 is rejected. On failure returns
 * SLM_ERR_FORMAT with "line L, column C: what" in err (and slm_last_error).
 */
slm_status slm_jv_parse_json(const char *text, size_t len, slm_jv *out, char *err, size_t err_cap);

/*
 * Writes v as JSON the way the template filter tojson does (JSON.stringify
 * with Python's separators ", " and ": "; indent > 0 puts one item a line).
 * Returns a malloc'd NUL-terminated string, or NULL when v holds a function
 * or is nested more than 1000 deep.
 */
char *slm_jv_to_json(slm_jv v, int indent);

/* ------------------------------------------------------------------------ */
/* Templates                                                                 */
/* ------------------------------------------------------------------------ */

typedef struct slm_jinja_template slm_jinja_template;

/* Where and why compiling or rendering failed. line/col are 1-based positions
 * in the template source (0 when unknown). raised is set when the template
 * itself failed through raise_exception(msg): then msg is exactly its msg. */
typedef struct {
    int32_t line;
    int32_t col;
    bool raised;
    char msg[512];
} slm_jinja_error;

typedef struct {
    int64_t now;        /* unix seconds strftime_now() sees; 0 = the clock */
    size_t max_output;  /* bytes of output and of any one string (default 64 MiB) */
    int64_t max_steps;  /* loop iterations + macro calls (default 10,000,000) */
    int32_t max_depth;  /* macro call nesting (default 200) */
} slm_jinja_options;

slm_jinja_options slm_jinja_default_options(void);

/* Parses src[len]. On failure returns SLM_ERR_FORMAT, fills err (which may be
 * NULL) and slm_last_error ("line L, column C: msg"). */
slm_status slm_jinja_compile(const char *src, size_t len, slm_jinja_template **out, slm_jinja_error *err);
void slm_jinja_free(slm_jinja_template *tpl);

/*
 * Renders tpl with the variables of vars (a dict; keys become names) into a
 * malloc'd NUL-terminated string (*out, *out_len may be NULL). Text that is
 * not valid UTF-16 in JavaScript's sense (a lone surrogate from slicing) is
 * written as U+FFFD, as Node writes it. opts may be NULL for the defaults.
 * On failure returns SLM_ERR_FORMAT (template error) or SLM_ERR_ARG (vars not
 * a dict) and fills err and slm_last_error.
 */
slm_status slm_jinja_render(const slm_jinja_template *tpl, slm_jv vars, const slm_jinja_options *opts, char **out,
                            size_t *out_len, slm_jinja_error *err);

#endif
