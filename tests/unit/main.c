/*
 * main.c - the unit test runner: every suite in tests/unit/ in one Check
 * SRunner.  `make unit` runs it with CK_FORK=no (one process, easy to
 * debug); tests/run.sh runs it with CK_FORK=yes, where exit tests run too.
 * Prints Check's normal summary; exits non-zero if any check failed.
 */
#include <check.h>
#include <signal.h>
#include <stdlib.h>

Suite *frame_suite(void);
Suite *idmap_suite(void);
Suite *util_suite(void);
Suite *ratings_suite(void);
Suite *metrics_suite(void);
Suite *mf_suite(void);
Suite *fm_suite(void);
Suite *score_suite(void);
Suite *serve_suite(void);
Suite *dups_suite(void);
Suite *typeguess_suite(void);
Suite *metajson_suite(void);
Suite *search_suite(void);
Suite *utf8_suite(void);
Suite *ratelog_suite(void);
Suite *blend_suite(void);

int
main(void)
{
	SRunner *sr;
	int failed;

	/* Pipe tests close the read end early: a write must fail with EPIPE, not kill us. */
	signal(SIGPIPE, SIG_IGN);
	sr = srunner_create(frame_suite());
	srunner_add_suite(sr, idmap_suite());
	srunner_add_suite(sr, util_suite());
	srunner_add_suite(sr, ratings_suite());
	srunner_add_suite(sr, metrics_suite());
	srunner_add_suite(sr, mf_suite());
	srunner_add_suite(sr, fm_suite());
	srunner_add_suite(sr, score_suite());
	srunner_add_suite(sr, serve_suite());
	srunner_add_suite(sr, dups_suite());
	srunner_add_suite(sr, typeguess_suite());
	srunner_add_suite(sr, metajson_suite());
	srunner_add_suite(sr, search_suite());
	srunner_add_suite(sr, utf8_suite());
	srunner_add_suite(sr, ratelog_suite());
	srunner_add_suite(sr, blend_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
