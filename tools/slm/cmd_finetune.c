/*
 * cmd_finetune.c — `slm finetune -m BASE -d DATA -o ADAPTER.gguf`: LoRA (or,
 * with --full, every weight) on chat, instruction or text examples, through
 * slm_train_run with the progress line, checkpoints and Ctrl-C of `slm train`
 * (cmd_train.c). --dry-run prints what the model would be trained on.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static int usage(void) {
    printf("usage: slm finetune -m BASE.gguf -d DATA.jsonl|TEXT -o OUT.gguf [options]\n"
           "data (-d; --format auto decides per line):\n"
           "  chat         {\"messages\": [{\"role\": ..., \"content\": ...}, ...]}: rendered with the model's chat\n"
           "               template; the loss counts the assistant replies only\n"
           "  instruction  {\"instruction\", \"input\", \"output\"} (also Dolly's context/response and\n"
           "               Self-Instruct's \"instances\"): a user turn and an assistant reply, as chat\n"
           "  text         {\"text\": ...} lines, or a plain text file: every token counts\n"
           "  --format F            auto (default), chat, instruction, text\n"
           "  --chat-template FILE  a Jinja template instead of the model's (ChatML if it has none)\n"
           "  --val-split X         share of the examples held out (default 0.1)\n"
           "  --val-examples FILE   held-out examples instead\n"
           "  --dry-run [N]         print N (default 2) rendered examples with the counted tokens marked, and stop\n"
           "LoRA (the base stays frozen in its type: F32, F16, BF16, Q8_0, Q4_0, K-quants ...):\n"
           "  --lora-rank R         default 8\n"
           "  --lora-alpha A        default 2 x rank (scale alpha / rank)\n"
           "  --lora-dropout P      on the adapters' inputs (default 0, as PEFT; it costs ~10%% of a step)\n"
           "  --lora-targets LIST   q,k,v,o,gate,up,down (default all seven), or all, attn, ffn\n"
           "  --full                train every weight instead; -o gets the model (F32, or --export-type)\n"
           "optimization (as slm train; defaults for fine-tuning):\n"
           "  --epochs E            passes over the examples (default 1), or --steps N\n"
           "  --batch B --grad-accum K --seq T   (default 4, 1, 256: longer examples are cut)\n"
           "  --lr X (2e-4 LoRA, 3e-5 full) --min-lr --warmup N (default 10) --lr-schedule cosine|constant\n"
           "  --weight-decay X (0) --grad-clip X (1) --beta1 --beta2 --eps --seed S\n"
           "run:\n"
           "  -o OUT.gguf           the adapter (llama.cpp's LoRA GGUF layout) or, with --full, the model\n"
           "  --out DIR             checkpoint.gguf, train.csv, loss.svg, config.txt (default OUT.run)\n"
           "  --eval-every N (default 50) --eval-batches N (default 20) --checkpoint-every N --stop-after N\n"
           "  --resume              continue DIR/checkpoint.gguf (with the run's settings: --config DIR/config.txt)\n"
           "  -t N                  threads (default: all cores)\n"
           "Use the result: slm run -m BASE.gguf --lora OUT.gguf ...; slm export -m BASE.gguf --lora OUT.gguf --merge\n"
           "-o MERGED.gguf; slm eval -m BASE.gguf --lora OUT.gguf ...\n");
    return 0;
}

/* OUT.gguf -> OUT.run */
static char *run_dir_of(const char *out) {
    size_t n = strlen(out);
    if (n > 5 && !strcmp(out + n - 5, ".gguf")) n -= 5;
    char *d = malloc(n + 5);
    if (d) {
        memcpy(d, out, n);
        memcpy(d + n, ".run", 5);
    }
    return d;
}

int cmd_finetune(int argc, char **argv) {
    slm_train_params p = slm_train_default_params();
    /* fine-tuning defaults (before --config and the flags) */
    p.steps = 0; /* from --epochs */
    p.batch = 4;
    p.lr = 2e-4f;
    p.warmup = 10;
    p.weight_decay = 0.0f;
    p.eval_every = 50;
    p.lora_rank = 8;
    char *config_text = NULL, *dir = NULL;
    long dry_run = -1;
    bool full = false, lr_set = false;
    int rc = 1;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) return usage();
    if (!cli_train_config(argc, argv, &p, &config_text)) goto out;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            if (!cli_take(argc, argv, &i, &v)) goto out;
            p.init_from = v;
        } else if (!strcmp(a, "-d") || !strcmp(a, "--data")) {
            if (!cli_take(argc, argv, &i, &v)) goto out;
            p.examples = v;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            if (!cli_take(argc, argv, &i, &v)) goto out;
            p.adapter = v;
        } else if (!strcmp(a, "--full")) {
            full = true;
        } else if (!strcmp(a, "--dry-run")) {
            dry_run = 2;
            if (i + 1 < argc && argv[i + 1][0] >= '0' && argv[i + 1][0] <= '9' &&
                !cli_int("--dry-run", argv[++i], 0, 1000000, &dry_run))
                goto out;
        } else if (!strcmp(a, "--chat-template")) { /* a file, read by the run (its path goes to config.txt) */
            if (!cli_take(argc, argv, &i, &v)) goto out;
            p.chat_template_file = v;
        } else {
            if (!strcmp(a, "--lr")) lr_set = true;
            if (!cli_train_option(argc, argv, &i, &p, "finetune")) goto out;
        }
    }
    if (full) {
        p.lora_rank = 0;
        if (!lr_set) p.lr = 3e-5f;
    }
    if (!p.init_from) {
        rc = cli_error("finetune: a base model is required (-m BASE.gguf)");
        goto out;
    }
    if (!p.examples) {
        rc = cli_error("finetune: training data is required (-d DATA.jsonl or a text file)");
        goto out;
    }
    if (dry_run >= 0) {
        char *report = NULL;
        if (slm_finetune_preview(&p, (int32_t)dry_run, isatty(1) != 0, &report) != SLM_OK) {
            rc = cli_error("%s", slm_last_error());
            goto out;
        }
        fputs(report, stdout);
        free(report);
        rc = 0;
        goto out;
    }
    if (!p.adapter && !p.out) {
        rc = cli_error("finetune: where should the result go? (-o OUT.gguf)");
        goto out;
    }
    if (!p.out) {
        if (!(dir = run_dir_of(p.adapter))) goto out;
        p.out = dir;
    }
    rc = cli_train_run(&p);
out:
    free(config_text);
    free(dir);
    return rc;
}
