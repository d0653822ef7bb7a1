/*
 * cfcopy - a test helper: copies any frame stream (stdin) to stdout through
 * the C library, every table, column type, vector width and attribute, one
 * block for every block read.  The tests feed it streams written by the
 * independent writer (tests/tools/cfwrite.py) so that the bytes other
 * readers then check are the C writer's, whatever the types.
 */
#include "frame.h"
#include "util.h"

#include <stdlib.h>

int
main(int argc, char **argv)
{
	const cf_schema *s;
	cf_block b;
	int rc;

	(void)argc;
	cf_setprog(argv[0]);
	cf_reader *r = cf_reader_open(0, "stdin");
	cf_writer *w = cf_writer_new(stdout, "stdout");
	while (cf_read_table(r, &s) == 1) {
		cf_write_table(w, s);
		const void **cols = cf_xcalloc(s->ncols ? s->ncols : 1, sizeof *cols);
		cf_strcol *str = cf_xcalloc(s->ncols ? s->ncols : 1, sizeof *str);
		while ((rc = cf_read_block(r, &b)) == 1) {
			for (uint32_t c = 0; c < s->ncols; c++) {
				if (s->cols[c].type == CF_STR) {
					str[c].off = b.col[c];
					str[c].data = (const char *)(str[c].off + b.nrows + 1);
					cols[c] = &str[c];
				} else {
					cols[c] = b.col[c];
				}
			}
			cf_write_block(w, b.nrows, cols);
		}
		free(cols);
		free(str);
		cf_write_end(w);
	}
	cf_writer_finish(w);
	cf_reader_close(r);
	cf_close_stdout();
	return 0;
}
