# split.sh - train/test splits: the contract pipeline on the shipped data
# (counts, disjoint halves whose union is the input, shared dictionaries,
# input order, determinism), every mode's promise, usage and runtime
# errors, and no test file left behind by a failure.
. "$TOP/tests/e2e/lib.sh"

N=100836
rows() {	# rows FILE: the ratings rows of a stream, no header
	bin2csv --no-header < "$1"
}

csv2bin < "$DATA/ratings.csv" > raw.bin
encode-ids < raw.bin > enc.bin
rows enc.bin > all.csv
sort all.csv > all.sorted
bin2csv --table users < enc.bin > users.csv
bin2csv --table items < enc.bin > items.csv

# ---- the contract form ------------------------------------------------
t_run "contract pipeline" 0 "csv2bin < '$DATA/ratings.csv' | encode-ids | split --test test.bin --ratio 0.2 --seed 42 > train.bin"
t_true "quiet by default" "test ! -s err"
rows train.bin > train.csv
rows test.bin > test.csv
t_true "test holds round(0.2 * $N) = 20167 rows" "test \$(wc -l < test.csv) -eq 20167"
t_true "train holds the other 80669" "test \$(wc -l < train.csv) -eq 80669"
t_true "train and test share no row" "sort train.csv > a && sort test.csv > b && test -z \"\$(comm -12 a b)\""
t_true "train + test is exactly the input" "sort train.csv test.csv | cmp - all.sorted"
for f in train test; do
	t_true "$f carries the full users dictionary" "bin2csv --table users < $f.bin | cmp - users.csv"
	t_true "$f carries the full items dictionary" "bin2csv --table items < $f.bin | cmp - items.csv"
	t_true "$f is encoded, attributes kept" \
		"bin2csv --list < $f.bin | head -n 1 | grep 'encoded=1' | grep -q 'rating_max=5'"
	# (user, item) is unique in the data, so it names an input row.
	t_true "$f keeps input order" "awk -F, 'NR == FNR { pos[\$1 \",\" \$2] = FNR; next }
		{ p = pos[\$1 \",\" \$2]; if (p <= last) exit 1; last = p }' all.csv $f.csv"
done
t_run "verbose counts" 0 "split -v --test t.bin < enc.bin > /dev/null"
t_err_line "verbose counts" split "80669 train, 20167 test$"

# ---- determinism ------------------------------------------------------
t_run "same seed again" 0 "split --test test2.bin --seed 42 < enc.bin > train2.bin"
t_true "same seed: identical test bytes" "cmp test.bin test2.bin"
t_true "same seed: identical train bytes" "cmp train.bin train2.bin"
t_true "default is --ratio 0.2 --seed 42" "split --test t3.bin < enc.bin | cmp - train.bin && cmp t3.bin test.bin"
t_true "raw input gives the same bytes as encoded" \
	"split --test t4.bin --seed 42 < raw.bin | cmp - train.bin && cmp t4.bin test.bin"
t_run "other seed" 0 "split --test test5.bin --seed 43 < enc.bin > train5.bin"
t_true "other seed: different test set" "! cmp -s test.bin test5.bin"
t_true "other seed: same size" "test \$(bin2csv --no-header < test5.bin | wc -l) -eq 20167"
t_run "ratio 0.1" 0 "split --ratio 0.1 --test t.bin < enc.bin > /dev/null && bin2csv --no-header < t.bin | wc -l"
t_out_is "ratio 0.1: round(10083.6) = 10084 test rows" "10084"

# ---- per user ---------------------------------------------------------
# Every user holds out round(R * n_u) rows, but keeps at least M in train.
t_run "per-user" 0 "split --per-user 0.5 --min-train 15 --seed 1 --test pu.bin < enc.bin > pu-train.bin"
rows pu.bin > pu.csv
rows pu-train.bin > pu-train.csv
t_true "per-user: train + test is the input" "sort pu.csv pu-train.csv | cmp - all.sorted"
t_true "per-user: every user keeps >= 15 in train, test is round(0.5 n_u) or capped" \
	"awk -F, 'FILENAME == \"all.csv\" { n[\$1]++ } FILENAME == \"pu.csv\" { t[\$1]++ }
	FILENAME == \"pu-train.csv\" { r[\$1]++ }
	END { for (u in n) { w = int(0.5 * n[u] + 0.5); if (w > n[u] - 15) w = n[u] - 15;
		if (t[u] + 0 != w || r[u] < 15) exit 1; k++ } exit k != 610 }' all.csv pu.csv pu-train.csv"

# Edge cases on a small file: ties, a user with one rating.
printf 'userId,movieId,rating,timestamp\na,1,4,100\na,2,3,100\nb,1,5,50\nc,1,2,10\nc,2,2,20\nc,3,2,20\n' > small.csv
csv2bin < small.csv > small.bin
t_run "per-user: min-train caps the share" 0 "split --per-user 0.9 --test s.bin < small.bin > /dev/null && bin2csv --decode --no-header < s.bin | cut -d, -f1 | sort | uniq -c | awk '{ printf \"%s%s \", \$2, \$1 }'"
t_out_is "per-user 0.9: a1 c2 (b keeps its one rating)" "a1 c2 "
t_run "per-user: --min-train 0" 0 "split --per-user 0.9 --min-train 0 --test s.bin < small.bin | bin2csv --no-header | wc -l"
t_out_is "per-user --min-train 0: train empty" "0"

# ---- temporal ---------------------------------------------------------
t_run "last 1" 0 "split --last 1 --test last.bin < enc.bin > last-train.bin"
rows last.bin > last.csv
rows last-train.bin > last-train.csv
t_true "last 1: one test row per user" \
	"test \$(wc -l < last.csv) -eq 610 && test \$(cut -d, -f1 last.csv | sort -u | wc -l) -eq 610"
# The test row is the user's latest: no train row of that user is later by
# timestamp, or as late and later in the input.
t_true "last 1: it is that user's latest" \
	"awk -F, 'FILENAME == \"all.csv\" { pos[\$1 \",\" \$2] = FNR; next }
	FILENAME == \"last.csv\" { ts[\$1] = \$4; p[\$1] = pos[\$1 \",\" \$2]; next }
	{ if (\$4 > ts[\$1] || (\$4 == ts[\$1] && pos[\$1 \",\" \$2] > p[\$1])) exit 1 }' all.csv last.csv last-train.csv"
t_true "last 1: train + test is the input" "sort last.csv last-train.csv | cmp - all.sorted"
t_run "last 1 on ties" 0 "split --last 1 --test s.bin < small.bin > /dev/null && bin2csv --decode --no-header < s.bin | cut -d, -f1,2 | tr '\n' ' '"
t_out_is "last 1: ties go to the later input row; b keeps its one" "a,2 c,3 "
t_run "last 5" 0 "split --last 5 --test s.bin < small.bin > /dev/null && bin2csv --decode --no-header < s.bin | cut -d, -f1,2 | tr '\n' ' '"
t_out_is "last 5: every user keeps one in train" "a,2 c,2 c,3 "

cut=1400000000
t_run "time-cut" 0 "split --time-cut $cut --test tc.bin < enc.bin > tc-train.bin"
t_true "time-cut: test is every row at or after the cut" \
	"bin2csv --no-header < tc.bin | awk -F, '\$4 < $cut { exit 1 }' && test \$(bin2csv --no-header < tc.bin | wc -l) -eq \$(awk -F, '\$4 >= $cut' all.csv | wc -l)"
t_true "time-cut: train is every row before it" \
	"bin2csv --no-header < tc-train.bin | awk -F, '\$4 >= $cut { exit 1 }' && test \$(bin2csv --no-header < tc-train.bin | wc -l) -eq \$(awk -F, '\$4 < $cut' all.csv | wc -l)"

t_run "time-ratio" 0 "split --time-ratio 0.2 --test tr.bin < enc.bin > tr-train.bin"
t_true "time-ratio: 20167 test rows" "test \$(bin2csv --no-header < tr.bin | wc -l) -eq 20167"
t_true "time-ratio: no train row is later than a test row" \
	"a=\$(bin2csv --no-header < tr-train.bin | cut -d, -f4 | sort -n | tail -n 1) && b=\$(bin2csv --no-header < tr.bin | cut -d, -f4 | sort -n | head -n 1) && test -n \"\$a\" && test -n \"\$b\" && test \"\$a\" -le \"\$b\""

# ---- k-fold -----------------------------------------------------------
for i in 0 1 2 3 4; do
	split --folds 5 --fold $i --seed 7 --test f$i.bin < enc.bin > ft$i.bin
	rows f$i.bin > f$i.csv
done
t_true "folds: the 5 test sets partition the input" "sort f0.csv f1.csv f2.csv f3.csv f4.csv | cmp - all.sorted"
t_true "folds: sizes differ by at most one" \
	"wc -l f?.csv | awk '\$2 != \"total\" { if (\$1 != 20167 && \$1 != 20168) exit 1 }'"
t_true "folds: train of fold 2 is the other four" \
	"sort f0.csv f1.csv f3.csv f4.csv > o4 && bin2csv --no-header < ft2.bin | sort | cmp - o4"

# ---- usage errors (exit 2) -------------------------------------------
for bad in "--ratio 0" "--ratio 1" "--ratio 1.5" "--ratio -0.2" "--ratio nan" "--ratio x" \
           "--per-user 0" "--time-ratio 2" "--last 0" "--last -1" "--folds 0 --fold 0" \
           "--folds 1 --fold 0" "--folds 5 --fold 5" "--folds 5" "--fold 1" "--seed -1" \
           "--time-cut soon" "--ratio 0.2 --last 1" "--min-train 2"; do
	t_run "usage: $bad" 2 "split --test u.bin $bad < enc.bin > o.bin"
	t_true "usage: $bad: the message, then one hint line" \
		"test \$(wc -l < err) -eq 2 && head -n 1 err | grep -q '^split: .*--' && grep -qx \"try 'split --help'\" err"
done
t_run "usage: no --test" 2 "split < enc.bin > o.bin"
t_err_has "usage: no --test says so" "^split: --test FILE is required"
t_true "usage errors leave no test file" "test ! -e u.bin"

# ---- runtime errors (exit 1, one line, no test file) -----------------
cut -d, -f1-3 "$DATA/ratings.csv" | csv2bin > nots.bin
for m in "--time-cut 5" "--time-ratio 0.2" "--last 1"; do
	t_run "no timestamps: $m" 1 "split $m --test nt.bin < nots.bin > o.bin"
	t_err_line "no timestamps: $m" split "no 'timestamp' column"
done
t_true "no timestamps: no test file" "test ! -e nt.bin"
t_run "no timestamps: random modes work" 0 "split --test nt.bin < nots.bin | bin2csv --no-header | wc -l"
t_out_is "no timestamps: 80669 train rows" "80669"
csv2bin < "$DATA/movies.csv" > movies.bin
t_run "wrong table kind" 1 "split --test w.bin < movies.bin > o.bin"
t_err_line "wrong table kind" split "expected a 'ratings' table, found 'movies'"
: > empty.bin
t_run "empty input" 1 "split --test w.bin < empty.bin > o.bin"
t_err_line "empty input" split "stdin: empty input"
t_run "truncated input" 1 "head -c 300000 enc.bin | split --test w.bin > o.bin"
t_err_line "truncated input" split "stdin: byte [0-9]+: truncated"
t_run "stdout full" 1 "split --test w.bin < enc.bin > /dev/full"
t_err_line "stdout full" split "write error"
t_true "failures leave no test file and no temp file" "test ! -e w.bin && ! ls | grep -q '^w.bin'"
cp test.bin keep.bin
t_run "a failure keeps an older test file as it was" 1 "split --seed 9 --test keep.bin < enc.bin > /dev/full"
t_true "older test file untouched" "cmp keep.bin test.bin"
t_run "test file in a missing directory" 1 "split --test no/such/dir/t.bin < enc.bin > o.bin"
t_err_line "test file in a missing directory" split "no/such/dir/t.bin"

# An output that is not a regular file (a FIFO here; /dev/null as root) is
# written as it is: the temp-file-and-rename would replace it with a file.
mkfifo fifo.out
cat fifo.out > from-fifo.bin &
t_run "--test to a FIFO" 0 "csv2bin < '$DATA/ratings.csv' | encode-ids | split --test fifo.out --ratio 0.2 --seed 1 > tr.bin"
wait
t_true "the FIFO is still a FIFO, and the test set came through it" \
	"test -p fifo.out && test -s from-fifo.bin && bin2csv --list < from-fifo.bin | head -n 1 | grep -q ratings"

# ---- one ratings stream, nothing more --------------------------------
# A ratings table (encoded: with its users and items tables right after
# it) and the end: more is an error naming the byte where it starts.
size=$(wc -c < enc.bin)
t_run "two streams" 1 "cat enc.bin enc.bin | split --test w.bin > o.bin"
t_err_line "two streams: where the second starts" split \
	"stdin: byte $size: a 'ratings' table after the ratings and their 'users' and 'items' dictionaries"
t_run "bytes after the stream" 1 "{ cat enc.bin; printf 'trailing garbage'; } | split --test w.bin > o.bin"
t_err_line "bytes after the stream" split "stdin: byte $size: .*data after the last table"
t_run "a table after raw ratings" 1 "cat raw.bin movies.bin | split --test w.bin > o.bin"
t_err_line "a table after raw ratings" split "stdin: byte $(wc -c < raw.bin): a 'movies' table after the 'ratings' table"
python3 "$TOP/tests/tools/cfwrite.py" > between.bin <<'JSON'
[{"name": "ratings", "columns": [["user", "u32"], ["item", "u32"], ["rating", "f32"]],
  "attrs": [["encoded", "1"]], "rows": [[0, 0, 4.0], [1, 0, 3.0]]},
 {"name": "notes", "columns": [["text", "str"]], "rows": [["x"]]},
 {"name": "users", "columns": [["id", "str"]], "rows": [["a"], ["b"]]},
 {"name": "items", "columns": [["id", "str"]], "rows": [["i"]]}]
JSON
t_run "a table between the ratings and its dictionaries" 1 "split --test w.bin < between.bin > o.bin"
t_err_line "a table between the ratings and its dictionaries" split \
	"expected the 'users' table of the encoded ratings, found 'notes'"
t_true "none of them leaves a test file" "test ! -e w.bin && ! ls | grep -q '^w\\.bin'"

# ---- outputs abandoned: no temp file is left behind -------------------
# The reader of train goes away while test is pending: test is removed,
# and one line says so (a bare "| head" with nothing lost stays quiet).
t_run "split | head -c 10" 0 "split --test ht.bin < enc.bin | head -c 10 > h.out"
t_true "split | head: no test file, no temp file" "! ls | grep -q '^ht\\.bin'"
t_err_line "split | head: says the test file was not written" split \
	"stdout: the reader went away \\((SIGPIPE|EPIPE)\\); ht.bin not written$"
# The file size limit (ulimit -f): one line naming the file, exit 1.
t_run "file size limit on --test" 1 "ulimit -f 100; split --test ut.bin < enc.bin > ut-train.bin"
t_err_line "file size limit on --test: says which file" split \
	"ut.bin: (file size limit exceeded|write error: File too large)$"
t_true "file size limit on --test: no test file, no temp file" "! ls | grep -q '^ut\\.bin'"
t_run "file size limit on csv2bin -o" 1 "ulimit -f 100; csv2bin -o uc.bin '$DATA/ratings.csv'"
t_err_line "file size limit on csv2bin -o: says which file" csv2bin \
	"uc.bin: (file size limit exceeded|write error: File too large)$"
t_true "file size limit on csv2bin -o: no output, no temp file" "! ls | grep -q '^uc\\.bin'"
t_run "file size limit on stdout" 1 "ulimit -f 100; csv2bin < '$DATA/ratings.csv' > us.bin"
t_err_line "file size limit on stdout: says so" csv2bin \
	"stdout: (file size limit exceeded|write error: File too large)$"
