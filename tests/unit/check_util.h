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

#endif
