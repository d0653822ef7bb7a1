# metrics.sh - evaluation: a tiny ranking example worked out by hand, the
# rating errors of a hand-made pairs frame, the contract forms on the
# shipped data (mf-score --pairs | metrics --json; mf-score --all --top 10 |
# metrics --truth test.bin) cross-checked against an awk computation on
# bin2csv output, --metric, the table, usage and runtime errors.
. "$TOP/tests/e2e/lib.sh"

CFW="python3 $TOP/tests/tools/cfwrite.py"

# kv FILE: FILE (one JSON object) flattened to FILE.kv, "key value" lines
# (values as Python prints them: null is None), for awk; fails on bad JSON.
kv() {
	python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
assert isinstance(d, dict)
for k, v in d.items(): print(k, v)' "$1" > "$1.kv" || rm -f "$1.kv"
}
# Helpers as scripts, so that t_true's `sh -c` sees them:
# ./json_get FILE KEY: one value of FILE (after kv FILE).
# ./close A B [TOL]: the two numbers agree to TOL (default 1e-9) relative.
cat > json_get <<'EOF'
#!/bin/sh
awk -v k="$2" '$1 == k { print $2; f = 1 } END { exit !f }' "$1.kv"
EOF
cat > close <<'EOF'
#!/bin/sh
awk -v a="$1" -v b="$2" -v t="${3:-1e-9}" 'BEGIN {
	if (a !~ /^-?[0-9][0-9.e+-]*$/ || b !~ /^-?[0-9][0-9.e+-]*$/) exit 1
	d = a - b; if (d < 0) d = -d; m = (a < 0 ? -a : a); if (m < 1) m = 1
	exit !(d <= t * m) }'
EOF
chmod +x json_get close

# ---- a ranking example worked out by hand (k = 3) -----------------------
# Held-out ratings:  A: i1 5, i2 4, i3 2   B: i4 4   C: i5 3   D: i6 5
# Lists:             A: i1 i7 i2 i3        B: i8 i4  E: i1 i9 (E not held out)
# Any held-out item is relevant: users A B C D (C and D have no list: 0).
#   A: hits at ranks 1 and 3 of |R| = 3: P 2/3, R 2/3, DCG 1 + 1/log2(4) = 1.5,
#      IDCG 1 + 1/log2(3) + 1/2 = 2.1309298, NDCG 0.7039181, AP (1 + 2/3)/3 = 5/9, RR 1
#   B: hit at rank 2 of |R| = 1: P 1/3, R 1, NDCG 1/log2(3) = 0.6309298, AP 1/2, RR 1/2
#   precision (2/3 + 1/3)/4 = 0.25    recall (2/3 + 1)/4 = 0.4166667
#   ndcg (0.7039181 + 0.6309298)/4 = 0.3337120    map (5/9 + 1/2)/4 = 19/72 = 0.2638889
#   hit_rate 2/4 = 0.5    mrr (1 + 1/2)/4 = 0.375
#   coverage: top-3 items {i1 i7 i2 i8 i4 i9} = 6 of truth + recommended
#   {i1..i9} = 9: 0.6666667
# --threshold 4: A {i1 i2}, B {i4}, D {i6}: 3 users; A: R 1, NDCG 1.5/(1 + 0.6309298),
#   AP (1 + 2/3)/2 = 5/6.  precision 1/3, recall 2/3, ndcg 0.5168835, map 4/9,
#   hit_rate 2/3, mrr 1/2
$CFW > truth.bin <<'EOF'
[{"name": "ratings", "columns": [["user", "str"], ["item", "str"], ["rating", "f32"]],
  "rows": [["A", "i1", 5], ["A", "i2", 4], ["A", "i3", 2], ["B", "i4", 4],
           ["C", "i5", 3], ["D", "i6", 5]]}]
EOF
$CFW > lists.bin <<'EOF'
[{"name": "topk", "columns": [["user", "str"], ["item", "str"], ["score", "f32"], ["rank", "u32"]],
  "block_rows": 3,
  "rows": [["A", "i1", 0.9, 1], ["A", "i7", 0.8, 2], ["A", "i2", 0.7, 3], ["A", "i3", 0.6, 4],
           ["B", "i8", 0.9, 1], ["B", "i4", 0.5, 2], ["E", "i1", 1.0, 1], ["E", "i9", 0.5, 2]]}]
EOF
# The same lists as a scores table, shuffled: ordered by score per user.
$CFW > lists-scores.bin <<'EOF'
[{"name": "scores", "columns": [["user", "str"], ["item", "str"], ["score", "f32"]],
  "rows": [["E", "i9", 0.5], ["A", "i3", 0.6], ["B", "i4", 0.5], ["A", "i2", 0.7],
           ["E", "i1", 1.0], ["A", "i1", 0.9], ["B", "i8", 0.9], ["A", "i7", 0.8]]}]
EOF
t_run "hand example" 0 "metrics --truth truth.bin --k 3 --json < lists.bin > hand.json"
kv hand.json
t_true "hand example: valid JSON, one object" "test -s hand.json.kv"
t_true "hand example: one line" "test \$(wc -l < hand.json) -eq 1"
check_hand() {	# check_hand FILE
	for kv in k=3 users=4 precision=0.25 recall=0.41666666666666667 \
	    ndcg=0.33371196065139808 map=0.26388888888888889 hit_rate=0.5 mrr=0.375 \
	    coverage=0.66666666666666667 recommended=6 catalogue=9 users_without_list=2 lists=3; do
		k=${kv%%=*} v=${kv#*=}
		t_true "$1: $k = $v" "./close \$(./json_get $1 $k) $v"
	done
}
check_hand hand.json
t_true "hand example: threshold null without --threshold" "test \$(./json_get hand.json threshold) = None"
t_true "hand example: catalogue_from" "test \$(./json_get hand.json catalogue_from) = truth+recommended"
t_run "hand example from a scores table" 0 "metrics --truth truth.bin --k 3 --json < lists-scores.bin > hand2.json"
kv hand2.json
check_hand hand2.json
t_run "hand example, --threshold 4" 0 "metrics --truth truth.bin --k 3 --threshold 4 --json < lists.bin > thr.json"
kv thr.json
for kv in users=3 precision=0.33333333333333333 recall=0.66666666666666667 \
    ndcg=0.51688351423988166 map=0.44444444444444444 hit_rate=0.66666666666666667 mrr=0.5 \
    threshold=4; do
	k=${kv%%=*} v=${kv#*=}
	t_true "threshold 4: $k = $v" "./close \$(./json_get thr.json $k) $v"
done
t_run "--metric ndcg" 0 "metrics --truth truth.bin --k 3 --metric ndcg lists.bin"
t_out_is "--metric ndcg prints the bare number" "0.3337119606513981"
t_run "--metric users" 0 "metrics -t truth.bin -k 3 -m users < lists.bin"
t_out_is "--metric users prints an integer" "4"
t_run "--catalogue 100" 0 "metrics --truth truth.bin --k 3 --catalogue 100 --metric coverage < lists.bin"
t_out_is "--catalogue 100: coverage 6/100" "0.06"
t_run "table output" 0 "metrics --truth truth.bin --k 3 < lists.bin"
t_true "table: one figure a line, aligned" "awk 'NF < 2 || length(\$1) > 18 { exit 1 }
	{ p = index(\$0, \$2) + length(\$2); if (NR > 1 && p != last) exit 1; last = p }' out"
t_true "table: precision row" "grep -Eq '^precision +0\\.250000$' out"
t_true "table: says what the catalogue is" "grep -Eq '^catalogue +9  items: truth\\+recommended$' out"
t_true "table: says who is averaged" "grep -Eq '^users +4  users with a held-out item' out"

# A given catalogue smaller than the items recommended would make coverage
# exceed 1: an error.  One that holds them exactly gives coverage 1.
t_run "--catalogue below the items recommended" 1 "metrics --truth truth.bin --k 3 --catalogue 5 < lists.bin"
t_err_line "--catalogue below the items recommended" metrics \
	"--catalogue 5: the lists recommend 6 distinct items, more than the catalogue holds"
t_run "--catalogue 1" 1 "metrics --truth truth.bin --k 3 --catalogue 1 --metric coverage < lists.bin"
t_true "--catalogue 1: no coverage printed" "test ! -s out"
t_run "--catalogue = the items recommended" 0 "metrics --truth truth.bin --k 3 --catalogue 6 --metric coverage < lists.bin"
t_out_is "--catalogue 6: coverage 1" "1"

# Every table of the input is read, all of one kind: lists split over
# two tables are the same lists; a table of another kind is an error.
$CFW > lists-a.bin <<'EOF2'
[{"name": "topk", "columns": [["user", "str"], ["item", "str"], ["score", "f32"], ["rank", "u32"]],
  "rows": [["A", "i1", 0.9, 1], ["A", "i7", 0.8, 2], ["B", "i8", 0.9, 1]]}]
EOF2
$CFW > lists-b.bin <<'EOF2'
[{"name": "topk", "columns": [["user", "str"], ["item", "str"], ["score", "f32"], ["rank", "u32"]],
  "rows": [["A", "i2", 0.7, 3], ["A", "i3", 0.6, 4], ["B", "i4", 0.5, 2], ["E", "i1", 1.0, 1],
           ["E", "i9", 0.5, 2]]}]
EOF2
t_run "lists over two tables" 0 "cat lists-a.bin lists-b.bin | metrics --truth truth.bin --k 3 --json > split.json"
t_true "lists over two tables: the same figures" "cmp split.json hand.json"
t_run "a scores table after a topk table" 1 "cat lists.bin lists-scores.bin | metrics --truth truth.bin --k 3"
t_err_line "a scores table after a topk table" metrics \
	"stdin: byte $(wc -c < lists.bin): a 'scores' table after 'topk' tables"
t_run "bytes after the lists" 1 "{ cat lists.bin; printf 'garbage'; } | metrics --truth truth.bin"
t_err_line "bytes after the lists" metrics "stdin: byte $(wc -c < lists.bin): .*data after the last table"
cat truth.bin lists.bin > truth-more.bin
t_run "truth with a table after it" 1 "metrics --truth truth-more.bin < lists.bin"
t_err_line "truth with a table after it" metrics \
	"truth-more.bin: byte $(wc -c < truth.bin): a 'topk' table after the 'ratings' table"

# ---- rating errors by hand ------------------------------------------------
# errors 0.5, 1, 0, 1.5: RMSE sqrt(3.5/4) = 0.9354143466934853, MAE 3/4
$CFW > pairs.bin <<'EOF'
[{"name": "scores", "columns": [["user", "str"], ["item", "str"], ["score", "f32"], ["rating", "f32"]],
  "rows": [["1", "10", 3.5, 4.0], ["1", "11", 2.0, 1.0], ["2", "10", 5.0, 5.0], ["2", "12", 3.0, 4.5]]}]
EOF
t_run "pairs by hand" 0 "metrics --json < pairs.bin"
t_out_is "pairs by hand: exact JSON" '{"n":4,"rmse":0.93541434669348533,"mae":0.75}'
t_run "pairs: --metric rmse" 0 "metrics --metric rmse < pairs.bin"
t_out_is "pairs: --metric rmse" "0.9354143466934853"
t_run "pairs twice: every row counts" 0 "cat pairs.bin pairs.bin | metrics --json"
t_out_is "pairs twice: n 8, the same errors" '{"n":8,"rmse":0.93541434669348533,"mae":0.75}'
t_run "pairs, then lists" 1 "cat pairs.bin lists.bin | metrics"
t_err_line "pairs, then lists" metrics "stdin: byte $(wc -c < pairs.bin): a 'topk' table after 'scores' tables"
t_run "pairs: table" 0 "metrics pairs.bin"
t_out_is "pairs: table" "$(printf 'n                           4\nrmse                 0.935414\nmae                  0.750000')"

# ---- the contract forms on the shipped data -----------------------------
if [ -x "$BIN/mf-fit" ] && [ -x "$BIN/mf-score" ]; then
	csv2bin < "$DATA/ratings.csv" | encode-ids | split --test test.bin --ratio 0.2 --seed 42 > train.bin
	mf-fit -q -k 8 --epochs 3 < train.bin > model.bin 2>/dev/null
	bin2csv --decode --no-header < test.bin > test.csv

	t_run "contract: pairs" 0 "mf-score --pairs test.bin < model.bin | metrics --json > rating.json"
	kv rating.json
	t_true "contract: pairs: valid JSON, one object" "test -s rating.json.kv && test \$(wc -l < rating.json) -eq 1"
	t_true "contract: pairs: rmse, mae, n" "./json_get rating.json rmse && ./json_get rating.json mae && ./json_get rating.json n"
	t_true "contract: pairs: n = 20167" "test \$(./json_get rating.json n) -eq 20167"
	# awk on the scores table: user,item,score,rating
	mf-score --pairs test.bin < model.bin | bin2csv --no-header > pairs.csv
	awk -F, '{ d = $3 - $4; se += d * d; ae += (d < 0 ? -d : d); n++ }
		END { printf "%.17g %.17g %d\n", sqrt(se / n), ae / n, n }' pairs.csv > awk-rating
	t_true "contract: pairs: rmse = awk's" "./close \$(./json_get rating.json rmse) \$(cut -d' ' -f1 awk-rating)"
	t_true "contract: pairs: mae = awk's" "./close \$(./json_get rating.json mae) \$(cut -d' ' -f2 awk-rating)"
	t_true "contract: pairs: rmse is sane" "awk -v r=\$(./json_get rating.json rmse) 'BEGIN { exit !(r > 0.5 && r < 1.5) }'"

	t_run "contract: top 10" 0 "mf-score --all --top 10 < model.bin | metrics --truth test.bin --k 10 --json > rank.json"
	kv rank.json
	t_true "contract: top 10: valid JSON" "python3 -m json.tool rank.json"
	t_true "contract: top 10: every key" "for k in precision recall ndcg map hit_rate mrr coverage k users; do ./json_get rank.json \$k || exit 1; done"
	mf-score --all --top 10 < model.bin | bin2csv --no-header > top.csv
	# An independent computation: relevance from the decoded test rows,
	# per-user figures from the topk rows (user,item,score,rank), users
	# without a list counted as 0; coverage over truth + recommended items.
	rank_awk() {	# rank_awk K THRESHOLD (empty: any)
		awk -F, -v K="$1" -v T="$2" '
		FILENAME == "test.csv" {
			cat[$2] = 1
			if (T == "" || $3 >= T) { if (!rel[$1, $2]++) nrel[$1]++ }
			next }
		$4 <= K {
			rec[$2] = 1; cat[$2] = 1
			if (($1, $2) in rel) { h[$1]++; dcg[$1] += log(2) / log($4 + 1)
				ap[$1] += h[$1] / $4; if (!($1 in rr)) rr[$1] = 1 / $4 } }
		END {
			for (u in nrel) {
				n++; m = nrel[u] < K ? nrel[u] : K; idcg = 0
				for (r = 1; r <= m; r++) idcg += log(2) / log(r + 1)
				p += h[u] / K; rc += h[u] / nrel[u]; nd += dcg[u] / idcg
				mp += ap[u] / m; hr += (h[u] > 0); mrr += rr[u] }
			for (i in rec) nr++
			for (i in cat) nc++
			printf "users %d\nprecision %.17g\nrecall %.17g\nndcg %.17g\nmap %.17g\nhit_rate %.17g\nmrr %.17g\ncoverage %.17g\n",
				n, p / n, rc / n, nd / n, mp / n, hr / n, mrr / n, nr / nc }' test.csv top.csv
	}
	rank_awk 10 "" > awk-rank
	while read -r k v; do
		t_true "contract: top 10: $k = awk's" "./close \$(./json_get rank.json $k) $v"
	done < awk-rank
	t_true "contract: top 10: some hits" "awk -v h=\$(./json_get rank.json hit_rate) 'BEGIN { exit !(h > 0) }'"

	t_run "top 10, k 5, threshold 4" 0 "mf-score --all --top 10 < model.bin | metrics --truth test.bin --k 5 --threshold 4 --json > rank5.json"
	kv rank5.json
	rank_awk 5 4 > awk-rank5
	while read -r k v; do
		t_true "k 5, threshold 4: $k = awk's" "./close \$(./json_get rank5.json $k) $v"
	done < awk-rank5
	t_run "--train joins the catalogue" 0 "mf-score --all --top 10 < model.bin | metrics --truth test.bin --train train.bin --json > cat.json"
	kv cat.json
	t_true "--train: catalogue = every item (9724)" "test \$(./json_get cat.json catalogue) -eq 9724"
	t_true "--train: catalogue_from" "test \$(./json_get cat.json catalogue_from) = truth+train+recommended"
	t_true "--train: same ndcg" "./close \$(./json_get cat.json ndcg) \$(./json_get rank.json ndcg)"
else
	t_record fail "contract forms" "mf-fit or mf-score missing from $BIN"
fi

# ---- errors -----------------------------------------------------------
t_run "lists without --truth" 1 "metrics < lists.bin"
t_err_line "lists without --truth" metrics "stdin: the 'topk' table has no 'rating' column.*--truth"
t_run "ratings frame as input" 1 "metrics --truth truth.bin < truth.bin"
t_err_line "ratings frame as input" metrics "stdin: byte [0-9]+: expected a 'scores' or 'topk' table, found 'ratings'"
printf 'user,item,score\n1,2,3\n' > text.csv
t_run "CSV text as input" 1 "metrics < text.csv"
t_err_line "CSV text as input" metrics "stdin: byte 0: not a cinefilter frame stream.*csv2bin"
t_run "empty input" 1 "metrics < /dev/null"
t_err_line "empty input" metrics "stdin: empty input"
head -c 300 lists.bin > cut.bin
t_run "truncated input" 1 "metrics --truth truth.bin < cut.bin"
t_err_line "truncated input" metrics "stdin: byte [0-9]+: .*truncated"
t_run "missing truth file" 1 "metrics --truth nosuch.bin < lists.bin"
t_err_line "missing truth file" metrics "nosuch.bin: No such file"
t_run "truth is not ratings" 1 "metrics --truth lists.bin < lists.bin"
t_err_line "truth is not ratings" metrics "lists.bin: .*expected a 'ratings' table, found 'topk'"
t_run "threshold nobody reaches" 1 "metrics --truth truth.bin --threshold 6 < lists.bin"
t_err_line "threshold nobody reaches" metrics "truth.bin: no user has a held-out item rated >= 6"
$CFW > norows.bin <<'EOF'
[{"name": "scores", "columns": [["user", "str"], ["item", "str"], ["score", "f32"], ["rating", "f32"]], "rows": []}]
EOF
t_run "no rows to evaluate" 1 "metrics < norows.bin"
t_err_line "no rows to evaluate" metrics "stdin: the 'scores' table has no rows"
$CFW > badtype.bin <<'EOF'
[{"name": "topk", "columns": [["user", "u32"], ["item", "str"], ["score", "f32"], ["rank", "u32"]], "rows": [[1, "a", 1, 1]]}]
EOF
t_run "encoded user column" 1 "metrics --truth truth.bin < badtype.bin"
t_err_line "encoded user column" metrics "'user' column is u32, expected str"
for bad in "--k 0" "--k x" "--threshold abc" "--metric bogus" "--json --metric rmse" \
    "--train truth.bin" "--metric ndcg" "--truth truth.bin --metric rmse" "a b"; do
	t_run "usage: $bad" 2 "metrics $bad < lists.bin"
	t_true "usage: $bad: the error and a hint on stderr" "test \$(wc -l < err) -eq 2 && grep -qx \"try 'metrics --help'\" err"
done
t_run "--help" 0 "metrics --help"
t_true "--help: usage and every metric defined" "grep -q '^usage: metrics' out && for w in precision recall ndcg map hit_rate mrr coverage rmse mae threshold catalogue; do grep -q \"\$w\" out || exit 1; done"
t_run "--version" 0 "metrics --version"
t_true "--version names the program" "grep -q '^metrics (cinefilter) [0-9]' out"
