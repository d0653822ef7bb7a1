# bin2csv.sh - frame -> CSV: the contract round trip on the shipped data,
# quoting, float formatting, table selection, listing, decoding.
. "$TOP/tests/e2e/lib.sh"

# The contract form: 100836 data rows, header user,item,rating,timestamp.
t_run "csv2bin ratings" 0 "csv2bin < '$DATA/ratings.csv' > r.bin"
t_run "contract row count" 0 "bin2csv < r.bin | tail -n +2 | wc -l"
t_out_is "contract row count is 100836" "100836"
t_run "ratings header" 0 "bin2csv < r.bin | head -n 1"
t_out_is "ratings header names" "user,item,rating,timestamp"

# csv2bin | bin2csv reproduces the values exactly: compare field by field
# with the original, numbers compared as numbers (4.0 == 4).
t_run "round trip values" 0 "bin2csv < r.bin > back.csv"
t_true "round trip: every value equal" "awk -F, 'NR==FNR { if (FNR > 1) a[FNR] = \$0; next }
	FNR > 1 { split(a[FNR], x, \",\"); if (x[1] != \$1 || x[2] != \$2 || x[3] + 0 != \$3 + 0 || x[4] != \$4) { print FNR; bad = 1; exit 1 } }
	END { exit bad }' '$DATA/ratings.csv' back.csv"

# movies: quoted titles with commas and quotes, non-ASCII, come back intact:
# a second csv2bin of bin2csv's output gives the same bytes.
t_run "movies round trip" 0 "csv2bin < '$DATA/movies.csv' > m.bin && bin2csv < m.bin > m.csv && csv2bin < m.csv > m2.bin && cmp m.bin m2.bin"
t_true "movies: quoted title survives" "grep -q '^11,\"American President, The (1995)\",' m.csv"
t_true "movies: same line count as the source" "test \$(wc -l < m.csv) -eq \$(wc -l < '$DATA/movies.csv')"
t_true "movies: non-ASCII bytes intact" "grep -F 'Misérables' '$DATA/movies.csv' | head -1 | cut -d, -f1 > id && grep -F \"\$(cat id),\" m.csv | grep -qF 'Misérables'"

# --list: one line per table with its row count.
t_run "list" 0 "bin2csv --list < r.bin"
t_true "list shows ratings and 100836 rows" "grep -q '^ratings	100836	user:str,item:str,rating:f32,timestamp:i64' out"

# Several tables: first by default, --table picks, --all prints every one.
t_run "two tables" 0 "cat m.bin r.bin > mr.bin && bin2csv < mr.bin | head -n 1"
t_out_is "first table by default" "item,title,genres"
t_run "table by name" 0 "bin2csv --table ratings < mr.bin | wc -l"
t_out_is "table by name: rows + header" "100837"
t_run "all tables" 0 "bin2csv --all < mr.bin | grep -c '^# table '"
t_out_is "all tables: two headers" "2"
t_run "missing table" 1 "bin2csv --table nope < mr.bin"
t_err_line "missing table" bin2csv "no table named 'nope'"

# Options.
t_run "tab delimiter, no header" 0 "bin2csv -d '\\t' --no-header < r.bin | head -n 1"
t_out_is "tab delimiter" "$(printf '1\t1\t4\t964982703')"
t_run "conflicting flags" 2 "bin2csv --all --list < r.bin"

# Shortest float form that reads back: generated continuous ratings.
t_run "float formatting" 0 "gen-ratings --no-round -n 20000 -u 100 -i 500 --format frame 2>/dev/null > g.bin && gen-ratings --no-round -n 20000 -u 100 -i 500 2>/dev/null > g.csv && bin2csv < g.bin > g2.csv"
t_true "float formatting: values equal within f32 + %.4f rounding" "awk -F, 'NR==FNR { a[FNR] = \$3; next } FNR > 1 && (a[FNR] - \$3 > 0.0001 || \$3 - a[FNR] > 0.0001) { bad = 1 } END { exit bad }' g.csv g2.csv"

# A corrupt tail after the printed table is still reported.
t_run "corrupt second table" 1 "head -c \$((\$(wc -c < mr.bin) - 100)) mr.bin | bin2csv > /dev/null"
t_err_line "corrupt second table" bin2csv "truncated"

# Delimiters CSV quoting cannot live with are refused, saying why.
t_run "-d '\"'" 2 "bin2csv -d '\"' < r.bin"
t_err_has "-d '\"': why" "^bin2csv: bad delimiter '\"': the quote starts and ends quoted fields \\(RFC 4180\\), so it cannot separate them\$"
t_true "-d '\"': usage on stderr, nothing on stdout" "grep -qx \"try 'bin2csv --help'\" err && test ! -s out"
NL=$(printf '\nx') NL=${NL%x}
t_run "-d LF" 2 "bin2csv -d '$NL' < r.bin"
t_err_has "-d LF: why" "^bin2csv: bad delimiter '.n': a line break \\(CR or LF\\) ends a record"
t_run "-d CR" 2 "bin2csv -d \"\$(printf '\\r')\" < r.bin"
t_err_has "-d CR: why" "^bin2csv: bad delimiter '.r': a line break \\(CR or LF\\) ends a record, so it cannot separate fields\$"
t_run "-d two characters" 2 "bin2csv -d ab < r.bin"
t_err_has "-d two characters" "^bin2csv: delimiter must be one character: 'ab'\$"
t_run "-d ';'" 0 "bin2csv -d ';' < r.bin | head -n 1"
t_out_is "-d ';'" "user;item;rating;timestamp"
t_true "--help says which delimiters cannot be" "bin2csv --help | grep -q \"not '\\\"', CR or LF\""
