/*
 * check_util.h - helpers shared by the unit test files.
 */
#ifndef CF_CHECK_UTIL_H
#define CF_CHECK_UTIL_H

#include <stddef.h>

/*
 * Runs fn(arg) in a child process with its stderr captured into msg
 * (NUL-terminated, at most msgsz - 1 bytes); returns its exit status (0 if
 * fn returns).  For code that reports errors by exiting (cf_die).
 */
int cf_test_in_child(void (*fn)(void *), void *arg, char *msg, size_t msgsz);
/* The raw wait status: for a child that may die of a signal. */
int cf_test_in_child_status(void (*fn)(void *), void *arg, char *msg, size_t msgsz);

/* A fresh /tmp/cf-test-NAME-XXXXXX into dir, and its removal with all in it. */
void cf_test_mkdtemp(char *dir, size_t len, const char *name);
void cf_test_rmdir(const char *dir);

#endif
