/*
 * main.c — the slm command line: dispatches to one cmd_<name>.c per
 * subcommand.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
} g_cmds[] = {
    {"run", cmd_run, "generate text from a prompt"},
    {"chat", cmd_chat, "talk with a model in the terminal (its chat template, history, /save, /load)"},
    {"serve", cmd_serve, "serve a model over HTTP with the OpenAI and Anthropic APIs"},
    {"info", cmd_info, "describe a model file: architecture, sizes, metadata, tensors"},
    {"tokenize", cmd_tokenize, "show the tokens of a text"},
    {"tokenizer", cmd_tokenizer, "train a BPE tokenizer on text files (tokenizer train)"},
    {"logits", cmd_logits, "write the logits of every position for a list of token ids"},
    {"bench", cmd_bench, "measure prompt and generation speed"},
    {"perplexity", cmd_perplexity, "measure a model's perplexity on a text file"},
    {"eval", cmd_eval, "evaluate a model (and adapters): perplexity, HellaSwag-style multiple choice"},
    {"quantize", cmd_quantize, "convert a model's weights to another tensor type"},
    {"export", cmd_export, "write a model with LoRA adapters merged into its weights (export --merge)"},
    {"convert", cmd_convert, "write a Hugging Face model folder as a GGUF file"},
    {"data", cmd_data, "turn text, JSONL or JSON corpora into token shards for training (data prepare)"},
    {"train", cmd_train, "train a llama model on token shards: checkpoints, resume, GGUF export"},
    {"finetune", cmd_finetune, "fine-tune a model on chat, instruction or text data: LoRA adapters or full"},
};

static void usage(FILE *f) {
    fprintf(f, "slm %s — small language models on your own machine\n\nusage: slm COMMAND [options]\n\ncommands:\n",
            slm_version());
    for (size_t i = 0; i < sizeof g_cmds / sizeof g_cmds[0]; i++) fprintf(f, "  %-10s %s\n", g_cmds[i].name, g_cmds[i].help);
    fprintf(f, "\n'slm COMMAND --help' shows a command's options.\n");
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 1 : 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("slm %s\n", slm_version());
        return 0;
    }
    for (size_t i = 0; i < sizeof g_cmds / sizeof g_cmds[0]; i++)
        if (!strcmp(argv[1], g_cmds[i].name)) return g_cmds[i].fn(argc - 1, argv + 1);
    cli_error("unknown command '%s' (see 'slm --help')", argv[1]);
    return 1;
}
