/*
 * cli.h — shared pieces of the slm command line: argument helpers, timing,
 * reading files, and loading a model with a clear error. Each subcommand
 * lives in its own cmd_<name>.c and uses only the public slm.h.
 */
#ifndef SLM_TOOLS_CLI_H
#define SLM_TOOLS_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "slm.h"

int cmd_run(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_tokenizer(int argc, char **argv);
int cmd_logits(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_perplexity(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_data(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_finetune(int argc, char **argv);

/* `slm train` and `slm finetune` (cmd_train.c): applies every --config FILE
 * of argv first; then one option at a time, "--key value" as
 * slm_train_params_set names it (and -t); cmd names the command in errors.
 * cli_train_run runs with the progress line and Ctrl-C handling and returns
 * the exit code (130: interrupted, checkpoint saved). */
bool cli_train_config(int argc, char **argv, slm_train_params *p, char **config_text);
bool cli_train_option(int argc, char **argv, int *i, slm_train_params *p, const char *cmd);
int cli_train_run(slm_train_params *p);

/* Prints "slm: <msg>" to stderr; returns 1 (the exit code for errors). */
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Option parsing: the value of argv[*i] (advancing *i), or an error. */
bool cli_take(int argc, char **argv, int *i, const char **val);
bool cli_int(const char *opt, const char *s, long lo, long hi, long *out);
bool cli_float(const char *opt, const char *s, double *out);

double cli_now(void); /* seconds, monotonic */
uint64_t cli_peak_rss(void); /* bytes */

/* Reads a whole file; *len receives its size. NULL on error (message printed). */
char *cli_read_file(const char *path, size_t *len);
/* Reads whitespace-separated token ids. NULL on error (message printed). */
slm_token *cli_read_ids(const char *path, int64_t *n);

/* Loads a model or prints the error; NULL on failure. */
slm_model *cli_load_model(const char *path, int n_threads, bool vocab_only);
/* The same with every model parameter. */
slm_model *cli_load_model_params(const char *path, const slm_model_params *mp);

/* If argv[*i] is a memory option of `slm run` / `slm bench` (--no-mmap,
 * --mmap, --kv-type f32|f16), sets *handled and applies it (advancing *i past
 * its value). Returns false on a bad value (message printed). */
bool cli_memory_option(int argc, char **argv, int *i, slm_model_params *mp, slm_ctx_params *cp, bool *handled);
extern const char cli_memory_help[];

/* If argv[*i] is a sampling option of `slm run` (--temp, --top-k, --top-p,
 * --min-p, --repeat-penalty, --repeat-last-n, --frequency-penalty,
 * --presence-penalty, --seed), sets *handled and applies it to sp (advancing
 * *i past its value). Returns false on a bad value (message printed). */
bool cli_sampling_option(int argc, char **argv, int *i, slm_sampler_params *sp, bool *handled);
/* Their help lines, for a command's usage. */
extern const char cli_sampling_help[];

/* LoRA adapters from --lora FILE [--lora-scale S] (cli_lora.c), repeatable. */
#define CLI_MAX_LORA 16
typedef struct {
    const char *path[CLI_MAX_LORA];
    float scale[CLI_MAX_LORA]; /* 1 unless --lora-scale follows */
    slm_lora *lora[CLI_MAX_LORA];
    int n;
} cli_loras;
/* If argv[*i] is --lora or --lora-scale, sets *handled and records it
 * (advancing *i). Returns false on a bad value (message printed). */
bool cli_lora_option(int argc, char **argv, int *i, cli_loras *l, bool *handled);
/* Loads the adapters for model (one line each on stderr); false on error (message printed). */
bool cli_lora_load(slm_model *model, cli_loras *l);
/* Sets them on ctx (nothing without adapters); false on error (message printed). */
bool cli_lora_apply(slm_ctx *ctx, const cli_loras *l);
void cli_lora_free(cli_loras *l);
extern const char cli_lora_help[];

/* Tokenizes a rendered chat prompt: control tokens are parsed, and BOS is
 * added unless the text already starts with it. Returns malloc'd ids and
 * their count in *n, or NULL (slm_last_error() says why). */
slm_token *cli_tokenize_chat(const slm_model *model, const char *text, int64_t *n);

#endif
