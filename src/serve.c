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
#include "overlay.h"
#include "titles.h"
#include "train.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The page, made from src/serve/page.html at build time (the Makefile). */
extern const unsigned char cf_serve_page[];
extern const unsigned long cf_serve_page_len;

struct opts {
	const char *models, *dflt, *movies, *links, *bind, *token_file;
	int port, threads, train_threads, max_jobs, log, export_ratings;
	unsigned timeout, request_timeout;
	long long max_conns, max_conns_per_ip;  /* -1: the default */
	size_t max_body, max_user_ratings;
	unsigned long long seed, max_log_bytes;
};

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: serve --models DIR [--default NAME] [--movies FILE [--links FILE]]\n"
	    "             [--bind ADDR] [--port N] [--threads N] [--token-file FILE]\n"
	    "             [--max-body BYTES] [--timeout S] [--request-timeout S]\n"
	    "             [--max-conns N] [--max-conns-per-ip N] [--train-threads N]\n"
	    "             [--max-jobs N] [--seed N] [--max-log-bytes N]\n"
	    "             [--max-user-ratings N] [--quiet]\n"
	    "       serve --models DIR --export-ratings\n"
	    "Serves recommendations over HTTP from the models of DIR (each NAME.bin is a\n"
	    "model, as mf-fit writes it; mapped, not copied), and a web page at /.\n"
	    "\n"
	    "  -m, --models DIR     the models directory (required); /train writes new\n"
	    "                       versions into it (NAME_N.bin, via a temp file; one a\n"
	    "                       killed server left is removed at start)\n"
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
	    "      --timeout S      a connection on which nothing moves for S seconds is\n"
	    "                       closed (default 30)\n"
	    "      --request-timeout S  a request must arrive whole (line, headers, body)\n"
	    "                       within S seconds of the connection opening or of the\n"
	    "                       previous response, however slowly it drips; else the\n"
	    "                       connection is closed; so is a keep-alive connection\n"
	    "                       idle that long (default 10)\n"
	    "      --max-conns N    connections open at once over all threads (default:\n"
	    "                       the open-file limit, raised to its hard limit at\n"
	    "                       start, minus 256, at most 10000); a new one beyond it\n"
	    "                       closes the connection waiting longest for a request\n"
	    "      --max-conns-per-ip N  connections from one client address; more are\n"
	    "                       closed at once (default 256; 0: no limit, e.g. behind\n"
	    "                       a proxy)\n"
	    "      --train-threads N  threads of a /train job (default 1: serving keeps the\n"
	    "                       rest); jobs run one at a time\n"
	    "      --max-jobs N     /train jobs queued or running at once; more get 503\n"
	    "                       (default 4)\n"
	    "      --seed N         the seed of /train's fresh factors (default 42)\n"
	    "      --max-log-bytes N  the ratings log (DIR/ratings.log, what POST /ratings\n"
	    "                       records) may grow to N bytes; beyond, POST /ratings gets\n"
	    "                       413 until the log is folded in (default 268435456)\n"
	    "      --max-user-ratings N  movies one user may rate or hide through POST\n"
	    "                       /ratings; beyond, 409 (default 10000)\n"
	    "      --export-ratings print the ratings log of DIR as CSV (userId,movieId,\n"
	    "                       rating,timestamp: each user's last rating of a movie;\n"
	    "                       rating empty: removed) sorted by user and movie, and\n"
	    "                       exit; the log is only read (make retrain uses it)\n"
	    "  -q, --quiet          no log line per request\n"
	    "  -h, --help           this help;  -V, --version  the version\n"
	    "\n"
	    "Endpoints (JSON; errors are {\"error\":\"...\"} with 400 bad parameter or\n"
	    "malformed request, 401 no token, 404 unknown user, item, model or path, 405\n"
	    "wrong method, 409 a user's --max-user-ratings, 413 body too large or the\n"
	    "ratings log full, 414/431 request line and headers over\n"
	    "32 KiB, 501 unsupported Transfer-Encoding, 503 training queue full or\n"
	    "shutting down).  Ids may be strings or integers, of at most 256 bytes.\n"
	    "  GET  /recommendations?user_id=18[&k=10][&returnMetadata=true]\n"
	    "         {\"items\":[{\"id\":\"74510\"},...]}, with returnMetadata also \"title\"\n"
	    "         and \"genres\"; seen movies excluded; k from 1 to 1000, default 10\n"
	    "         (rated through POST /ratings too); links=true adds imdb and tmdb\n"
	    "         (with --links); explain=N (1..5) adds \"because\": the rated movies\n"
	    "         that pull each one up most\n"
	    "  POST /recommendations[?k=10&returnMetadata=true]\n"
	    "         {\"ratings\":[{\"id\":\"89745\",\"rating\":5},...]}: a new person, folded\n"
	    "         in (mf-score --fold-in); movies the model does not know are ignored\n"
	    "  POST /ratings  {\"user_id\":\"ada\",\"ratings\":[{\"id\":260,\"rating\":5},\n"
	    "         {\"id\":1,\"rating\":null}],\"not_interested\":[1210],\"interested\":[]}\n"
	    "         -> {\"user_id\":\"ada\",\"changed\":3} once fsynced to DIR/ratings.log\n"
	    "         (replayed at start; a torn last record is dropped with a warning);\n"
	    "         null removes a rating; /recommendations and /features of the user\n"
	    "         follow at once (factors re-solved as fold-in); at most 1000 movies\n"
	    "         a request (400), movies must be known to the model (404)\n"
	    "  GET  /features?user_id=18[&returnMetadata=true]\n"
	    "         {\"features\":[{\"histories\":[\"185135\",...]}]}, most recent first\n"
	    "  GET  /similar?item_id=1[&k=10]   the nearest movies by cosine, with metadata\n"
	    "  POST /recommend_movie[?k=20]  {\"user_id\": 9} -> [\"title\", ...]\n"
	    "  GET  /models                  [\"als\", \"ials\", ...]\n"
	    "  POST /predict?model_name=als&top_k=3  [389, 456] ->\n"
	    "         {\"389\":[{\"id\",\"title\",\"genres\",\"year\",\"imdb\",\"tmdb\",\"score\",\n"
	    "         \"rank\"},...],...}: at most 1000 ids, a user named twice answered\n"
	    "         once, users x top_k at most 20000 (else 400); top_k 1..1000, default\n"
	    "         10; the answer is streamed (chunked)\n"
	    "  POST /train?model_name=als[&validation_split=0.2][&patience=10][&epochs=N]\n"
	    "         (without a body: on every rating of the ratings log)\n"
	    "         {\"users\":[...],\"movies\":[...],\"ratings\":[...]} -> \"als_1\" at once:\n"
	    "         fine-tunes in the background (warm start, early stopping on the last\n"
	    "         validation_split of the ratings) and publishes als_1; it replaces the\n"
	    "         default when trained from the default; epochs 1..200 (default: the\n"
	    "         model's own, at most 200)\n"
	    "  GET  /movies?q=godfather+part+ii[&k=20]  title search: words in any case,\n"
	    "         articles and punctuation ignored, prefixes and small typos match;\n"
	    "         by match, then popularity;  GET /users[?k=100]  user ids\n"
	    "  GET  /healthz;  GET /  the web page\n"
	    "Every read endpoint takes model_name (default: the default model).\n"
	    "Stops on SIGTERM or SIGINT, exit 0: queued /train jobs are cancelled, and a\n"
	    "running one is abandoned (nothing of it is written) unless it is writing its\n"
	    "version, which is waited for.\n");
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
	       O_SEED, O_RTIMEOUT, O_CONNS, O_CONNS_IP, O_LOGMAX, O_USERMAX, O_EXPORT };
	static const struct option lo[] = {
		{"models", 1, 0, 'm'}, {"default", 1, 0, 'd'}, {"movies", 1, 0, O_MOVIES},
		{"links", 1, 0, O_LINKS}, {"bind", 1, 0, 'b'}, {"port", 1, 0, 'p'},
		{"threads", 1, 0, 't'}, {"token-file", 1, 0, O_TOKEN},
		{"max-body", 1, 0, O_BODY}, {"timeout", 1, 0, O_TIMEOUT},
		{"request-timeout", 1, 0, O_RTIMEOUT}, {"max-conns", 1, 0, O_CONNS},
		{"max-conns-per-ip", 1, 0, O_CONNS_IP},
		{"train-threads", 1, 0, O_TTHREADS}, {"max-jobs", 1, 0, O_JOBS},
		{"seed", 1, 0, O_SEED}, {"max-log-bytes", 1, 0, O_LOGMAX},
		{"max-user-ratings", 1, 0, O_USERMAX}, {"export-ratings", 0, 0, O_EXPORT},
		{"quiet", 0, 0, 'q'}, CF_STD_LONGOPTS, {0, 0, 0, 0},
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
	o->request_timeout = 10;
	o->max_conns = o->max_conns_per_ip = -1;
	o->max_body = 1 << 20;
	o->seed = 42;
	o->max_log_bytes = 256ULL << 20;
	o->max_user_ratings = 10000;
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
		case O_RTIMEOUT:
			o->request_timeout = (unsigned)number("--request-timeout", optarg, 1, 86400);
			break;
		case O_CONNS: o->max_conns = number("--max-conns", optarg, 1, 1000000); break;
		case O_CONNS_IP:
			o->max_conns_per_ip = number("--max-conns-per-ip", optarg, 0, 1000000);
			break;
		case O_TTHREADS: o->train_threads = (int)number("--train-threads", optarg, 1, 256); break;
		case O_JOBS: o->max_jobs = (int)number("--max-jobs", optarg, 1, 1000); break;
		case O_SEED: o->seed = (unsigned long long)number("--seed", optarg, 0, LLONG_MAX); break;
		case O_LOGMAX:
			o->max_log_bytes = (unsigned long long)number("--max-log-bytes", optarg, 4096,
			                                              1LL << 40);
			break;
		case O_USERMAX:
			o->max_user_ratings = (size_t)number("--max-user-ratings", optarg, 1, 10000000);
			break;
		case O_EXPORT: o->export_ratings = 1; break;
		case 'q': o->log = 0; break;
		case 'h': usage(stdout); cf_close_stdout(); exit(CF_EXIT_OK);
		case 'V': cf_version();
		default: cf_usage_hint();      /* getopt said what was wrong */
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
	struct stat st;
	if (!fp)
		cf_die("--token-file %s:", path);
	if (fstat(fileno(fp), &st) == 0 && S_ISDIR(st.st_mode))
		cf_die("--token-file %s: is a directory, not a file holding the token", path);
	errno = 0;
	n = getline(&line, &cap, fp);
	if (n < 0 && ferror(fp))
		cf_die("--token-file %s: cannot read it:", path);
	fclose(fp);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' ' ||
	                 line[n - 1] == '\t'))
		line[--n] = 0;
	if (n <= 0)
		cf_die("--token-file %s: the first line (the token) is empty", path);
	return line;
}

/* --export-ratings: the log as CSV on stdout; exits. */
static void
export_ratings(const char *dir)
{
	char path[4096], warn[600], err[600];
	cf_ov_limits lim = {(size_t)-1, UINT64_MAX};

	snprintf(path, sizeof path, "%s/ratings.log", dir);
	cf_overlay *ov = cf_overlay_open(path, 1, &lim, warn, sizeof warn, err, sizeof err);
	if (!ov)
		cf_die("%s", err);
	if (warn[0])
		cf_warn("%s", warn);
	if (cf_overlay_export(ov, stdout) < 0)
		cf_die("stdout: cannot write:");
	cf_overlay_free(ov);
	cf_close_stdout();
	exit(CF_EXIT_OK);
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

/* Raises the soft open-file limit to the hard one; the limit now. */
static long long
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 1024;
	if (rl.rlim_cur < rl.rlim_max) {
		rlim_t want = rl.rlim_max;
		rl.rlim_cur = want;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			getrlimit(RLIMIT_NOFILE, &rl);
	}
	return rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (rlim_t)LLONG_MAX / 2 ?
	       LLONG_MAX / 2 : (long long)rl.rlim_cur;
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
	if (o.export_ratings)
		export_ratings(o.models);
	/*
	 * A fixed mmap threshold: a large buffer (a body, an answer) is mapped
	 * and given back when freed.  glibc's default raises the threshold to
	 * the largest block freed, after which such buffers stay in the heap.
	 */
	mallopt(M_MMAP_THRESHOLD, 256 * 1024);
	long long fdmax = raise_nofile();
	if (o.max_conns < 0)
		o.max_conns = fdmax - 256 < 16 ? 16 : fdmax - 256 > 10000 ? 10000 : fdmax - 256;
	else if (o.max_conns > fdmax - 64) {
		cf_warn("warning: --max-conns %lld is more than the open-file limit (%lld) allows: "
		        "using %lld", o.max_conns, fdmax, fdmax - 64 < 1 ? 1 : fdmax - 64);
		o.max_conns = fdmax - 64 < 1 ? 1 : fdmax - 64;
	}
	if (o.max_conns_per_ip < 0)
		o.max_conns_per_ip = 256;
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
	if (o.movies && cf_meta_load_movies(api.meta, o.movies) == 0)
		cf_die("--movies %s: no movies in it", o.movies);
	if (o.links)
		cf_meta_load_links(api.meta, o.links);
	api.links = o.links != NULL;
	if (!(api.models = cf_registry_open(o.models, o.dflt, err, sizeof err)))
		cf_die("%s", err);
	api.titles = cf_titles_new(api.meta);
	char logpath[4096], warn[600];
	snprintf(logpath, sizeof logpath, "%s/ratings.log", o.models);
	cf_ov_limits lim = {o.max_user_ratings, o.max_log_bytes};
	if (!(api.ratings = cf_overlay_open(logpath, 0, &lim, warn, sizeof warn, err, sizeof err)))
		cf_die("%s", err);
	if (warn[0])
		cf_warn("%s", warn);
	api.trainer = cf_trainer_new(api.models, o.max_jobs);
	if (o.movies)
		cf_trainer_set_items(api.trainer, api.meta);    /* fm retrains with genres */
	api.page = (const char *)cf_serve_page;
	api.page_len = cf_serve_page_len;
	api.train.threads = o.train_threads;
	api.train.seed = o.seed;
	json_object_seed(0);    /* once, before the pool threads make objects */

	cf_http_opts ho = {o.bind, o.port, o.threads, o.max_body, o.timeout, o.request_timeout,
	                   (unsigned)o.max_conns, (unsigned)o.max_conns_per_ip, o.log};
	cf_http *srv = cf_http_start(&ho, cf_serve_handle, &api, err, sizeof err);
	if (!srv)
		cf_die("%s", err);
	size_t nm;
	char **names = cf_registry_names(api.models, &nm);
	cf_served *d = cf_registry_get(api.models, NULL);
	const char *v6 = strchr(o.bind, ':') ? "[" : "";
	size_t lusers;
	uint64_t lbytes;
	cf_overlay_stats(api.ratings, &lusers, &lbytes);
	cf_warn("listening on %s%s%s:%d (%zu model%s, default %s; %u movies; ratings log: %zu "
	        "user%s, %llu bytes; ready in %.1f ms)", v6, o.bind, *v6 ? "]" : "",
	        cf_http_port(srv), nm, nm == 1 ? "" : "s", d->name, cf_meta_count(api.meta),
	        lusers, lusers == 1 ? "" : "s", (unsigned long long)lbytes, ms_since(&t0));
	cf_served_put(d);
	cf_registry_names_free(names, nm);
	if (!api.token && strcmp(o.bind, "127.0.0.1") != 0 && strcmp(o.bind, "::1") != 0)
		cf_warn("warning: /train is open to anyone who reaches %s: see --token-file",
		        o.bind);

	while (read(fds[0], &c, 1) < 0 && errno == EINTR)
		;
	cf_warn("%s: shutting down", c == SIGINT ? "SIGINT" : "SIGTERM");
	/* First: a /train arriving while the daemons stop gets 503. */
	int abandoned = cf_trainer_stop(api.trainer);
	cf_http_stop(srv);
	if (abandoned) {
		/*
		 * A job is inside cf_mf_train, which cannot be interrupted: exit
		 * without freeing what it uses.  Its version would only be written
		 * once trained, so nothing partial is left.
		 */
		fflush(stderr);
		_exit(CF_EXIT_OK);
	}
	cf_trainer_free(api.trainer);
	cf_overlay_free(api.ratings);
	cf_titles_free(api.titles);
	cf_registry_free(api.models);
	cf_meta_free(api.meta);
	free((char *)api.token);
	close(fds[0]);
	close(fds[1]);
	return CF_EXIT_OK;
}
