/*
 * cmd_serve.c — `slm serve`: a local HTTP server that speaks the OpenAI and
 * Anthropic APIs for one model (see serve.h for how it is put together).
 * This file reads the options, loads the model and its chat template, starts
 * the scheduler and the HTTP daemon, and stops both on SIGINT or SIGTERM.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "serve.h"

static void serve_usage(void) {
    printf("usage: slm serve -m MODEL [options]\n"
           "  --host ADDR         address to listen on (default 127.0.0.1: this machine only)\n"
           "  --port N            (default 8080; 0 = any free port, printed at start-up)\n"
           "  --api-key KEY       require Authorization: Bearer KEY or x-api-key: KEY (default: none;\n"
           "                      also read from SLM_API_KEY)\n"
           "  --parallel N        requests decoded together (default 4)\n"
           "  --ctx N             context of each of them (default: the model's, at most 4096)\n"
           "  --max-queue N       requests waiting for a slot before 503 (default 16)\n"
           "  --max-body BYTES    largest request body (default 1048576)\n"
           "  --max-tokens N      most tokens one request may generate (default: the context)\n"
           "  --chat-template FILE  a Jinja chat template instead of the model's\n"
           "  --model-id NAME     the model's name in the API (default: the file name without .gguf)\n"
           "  --alias NAME        another name requests may use (repeatable, e.g. gpt-4o-mini)\n"
           "  -t N                threads (default: all cores)\n"
           "%s"
           "Endpoints: GET /health, /metrics, /v1/models; POST /v1/completions, /v1/chat/completions,\n"
           "/v1/embeddings (OpenAI) and /v1/messages (Anthropic).\n",
           cli_lora_help);
}

/* "models/stories-slm.gguf" -> "stories-slm" */
static char *default_id(const char *path) {
    const char *base = strrchr(path, '/');
    base = base && base[1] ? base + 1 : path;
    char *id = strdup(base);
    size_t n = strlen(id);
    if (n > 5 && !strcmp(id + n - 5, ".gguf")) id[n - 5] = 0;
    return id;
}

int cmd_serve(int argc, char **argv) {
    const char *model_path = NULL, *template_path = NULL, *model_id = NULL;
    long port = 8080, parallel = 4, n_ctx = 0, max_queue = 16, max_body = 1 << 20, max_tokens = 0, n_threads = 0;
    serve_server srv;
    memset(&srv, 0, sizeof srv);
    srv.cfg.host = "127.0.0.1";
    srv.cfg.api_key = getenv("SLM_API_KEY");
    cli_loras loras = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        bool handled;
        if (!cli_lora_option(argc, argv, &i, &loras, &handled)) return 1;
        if (handled) continue;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            serve_usage();
            return 0;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            if (!cli_take(argc, argv, &i, &model_path)) return 1;
        } else if (!strcmp(a, "--host")) {
            if (!cli_take(argc, argv, &i, &srv.cfg.host)) return 1;
        } else if (!strcmp(a, "--port")) {
            if (!cli_take(argc, argv, &i, &v) || !cli_int(a, v, 0, 65535, &port)) return 1;
        } else if (!strcmp(a, "--api-key")) {
            if (!cli_take(argc, argv, &i, &srv.cfg.api_key)) return 1;
        } else if (!strcmp(a, "--parallel") || !strcmp(a, "-np")) {
            if (!cli_take(argc, argv, &i, &v) || !cli_int(a, v, 1, 256, &parallel)) return 1;
        } else if (!strcmp(a, "--ctx") || !strcmp(a, "-c")) {
            if (!cli_take(argc, argv, &i, &v) || !cli_int(a, v, 0, 1 << 24, &n_ctx)) return 1;
        } else if (!strcmp(a, "--max-queue")) {
            if (!cli_take(argc, argv, &i, &v) || !cli_int(a, v, 0, 100000, &max_queue)) return 1;
        } else if (!strcmp(a, "--max-body")) {
            if (!cli_take(argc, argv, &i, &v) || !cli_int(a, v, 64, 1L << 30, &max_body)) return 1;
        } else if (!strcmp(a, "--max-tokens")) {
            if (!cli_take(argc, argv, &i, &v) || !cli_int(a, v, 1, 1 << 24, &max_tokens)) return 1;
        } else if (!strcmp(a, "--chat-template")) {
            if (!cli_take(argc, argv, &i, &template_path)) return 1;
        } else if (!strcmp(a, "--model-id")) {
            if (!cli_take(argc, argv, &i, &model_id)) return 1;
        } else if (!strcmp(a, "--alias")) {
            if (!cli_take(argc, argv, &i, &v)) return 1;
            if (srv.cfg.n_aliases == SERVE_MAX_ALIASES) return cli_error("serve: at most %d aliases", SERVE_MAX_ALIASES);
            srv.cfg.aliases[srv.cfg.n_aliases++] = v;
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            if (!cli_take(argc, argv, &i, &v) || !cli_int(a, v, 0, 1024, &n_threads)) return 1;
        } else {
            return cli_error("serve: unknown option '%s' (see 'slm serve --help')", a);
        }
    }
    if (!model_path) return cli_error("serve: a model is required (-m MODEL)");
    if (srv.cfg.api_key && !*srv.cfg.api_key) srv.cfg.api_key = NULL;
    char *template_src = NULL, *id = model_id ? strdup(model_id) : default_id(model_path);
    if (template_path) {
        size_t len;
        template_src = cli_read_file(template_path, &len);
        if (!template_src) {
            free(id);
            return 1;
        }
    }

    int rc = 1;
    struct MHD_Daemon *daemon = NULL;
    srv.model = cli_load_model(model_path, (int)n_threads, false);
    if (!srv.model || !cli_lora_load(srv.model, &loras)) goto done;
    srv.loras = &loras; /* every slot's context applies them */
    if (slm_chat_format_new(srv.model, template_src, &srv.chat) != SLM_OK) {
        cli_error("serve: %s", slm_last_error());
        goto done;
    }
    if (slm_chat_format_is_fallback(srv.chat))
        fprintf(stderr, "slm: %s has no chat template; using ChatML (--chat-template FILE sets one)\n", model_path);
    slm_model_desc desc;
    slm_model_describe(srv.model, &desc);
    if (n_ctx == 0) n_ctx = desc.n_ctx_train > 0 && desc.n_ctx_train < 4096 ? desc.n_ctx_train : 4096;
    srv.cfg.port = (int)port;
    srv.cfg.parallel = (int)parallel;
    srv.cfg.n_ctx = (int)n_ctx;
    srv.cfg.max_queue = (int)max_queue;
    srv.cfg.max_body = (size_t)max_body;
    srv.cfg.max_tokens = max_tokens > 0 && max_tokens < n_ctx ? (int)max_tokens : (int)n_ctx;
    srv.cfg.n_threads = (int)n_threads;
    srv.cfg.model_id = id;
    srv.n_embd = desc.n_embd;
    srv.n_vocab = desc.n_vocab;
    srv.created = (int64_t)time(NULL);
    atomic_init(&srv.stopping, false);
    srv.metrics = serve_metrics_new();
    if (!srv.metrics) goto done;

    /* every thread started from here on leaves SIGINT/SIGTERM to sigwait below */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    srv.sched = serve_sched_new(&srv);
    if (!srv.sched) goto done;
    int bound = 0;
    daemon = serve_http_start(&srv, &bound);
    if (!daemon) goto done;
    bool loopback = !strcmp(srv.cfg.host, "127.0.0.1") || !strcmp(srv.cfg.host, "localhost") ||
                    !strcmp(srv.cfg.host, "::1");
    if (!loopback && !srv.cfg.api_key)
        fprintf(stderr, "slm: warning: listening on %s without --api-key: anyone who can reach it can use it\n",
                srv.cfg.host);
    fprintf(stderr, "slm serve: listening on http://%s:%d (model '%s', %d slots of %d tokens)\n", srv.cfg.host, bound,
            id, srv.cfg.parallel, srv.cfg.n_ctx);
    fflush(stderr);
    int sig = 0;
    sigwait(&sigs, &sig);
    fprintf(stderr, "slm serve: stopping (%s)\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    atomic_store(&srv.stopping, true);
    rc = 0;
done:
    /* the scheduler first: it ends every job, so the connections waiting on
     * them finish; then the daemon, which waits for its connection threads */
    serve_sched_stop(srv.sched);
    serve_http_stop(daemon);
    serve_sched_free(srv.sched);
    serve_metrics_free(srv.metrics);
    slm_chat_format_free(srv.chat);
    cli_lora_free(&loras);
    slm_model_free(srv.model);
    free(template_src);
    free(id);
    return rc;
}
