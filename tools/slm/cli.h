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
int cmd_logits(int argc, char **argv);
int cmd_bench(int argc, char **argv);

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

#endif
