/*
 * replay.c - runs a fuzz target's corpus without a fuzzer, as zstd's and
 * sqlite's regression drivers do: linked with one tests/fuzz/fuzz_*.c, it
 * feeds every file named on the command line (a directory: each regular
 * file in it, in name order) to LLVMFuzzerTestOneInput.
 *
 *   replay-frame tests/fuzz/corpus/frame
 *
 * Each input runs in a child process, so one bad input is reported by
 * name and the rest still run.  An input passes if its child exits 0; a
 * target that defines cf_fuzz_exit_ok to 1 (one whose code dies by design
 * on bad input, like cf_ratings_read) also passes on exit status 1.  Any
 * other status or a signal (a sanitizer report aborts) fails it.  Prints
 * one line of totals; the exit status is 1 if any input failed.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
extern const int cf_fuzz_exit_ok __attribute__((weak));

static int npass, nfail;

static int
run_one(const char *path)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0, k;

	if (!fp) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	do {
		if (len == cap) {
			cap = cap ? 2 * cap : 65536;
			if (!(buf = realloc(buf, cap))) {
				fprintf(stderr, "replay: out of memory\n");
				exit(2);
			}
		}
		k = fread(buf + len, 1, cap - len, fp);
		len += k;
	} while (k > 0);
	if (ferror(fp)) {
		fprintf(stderr, "replay: %s: read error\n", path);
		fclose(fp);
		free(buf);
		return -1;
	}
	fclose(fp);
	/* An exact-size copy, so ASan sees a read past the input's end. */
	uint8_t *data = malloc(len ? len : 1);
	if (!data)
		exit(2);
	memcpy(data, buf, len);
	free(buf);
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		perror("replay: fork");
		exit(2);
	}
	if (pid == 0) {
		LLVMFuzzerTestOneInput(data, len);
		fflush(NULL);
		_exit(0);
	}
	free(data);
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR) {
			perror("replay: waitpid");
			exit(2);
		}
	if (WIFEXITED(st) && (WEXITSTATUS(st) == 0 ||
	                      (WEXITSTATUS(st) == 1 && &cf_fuzz_exit_ok && cf_fuzz_exit_ok)))
		return 0;
	if (WIFEXITED(st))
		fprintf(stderr, "replay: FAIL %s: exit status %d\n", path, WEXITSTATUS(st));
	else
		fprintf(stderr, "replay: FAIL %s: killed by signal %d\n", path,
		        WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	return -1;
}

static int
cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
count(int rc)
{
	if (rc == 0)
		npass++;
	else
		nfail++;
}

static void
run_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, cap = 0;

	if (!d) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		nfail++;
		return;
	}
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			names = realloc(names, cap * sizeof *names);
		}
		size_t l = strlen(dir) + strlen(e->d_name) + 2;
		names[n] = malloc(l);
		snprintf(names[n], l, "%s/%s", dir, e->d_name);
		n++;
	}
	closedir(d);
	qsort(names, n, sizeof *names, cmp);
	for (size_t i = 0; i < n; i++) {
		struct stat st;
		if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode))
			count(run_one(names[i]));
		free(names[i]);
	}
	free(names);
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
			run_dir(argv[i]);
		else
			count(run_one(argv[i]));
	}
	printf("replay %s: %d inputs passed, %d failed\n", argv[0], npass, nfail);
	return nfail ? 1 : 0;
}
