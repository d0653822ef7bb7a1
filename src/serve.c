/*
 * serve - the recommendation API over HTTP, and a web page: the reference
 * projects' services (GET /recommendations, /features; POST
 * /recommend_movie; Moovier's /models, /predict, /train) on the models of
 * a directory.  Scoring, metadata and JSON are the library's (score.h,
 * meta.h, metajson.h), shared with mf-score and join-meta; the server
 * itself is src/serve/ (http.h, api.h, models.h, train.h); this file
 * parses flags, loads, and waits for SIGTERM or SIGINT.
 */
#include "meta.h"
#include "util.h"

#include "api.h"
#include "http.h"
#include "models.h"
#include "train.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The page, made from src/serve/page.html at build time (the Makefile). */
extern const unsigned char cf_serve_page[];
extern const unsigned long cf_serve_page_len;

struct opts {
	const char *models, *dflt, *movies, *links, *bind, *token_file;
	int port, threads, train_threads, max_jobs, log;
	unsigned timeout;
	size_t max_body;
	unsigned long long seed;
};

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: serve --models DIR [--default NAME] [--movies FILE [--links FILE]]\n"
	    "             [--bind ADDR] [--port N] [--threads N] [--token-file FILE]\n"
	    "             [--max-body BYTES] [--timeout S] [--train-threads N]\n"
	    "             [--max-jobs N] [--seed N] [--quiet]\n"
	    "Serves recommendations over HTTP from the models of DIR (each NAME.bin is a\n"
	    "model, as mf-fit writes it; mapped, not copied), and a web page at /.\n"
	    "\n"
	    "  -m, --models DIR     the models directory (required); /train writes new\n"
	    "                       versions into it (NAME_N.bin, via a temp file)\n"
	    "  -d, --default NAME   the model used when a request names none (default: the\n"
	    "                       first name in byte order)\n"
	    "      --movies FILE    movies.csv (or a 'movies' frame): titles and genres\n"
	    "      --links FILE     links.csv: imdb and tmdb ids in /predict\n"
	    "  -b, --bind ADDR      the address to listen on (default 127.0.0.1)\n"
	    "  -p, --port N         the port (default 8080); 0 takes any free port.  Either\n"
	    "                       way stderr says 'serve: listening on ADDR:PORT ...'\n"
	    "  -t, --threads N      request threads, each an epoll loop (default: the CPUs)\n"
	    "      --token-file FILE  /train requires 'Authorization: Bearer TOKEN', TOKEN\n"
	    "                       being the file's first line (default: the environment's\n"
	    "                       CINEFILTER_TOKEN; neither: /train is open)\n"
	    "      --max-body BYTES a larger request body gets 413 (default 1048576)\n"
	    "      --timeout S      idle connections are closed after S seconds (default 30)\n"
	    "      --train-threads N  threads of a /train job (default 1: serving keeps the\n"
	    "                       rest); jobs run one at a time\n"
	    "      --max-jobs N     /train jobs queued or running at once; more get 503\n"
	    "                       (default 4)\n"
	    "      --seed N         the seed of /train's fresh factors (default 42)\n"
	    "  -q, --quiet          no log line per request\n"
	    "  -h, --help           this help;  -V, --version  the version\n"
	    "\n"
	    "Endpoints (JSON; errors are {\"error\":\"...\"} with 400 bad parameter, 401 no\n"
	    "token, 404 unknown user, item, model or path, 405 wrong method, 413 body too\n"
	    "large, 503 training queue full).  Ids may be strings or integers.\n"
	    "  GET  /recommendations?user_id=18[&k=10][&returnMetadata=true]\n"
	    "         {\"items\":[{\"id\":\"74510\"},...]}, with returnMetadata also \"title\"\n"
	    "         and \"genres\"; seen movies excluded; k from 1 to 1000, default 10\n"
	    "  POST /recommendations[?k=10&returnMetadata=true]\n"
	    "         {\"ratings\":[{\"id\":\"89745\",\"rating\":5},...]}: a new person, folded\n"
	    "         in (mf-score --fold-in); movies the model does not know are ignored\n"
	    "  GET  /features?user_id=18[&returnMetadata=true]\n"
	    "         {\"features\":[{\"histories\":[\"185135\",...]}]}, most recent first\n"
	    "  GET  /similar?item_id=1[&k=10]   the nearest movies by cosine, with metadata\n"
	    "  POST /recommend_movie[?k=20]  {\"user_id\": 9} -> [\"title\", ...]\n"
	    "  GET  /models                  [\"als\", \"ials\", ...]\n"
	    "  POST /predict?model_name=als&top_k=3  [389, 456] ->\n"
	    "         {\"389\":[{\"id\",\"title\",\"genres\",\"year\",\"imdb\",\"tmdb\",\"score\",\n"
	    "         \"rank\"},...],...}\n"
	    "  POST /train?model_name=als[&validation_split=0.2][&patience=10][&epochs=N]\n"
	    "         {\"users\":[...],\"movies\":[...],\"ratings\":[...]} -> \"als_1\" at once:\n"
	    "         fine-tunes in the background (warm start, early stopping on the last\n"
	    "         validation_split of the ratings) and publishes als_1; it replaces the\n"
	    "         default when trained from the default\n"
	    "  GET  /movies?q=star[&k=20]  title search;  GET /users[?k=100]  user ids\n"
	    "  GET  /healthz;  GET /  the web page\n"
	    "Every read endpoint takes model_name (default: the default model).\n"
	    "Stops on SIGTERM or SIGINT (waiting for a training job to publish), exit 0.\n");
}

static long long
number(const char *flag, const char *v, long long lo, long long hi)
{
	long long x;

	if (cf_parse_i64(v, &x) < 0 || x < lo || x > hi)
		cf_usage_error(usage, "%s '%s': expected a whole number from %lld to %lld", flag,
		               v, lo, hi);
	return x;
}

static void
parse(int argc, char **argv, struct opts *o)
{
	enum { O_MOVIES = 256, O_LINKS, O_TOKEN, O_BODY, O_TIMEOUT, O_TTHREADS, O_JOBS,
	       O_SEED };
	static const struct option lo[] = {
		{"models", 1, 0, 'm'}, {"default", 1, 0, 'd'}, {"movies", 1, 0, O_MOVIES},
		{"links", 1, 0, O_LINKS}, {"bind", 1, 0, 'b'}, {"port", 1, 0, 'p'},
		{"threads", 1, 0, 't'}, {"token-file", 1, 0, O_TOKEN},
		{"max-body", 1, 0, O_BODY}, {"timeout", 1, 0, O_TIMEOUT},
		{"train-threads", 1, 0, O_TTHREADS}, {"max-jobs", 1, 0, O_JOBS},
		{"seed", 1, 0, O_SEED}, {"quiet", 0, 0, 'q'}, CF_STD_LONGOPTS, {0, 0, 0, 0},
	};
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int c;

	o->bind = "127.0.0.1";
	o->port = 8080;
	o->threads = ncpu > 0 ? (int)(ncpu < 64 ? ncpu : 64) : 1;
	o->train_threads = 1;
	o->max_jobs = 4;
	o->log = 1;
	o->timeout = 30;
	o->max_body = 1 << 20;
	o->seed = 42;
	while ((c = getopt_long(argc, argv, "m:d:b:p:t:qhV", lo, NULL)) != -1) {
		switch (c) {
		case 'm': o->models = optarg; break;
		case 'd': o->dflt = optarg; break;
		case O_MOVIES: o->movies = optarg; break;
		case O_LINKS: o->links = optarg; break;
		case 'b': o->bind = optarg; break;
		case 'p': o->port = (int)number("--port", optarg, 0, 65535); break;
		case 't': o->threads = (int)number("--threads", optarg, 1, 256); break;
		case O_TOKEN: o->token_file = optarg; break;
		case O_BODY: o->max_body = (size_t)number("--max-body", optarg, 16, 1LL << 32); break;
		case O_TIMEOUT: o->timeout = (unsigned)number("--timeout", optarg, 1, 86400); break;
		case O_TTHREADS: o->train_threads = (int)number("--train-threads", optarg, 1, 256); break;
		case O_JOBS: o->max_jobs = (int)number("--max-jobs", optarg, 1, 1000); break;
		case O_SEED: o->seed = (unsigned long long)number("--seed", optarg, 0, LLONG_MAX); break;
		case 'q': o->log = 0; break;
		case 'h': usage(stdout); cf_close_stdout(); exit(CF_EXIT_OK);
		case 'V': cf_version();
		default: usage(stderr); exit(CF_EXIT_USAGE);
		}
	}
	cf_no_operand(argc, argv, usage, NULL);
	if (!o->models)
		cf_usage_error(usage, "--models DIR is required");
	if (o->dflt && !cf_model_name_ok(o->dflt))
		cf_usage_error(usage, "--default '%s': not a model name ([A-Za-z0-9_.-], no "
		               "leading dot)", o->dflt);
	if (o->links && !o->movies)
		cf_usage_error(usage, "--links needs --movies");
}

/* The bearer token: the file's first line, or CINEFILTER_TOKEN; NULL if neither. */
static char *
read_token(const char *path)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (!path) {
		const char *e = getenv("CINEFILTER_TOKEN");
		return e && *e ? cf_xstrdup(e) : NULL;
	}
	FILE *fp = fopen(path, "r");
	if (!fp)
		cf_die("--token-file %s:", path);
	n = getline(&line, &cap, fp);
	fclose(fp);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' ' ||
	                 line[n - 1] == '\t'))
		line[--n] = 0;
	if (n <= 0)
		cf_die("--token-file %s: the first line (the token) is empty", path);
	return line;
}

/* SIGTERM/SIGINT: a byte down a pipe that main waits on (any thread may take them). */
static int sigpipe_w = -1;

static void
on_signal(int sig)
{
	char c = (char)sig;
	int saved = errno;

	if (write(sigpipe_w, &c, 1) < 0) {
		/* Nothing to do: the pipe holds a byte already. */
	}
	errno = saved;
}

static double
ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

int
main(int argc, char **argv)
{
	struct opts o = {0};
	struct timespec t0;
	char err[600];
	int fds[2];
	struct sigaction sa;
	char c;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	cf_setprog(argv[0]);
	parse(argc, argv, &o);
	if (pipe(fds) < 0)
		cf_die("pipe:");
	sigpipe_w = fds[1];
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	cf_serve_api api = {0};
	api.token = read_token(o.token_file);
	api.meta = cf_meta_new();
	if (o.movies)
		cf_meta_load_movies(api.meta, o.movies);
	if (o.links)
		cf_meta_load_links(api.meta, o.links);
	api.links = o.links != NULL;
	if (!(api.models = cf_registry_open(o.models, o.dflt, err, sizeof err)))
		cf_die("%s", err);
	api.trainer = cf_trainer_new(api.models, o.max_jobs);
	api.page = (const char *)cf_serve_page;
	api.page_len = cf_serve_page_len;
	api.train.threads = o.train_threads;
	api.train.seed = o.seed;
	json_object_seed(0);    /* once, before the pool threads make objects */

	cf_http_opts ho = {o.bind, o.port, o.threads, o.max_body, o.timeout, o.log};
	cf_http *srv = cf_http_start(&ho, cf_serve_handle, &api, err, sizeof err);
	if (!srv)
		cf_die("%s", err);
	size_t nm;
	char **names = cf_registry_names(api.models, &nm);
	cf_served *d = cf_registry_get(api.models, NULL);
	const char *v6 = strchr(o.bind, ':') ? "[" : "";
	cf_warn("listening on %s%s%s:%d (%zu model%s, default %s; %u movies; ready in %.1f ms)",
	        v6, o.bind, *v6 ? "]" : "", cf_http_port(srv), nm, nm == 1 ? "" : "s", d->name,
	        cf_meta_count(api.meta), ms_since(&t0));
	cf_served_put(d);
	cf_registry_names_free(names, nm);
	if (!api.token && strcmp(o.bind, "127.0.0.1") != 0 && strcmp(o.bind, "::1") != 0)
		cf_warn("warning: /train is open to anyone who reaches %s: see --token-file",
		        o.bind);

	while (read(fds[0], &c, 1) < 0 && errno == EINTR)
		;
	cf_warn("%s: shutting down", c == SIGINT ? "SIGINT" : "SIGTERM");
	cf_http_stop(srv);
	cf_trainer_free(api.trainer);
	cf_registry_free(api.models);
	cf_meta_free(api.meta);
	free((char *)api.token);
	close(fds[0]);
	close(fds[1]);
	return CF_EXIT_OK;
}
