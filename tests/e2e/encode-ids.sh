# encode-ids.sh - raw ids -> dense indices: counts and first-appearance
# order on the shipped data, decoding gives the input back, idempotence,
# other tables pass through, streaming, one-line errors.
. "$TOP/tests/e2e/lib.sh"

csv2bin < "$DATA/ratings.csv" > raw.bin
csv2bin < "$DATA/movies.csv" > movies.bin

t_run "encode shipped data" 0 "encode-ids < raw.bin > enc.bin"
t_true "quiet by default" "test ! -s err"
t_run "list tables" 0 "bin2csv --list < enc.bin | cut -f 1-3"
t_out_is "ratings, 610 users, 9724 items" "ratings	100836	user:u32,item:u32,rating:f32,timestamp:i64
users	610	id:str
items	9724	id:str"
t_true "encoded=1 and the input's attributes kept" \
	"bin2csv --list < enc.bin | head -n 1 | grep 'encoded=1' | grep 'rating_min=' | grep -q 'dups='"
t_run "verbose summary" 0 "encode-ids -v < raw.bin > /dev/null"
t_err_line "verbose summary" encode-ids "100836 ratings, 610 users, 9724 items$"

# Indices are dense, in order of first appearance: the users dictionary is
# the CSV's user column with repeats dropped, in order; so are the items.
tail -n +2 "$DATA/ratings.csv" | cut -d, -f1 | awk '!seen[$0]++' > users.want
tail -n +2 "$DATA/ratings.csv" | cut -d, -f2 | awk '!seen[$0]++' > items.want
t_true "users in order of first appearance" \
	"bin2csv --table users --no-header < enc.bin | cmp - users.want"
t_true "items in order of first appearance" \
	"bin2csv --table items --no-header < enc.bin | cmp - items.want"
t_true "first row is user 0, item 0" \
	"bin2csv --no-header < enc.bin | head -n 1 | grep -q '^0,0,'"
t_true "largest indices are 609 and 9723" \
	"bin2csv --no-header < enc.bin | awk -F, '\$1 > u { u = \$1 } \$2 > i { i = \$2 } END { exit !(u == 609 && i == 9723) }'"
# Decoding the indices through the dictionaries gives the raw table back.
t_true "decode gives the input back" \
	"bin2csv --decode < enc.bin > dec.csv && bin2csv < raw.bin | cmp - dec.csv"

t_run "idempotent" 0 "encode-ids < enc.bin > enc2.bin"
t_true "encoding twice changes nothing" "cmp enc.bin enc2.bin"
t_run "file operand" 0 "encode-ids raw.bin > enc3.bin"
t_true "file operand: same bytes as stdin" "cmp enc.bin enc3.bin"

# Other tables pass through unchanged, after the dictionaries.
t_run "other tables pass through" 0 "cat raw.bin movies.bin | encode-ids > em.bin"
t_run "table order" 0 "bin2csv --list < em.bin | cut -f 1 | tr '\n' ' '"
t_out_is "ratings, users, items, movies" "ratings users items movies "
t_true "movies unchanged" \
	"bin2csv --table movies < em.bin > m1.csv && bin2csv < movies.bin | cmp - m1.csv"
t_true "encoded stream with other tables passes through whole" \
	"encode-ids < em.bin | cmp - em.bin"

# Streaming: a stream cut after its first block still yields that block
# encoded on stdout before the one-line error (a program that read
# everything first would write nothing).
t_run "truncated input" 1 "head -c 2000000 raw.bin | encode-ids > cut.bin"
t_err_line "truncated input" encode-ids "stdin: byte [0-9]+: truncated"
t_true "first block written before the error" "test \$(wc -c < cut.bin) -gt 1000000"

# One-line errors.
t_run "wrong table kind" 1 "encode-ids < movies.bin > o.bin"
t_err_line "wrong table kind" encode-ids "expected a 'ratings' table, found 'movies'"
: > empty.bin
t_run "empty input" 1 "encode-ids < empty.bin > o.bin"
t_err_line "empty input" encode-ids "stdin: empty input"
t_run "two ratings tables" 1 "cat raw.bin raw.bin | encode-ids > o.bin"
t_err_line "two ratings tables" encode-ids "a second 'ratings' table"
t_run "missing file" 1 "encode-ids no-such.bin > o.bin"
t_err_line "missing file" encode-ids "no-such.bin"
t_run "two operands" 2 "encode-ids a b < raw.bin"
t_err_has "two operands: says why" "one input at most"

# A stream without timestamps encodes too.
t_run "no timestamp column" 0 "cut -d, -f1-3 '$DATA/ratings.csv' | csv2bin | encode-ids | bin2csv --list | head -n 1 | cut -f 3"
t_out_is "no timestamp column: three columns" "user:u32,item:u32,rating:f32"
