/*
 * check_util.c - helpers shared by the unit test files (see check_util.h).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_util.h"

/* Runs fn in a child with stderr captured; returns the raw wait status. */
int
cf_test_in_child_status(void (*fn)(void *), void *arg, char *msg, size_t msgsz)
{
	int p[2], status;
	size_t got = 0;
	ssize_t k;
	pid_t pid;

	ck_assert_int_eq(pipe(p), 0);
	fflush(NULL);
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		close(p[0]);
		dup2(p[1], 2);
		fn(arg);
		fflush(NULL);
		_exit(0);
	}
	close(p[1]);
	while (got + 1 < msgsz && (k = read(p[0], msg + got, msgsz - 1 - got)) > 0)
		got += (size_t)k;
	msg[got] = 0;
	close(p[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return status;
}

/* The same for a child that must exit (not die of a signal): its exit status. */
int
cf_test_in_child(void (*fn)(void *), void *arg, char *msg, size_t msgsz)
{
	int status = cf_test_in_child_status(fn, arg, msg, msgsz);

	ck_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

void
cf_test_mkdtemp(char *dir, size_t len, const char *name)
{
	snprintf(dir, len, "/tmp/cf-test-%s-XXXXXX", name);
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

void
cf_test_rmdir(const char *dir)
{
	char cmd[256];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}
