/*
 * examples.h — fine-tuning data: examples (token sequences with a mask of
 * the tokens the loss counts) from chat JSONL, instruction JSONL or plain
 * text, and their batches.
 *
 * Formats (one JSON object per line; format "auto" decides per line):
 *   chat         {"messages": [{"role": ..., "content": ...}, ...]}
 *                rendered with the model's chat template (or ChatML); the
 *                loss counts the assistant turns only: for assistant message
 *                i, the text between render(messages[..i), generation prompt)
 *                and render(messages[..i]) (the reply and the template's end
 *                of turn), each piece tokenized on its own; where the first
 *                is not a prefix of the second (a template that renders the
 *                generation prompt otherwise than a finished turn), the
 *                reply counts from where its content appears;
 *   instruction  {"instruction", "input"?, "output"} (Alpaca), with "context"
 *                / "response" (Dolly) or "instances": [{"input", "output"}]
 *                (Self-Instruct, one example per instance) — made a user
 *                turn (instruction, a blank line, input) and an assistant
 *                turn, then as chat;
 *   text         {"text": ...} lines, or a whole file that is not JSONL
 *                (.txt): documents (BOS, text, EOS) cut into pieces of at
 *                most max_len + 1 tokens, every token counted.
 * When an assistant turn does not end with an end-of-generation token (a
 * template of plain text), the EOS token is appended to it so that the
 * model learns to stop.
 *
 * A batch of B examples is B rows of the longest one's length (at most
 * T): x = tokens[0..n-1), y[j] = tokens[j+1] where that token counts, else
 * -1; shorter rows are padded with ignored positions.
 */
#ifndef SLM_TRAIN_EXAMPLES_H
#define SLM_TRAIN_EXAMPLES_H

#include <stdbool.h>
#include <stdint.h>

#include "slm.h"

typedef struct {
    int32_t *tokens;  /* all examples, concatenated */
    uint8_t *counted; /* (per token) 1: the loss counts the prediction of this token */
    int64_t *start;   /* (n + 1) example i is tokens[start[i] .. start[i+1]) */
    int64_t n;
    int64_t cap_tokens, cap_n;
} slm_examples;

typedef struct {
    int64_t lines;             /* JSONL lines (or text documents) read */
    int64_t n_chat, n_instruction, n_text; /* examples by origin */
    int64_t n_truncated;       /* examples cut to max_len + 1 tokens */
    int64_t n_empty;           /* dropped: nothing to learn (no counted token) */
    int64_t n_tokens, n_counted;
    bool chatml;               /* chat data was rendered with ChatML: the model has no template */
} slm_examples_stats;

/*
 * Reads path into out (appending). format: "auto", "chat", "instruction" or
 * "text". model gives the tokenizer and the chat template (tpl_src
 * overrides it; NULL: the model's, ChatML if it has none). Examples longer
 * than max_len + 1 tokens are truncated (chat, instruction) or cut into
 * pieces (text). Errors name the file and line: not JSON, no usable fields,
 * a role or content that is not a string, a template that fails to render.
 */
slm_status slm_examples_load(const slm_model *model, const char *path, const char *format, const char *tpl_src,
                             int32_t max_len, slm_examples *out, slm_examples_stats *stats);
void slm_examples_free(slm_examples *e);

/* p->chat_template_file's text into *text (malloc'd) when p->chat_template
 * is NULL and a file is named; *text = NULL otherwise. SLM_ERR_IO naming the
 * file if it cannot be read. */
slm_status slm_examples_template(const slm_train_params *p, char **text);

/* Moves a seeded share (round(n · fraction), at least 1 when fraction > 0
 * and n >= 2) of all's examples to val, the rest to train; all is emptied. */
slm_status slm_examples_split(slm_examples *all, double fraction, uint64_t seed, slm_examples *train,
                              slm_examples *val);

/* Rows x, y (nb, *T_used) from examples idx[0..nb) (each cut to T + 1
 * tokens); *T_used is the longest row's length. Returns the counted
 * positions. */
int64_t slm_examples_batch(const slm_examples *e, const int64_t *idx, int32_t nb, int32_t T, int32_t *x, int32_t *y,
                           int32_t *T_used);

/* Training order: epochs of a seeded shuffle; (epoch, pos) is the state a
 * checkpoint saves. */
typedef struct {
    const slm_examples *e;
    int32_t B, T;
    uint64_t seed;
    int64_t epoch, pos;
    int64_t *perm;      /* the current epoch's order */
    int64_t perm_epoch; /* which epoch perm holds (-1: none) */
    int64_t *idx;       /* (B) the batch's examples */
} slm_example_loader;

slm_status slm_example_loader_init(slm_example_loader *l, const slm_examples *e, int32_t B, int32_t T,
                                   uint64_t seed);
void slm_example_loader_free(slm_example_loader *l);
/* The next batch (see slm_examples_batch); B examples, across an epoch's end. */
int64_t slm_example_loader_next(slm_example_loader *l, int32_t *x, int32_t *y, int32_t *T_used);

#endif
