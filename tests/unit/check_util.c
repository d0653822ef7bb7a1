/*
 * check_util.c - helpers shared by the unit test files (see check_util.h).
 */
#include <check.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_util.h"

/* Runs fn in a child with stderr captured; returns its exit status. */
int
cf_test_in_child(void (*fn)(void *), void *arg, char *msg, size_t msgsz)
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
	ck_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}
