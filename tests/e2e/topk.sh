# topk.sh - each user's N best rows of a scores stream: checked against
# sort(1) on interleaved input (split's test pairs scored by mf-score),
# ties by item id, ranks, users in order of first appearance; a topk
# table is accepted again; one-line errors, usage errors, quiet early close.
. "$TOP/tests/e2e/lib.sh"

csv2bin < "$DATA/ratings.csv" | encode-ids | split --test test.bin --ratio 0.2 --seed 42 > train.bin
mf-fit -q -k 8 --epochs 2 < train.bin > als.bin 2>/dev/null
mf-fit -q --algo popular < train.bin > pop.bin 2>/dev/null
# Scores of the test pairs: users interleaved, in random order.
mf-score --pairs test.bin < als.bin > pairs.bin 2>/dev/null
bin2csv --no-header < pairs.bin | cut -d, -f1-3 > pairs.csv

# want N FILE: the first N rows per user by sort(1) (score down, then item
# id in byte order), users in order of first appearance in FILE.
want() {
	awk -F, '!s[$1]++ { print NR "," $1 }' "$2" > first.csv
	sort -t, -s -k1,1 -k3,3gr -k2,2 "$2" |
		awk -F, -v N="$1" '++n[$1] <= N { print $0 "," n[$1] }' > sorted.csv
	# order users by first appearance (stable within a user)
	awk -F, 'FILENAME == "first.csv" { o[$2] = $1; next } { print o[$1] "," $0 }' first.csv sorted.csv |
		sort -t, -s -n -k1,1 | cut -d, -f2-
}

t_run "top 3 of interleaved pairs" 0 "topk 3 < pairs.bin > top3.bin"
t_true "quiet" "test ! -s err"
t_run "table topk" 0 "bin2csv --list < top3.bin | cut -f 1,3"
t_out_is "table topk: user, item, score, rank" "topk	user:str,item:str,score:f32,rank:u32"
want 3 pairs.csv > want3.csv
t_true "top 3 = sort(1)" "bin2csv --no-header < top3.bin | cmp - want3.csv"
t_true "some users have fewer than 3" "cut -d, -f1 want3.csv | uniq -c | awk '\$1 < 3 { f = 1 } END { exit !f }'"
t_true "every user of the input" "test \$(cut -d, -f1 want3.csv | uniq | wc -l) -eq \$(cut -d, -f1 pairs.csv | sort -u | wc -l)"
t_run "file operand" 0 "topk 3 pairs.bin | cmp - top3.bin"
t_run "top 1000 keeps everything" 0 "topk 1000 < pairs.bin | bin2csv --no-header | wc -l"
t_out_is "top 1000 keeps everything" "20167"
t_run "topk of topk" 0 "topk 2 < top3.bin > top2.bin"
t_true "topk of topk = top 2" "topk 2 < pairs.bin | cmp - top2.bin"

# Ties: popularity scores are whole numbers; equal ones go by item id.
mf-score --user 18 < pop.bin > u18pop.bin
bin2csv --no-header < u18pop.bin > u18pop.csv
t_run "ties" 0 "topk 25 < u18pop.bin > ties.bin"
want 25 u18pop.csv > want25.csv
t_true "ties: ordered by item id" "bin2csv --no-header < ties.bin | cmp - want25.csv"
t_true "ties: there are ties" "cut -d, -f3 want25.csv | uniq -d | grep -q ."
t_true "ties: = mf-score --top" "mf-score --user 18 --top 25 < pop.bin | cmp - ties.bin"

# Every table of the input is read: outputs concatenated are one stream
# of rows (users' rows may span tables; order of first appearance holds).
mf-score --user 1 < als.bin > u1.bin
mf-score --user 2 < als.bin > u2.bin
mf-score --user 1 --user 2 --top 3 < als.bin > u12top.bin
t_run "two tables: both read" 0 "cat u1.bin u2.bin | topk 3 > two.bin"
t_true "two tables = both users in one run" "cmp two.bin u12top.bin"
t_run "a subshell's two outputs" 0 "(mf-score --user 1 < als.bin; mf-score --user 2 < als.bin) | topk 3 | bin2csv --no-header | cut -d, -f1 | tr '\n' ' '"
t_out_is "a subshell's two outputs: users 1 and 2" "1 1 1 2 2 2 "
t_run "a topk table after a scores table" 0 "cat u1.bin top3.bin | topk 3 | bin2csv --no-header | cut -d, -f1 | uniq | wc -l"
t_true "a topk table after a scores table: every user" "test \$(cat out) -eq \$(bin2csv --no-header < top3.bin | cut -d, -f1 | sort -u | wc -l)"
t_run "bytes after the table" 1 "{ cat pairs.bin; printf 'garbage'; } | topk 3 > o.bin"
t_err_line "bytes after the table" topk "stdin: byte $(wc -c < pairs.bin): .*data after the last table"
t_run "a table of another kind after it" 1 "cat pairs.bin train.bin | topk 3 > o.bin"
t_err_line "a table of another kind after it" topk \
	"stdin: byte $(wc -c < pairs.bin): expected a 'scores' table, found 'ratings'"

# Errors.
t_run "wrong table" 1 "topk 3 < train.bin"
t_err_line "wrong table" topk "expected a 'scores' table, found 'ratings'"
printf 'user,item,score\n1,2,3\n' | csv2bin --table scores > strscore.bin
t_run "score not f32" 1 "topk 3 < strscore.bin"
t_err_line "score not f32" topk "must have columns user str, item str, score f32"
: > empty.bin
t_run "empty input" 1 "topk 3 < empty.bin"
t_err_line "empty input" topk "stdin: empty input"
head -c 3000 pairs.bin > cut.bin
t_run "truncated input" 1 "topk 3 < cut.bin"
t_err_line "truncated input" topk "stdin: byte [0-9]+: "
t_run "no N" 2 "topk < pairs.bin"
t_run "N = 0" 2 "topk 0 < pairs.bin"
t_run "N not a number" 2 "topk x < pairs.bin"
t_true "usage error: the error and a hint on stderr" "test \$(wc -l < err) -eq 2 && head -n 1 err | grep -q '^topk: ' && grep -qx \"try 'topk --help'\" err"
t_run "help" 0 "topk --help"
t_true "help on stdout" "grep -q '^usage: topk' out && test ! -s err"
t_run "version" 0 "topk --version"
t_true "version names the program" "grep -q '^topk (cinefilter) [0-9]' out"
t_run "quiet early close" 0 "mf-score --user 1 --include-seen < als.bin | topk 5000 2>err2 | head -c 10 > /dev/null; test ! -s err2"
