# mf-score.sh - scoring with a model trained on the shipped data: --pairs
# predictions checked against an awk computation from the model's own
# factor tables (bin2csv), RMSE included; unknown ids fall back to biases
# and are counted; --user leaves out the user's training items; --all is
# the same for any thread count and equals --all | topk; --similar,
# --fold-in, --explain, --exclude; one-line errors; quiet early close.
. "$TOP/tests/e2e/lib.sh"

csv2bin < "$DATA/ratings.csv" | encode-ids | split --test test.bin --ratio 0.2 --seed 42 > train.bin
mf-fit -q -k 8 --epochs 3 < train.bin > als.bin 2>/dev/null
# A small model for the all-users cases: the first 3000 ratings (20 users).
head -n 3001 "$DATA/ratings.csv" | csv2bin > small.bin
mf-fit -q -k 4 --epochs 2 < small.bin > small-als.bin 2>/dev/null
mf-fit -q --algo popular < small.bin > small-pop.bin 2>/dev/null
bin2csv --decode --no-header < train.bin > train.csv

# The model's tables, for the independent computations: "raw id,bias,factors..."
bin2csv -t users --no-header < als.bin > users.csv
bin2csv -t items --no-header < als.bin > items.csv
bin2csv -t user_factors --no-header < als.bin | paste -d, users.csv - > uf.csv
bin2csv -t item_factors --no-header < als.bin | paste -d, items.csv - > if.csv
mu=$(bin2csv --list < als.bin | head -n 1 | tr ' \t' '\n\n' | sed -n 's/^mu=//p')
# predict.awk: mu + bu + bi + p.q, biases alone for unknown ids, clipped to
# [0.5, 5]; input lines user,item,... after uf.csv and if.csv.
cat > predict.awk <<'EOF'
BEGIN { FS = "," }
FILENAME == "uf.csv" { bu[$1] = $2; for (f = 3; f <= NF; f++) P[$1, f] = $f; k = NF; next }
FILENAME == "if.csv" { bi[$1] = $2; for (f = 3; f <= NF; f++) Q[$1, f] = $f; next }
{
	s = mu
	if ($1 in bu) s += bu[$1]
	if ($2 in bi) s += bi[$2]
	if (($1 in bu) && ($2 in bi))
		for (f = 3; f <= k; f++) s += P[$1, f] * Q[$2, f]
	if (s < 0.5) s = 0.5
	if (s > 5) s = 5
	printf "%s,%s,%.9g\n", $1, $2, s
}
EOF

# ---- --pairs ----------------------------------------------------------
t_run "pairs of split's test set" 0 "mf-score --pairs test.bin < als.bin > pairs.bin"
t_true "pairs: nothing on stderr (every id known)" "test ! -s err"
t_run "pairs: columns" 0 "bin2csv --list < pairs.bin | cut -f 1-3"
t_out_is "pairs: table scores, 20167 rows" "scores	20167	user:str,item:str,score:f32,rating:f32"
bin2csv --no-header < pairs.bin > pairs.csv
t_true "pairs: rows are the test rows, raw ids, true ratings" \
	"bin2csv --decode --no-header < test.bin | cut -d, -f1-3 > t3.csv && cut -d, -f1,2,4 pairs.csv | cmp - t3.csv"
awk -v mu="$mu" -f predict.awk uf.csv if.csv pairs.csv > awk-pred.csv
t_true "pairs: every prediction = awk's from the factor tables (1e-4)" \
	"paste -d, pairs.csv awk-pred.csv | awk -F, '{ d = \$3 - \$7; if (d < -1e-4 || d > 1e-4 || \$1 != \$5 || \$2 != \$6) exit 1 }'"
t_true "pairs: RMSE = awk's RMSE (1e-5)" \
	"a=\$(awk -F, '{ d = \$3 - \$4; s += d * d } END { printf \"%.9f\", sqrt(s / NR) }' pairs.csv)
	 b=\$(paste -d, pairs.csv awk-pred.csv | awk -F, '{ d = \$7 - \$4; s += d * d } END { printf \"%.9f\", sqrt(s / NR) }')
	 awk -v a=\$a -v b=\$b 'BEGIN { d = a - b; exit !(d < 1e-5 && d > -1e-5 && a > 0.5 && a < 1.5) }'"
t_true "pairs: clipped to the scale" "awk -F, '\$3 < 0.5 || \$3 > 5 { exit 1 }' pairs.csv"
# The same rows as a raw frame (ids, not indices) give the same output.
bin2csv --decode < test.bin | csv2bin > test-raw.bin
t_run "pairs of a raw frame" 0 "mf-score --pairs test-raw.bin < als.bin > pairs-raw.bin"
t_true "pairs: raw frame = encoded frame" "cmp pairs.bin pairs-raw.bin"

# Unknown ids fall back to the biases and are counted in one line.
printf 'userId,movieId,rating\n1,1,4\n999999,1,3\n1,888888,2\n999999,888888,5\n' | csv2bin > unk.bin
t_run "pairs: unknown ids" 0 "mf-score --pairs unk.bin < als.bin > unk-out.bin"
t_err_line "pairs: unknown ids counted" mf-score "3 of 4 pairs .*1 unknown user, 1 unknown item, 1 both"
bin2csv --no-header < unk-out.bin > unk.csv
awk -v mu="$mu" -f predict.awk uf.csv if.csv unk.csv > unk-awk.csv
t_true "pairs: fallbacks = mu + bi, mu + bu, mu" \
	"paste -d, unk.csv unk-awk.csv | awk -F, '{ d = \$3 - \$7; if (d < -1e-4 || d > 1e-4) exit 1 } END { exit NR != 4 }'"

# ---- --user -----------------------------------------------------------
nseen=$(awk -F, '$1 == 18' train.csv | wc -l)
t_run "user 18" 0 "mf-score --user 18 < als.bin > u18.bin"
bin2csv --no-header < u18.bin > u18.csv
t_true "user 18: one row per unseen item" "test \$(wc -l < u18.csv) -eq \$((9724 - $nseen))"
t_true "user 18: none of the training items" \
	"awk -F, 'FILENAME == \"train.csv\" { if (\$1 == 18) s[\$2] = 1; next } (\$2 in s) { exit 1 }' train.csv u18.csv"
t_true "user 18: only user 18" "cut -d, -f1 u18.csv | sort -u | grep -qx 18"
t_run "user 18 --include-seen" 0 "mf-score --user 18 --include-seen < als.bin | bin2csv --no-header | wc -l"
t_out_is "user 18 --include-seen: every item" "9724"
t_run "user 018 is user 18" 0 "mf-score --user 018 < als.bin | cmp - u18.bin"
# --top = | topk, byte for byte.
t_run "user 18 --top 20" 0 "mf-score --user 18 --top 20 < als.bin > u18top.bin"
t_true "user --top 20 = | topk 20" "topk 20 < u18.bin | cmp - u18top.bin"
bin2csv --no-header < u18top.bin > u18top.csv
t_true "user --top 20: the 20 best by sort(1)" \
	"sort -t, -k3,3gr -k2,2 u18.csv | head -n 20 | cut -d, -f1-3 > want.csv && cut -d, -f1-3 u18top.csv | cmp - want.csv"
t_true "user --top 20: ranks 1..20" "cut -d, -f4 u18top.csv | tr '\n' ' ' | grep -qx '1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 '"
# --exclude: a list of ids (and a frame with an item column).
cut -d, -f2 u18top.csv | head -n 5 > ex.txt
t_run "user --exclude list" 0 "mf-score --user 18 --top 20 --exclude ex.txt < als.bin | bin2csv --no-header > ex.csv"
t_true "excluded items absent" "! cut -d, -f2 ex.csv | grep -qxF -f ex.txt"
t_true "next items move up" "test \"\$(head -n 1 ex.csv | cut -d, -f2)\" = \"\$(sed -n 6p u18top.csv | cut -d, -f2)\""
cut -d, -f2 u18top.csv > ex2.txt
t_run "user --exclude frame" 0 "mf-score --user 18 --top 20 --exclude u18top.bin < als.bin | bin2csv --no-header > ex2.csv"
t_true "excluded frame's items absent" "! cut -d, -f2 ex2.csv | grep -qxF -f ex2.txt"
t_run "two users" 0 "mf-score --user 18 --user 1 --top 3 < als.bin | bin2csv --no-header | cut -d, -f1 | tr '\n' ' '"
t_out_is "two users, in order" "18 18 18 1 1 1 "

# --explain: the history items behind each recommendation.
t_run "explain" 0 "mf-score --user 18 --top 5 --explain < als.bin > expl.bin"
t_run "explain: tables" 0 "bin2csv --list < expl.bin | cut -f 1-3"
t_out_is "explain: topk then explanations" "topk	5	user:str,item:str,score:f32,rank:u32
explanations	15	user:str,item:str,because:str,contribution:f32,rank:u32"
bin2csv -t explanations --no-header < expl.bin > expl.csv
t_true "explain: 'because' items are user 18's training items" \
	"awk -F, 'FILENAME == \"train.csv\" { if (\$1 == 18) s[\$2] = 1; next } !(\$3 in s) { exit 1 }' train.csv expl.csv"
t_true "explain: recommended items, ranks 1-3, largest first" \
	"cut -d, -f2 u18top.csv | head -n 5 > rec5 && awk -F, 'FILENAME == \"rec5\" { r[\$1] = 1; next }
	 !(\$2 in r) || \$5 != (FNR - 1) % 3 + 1 { exit 1 } \$5 > 1 && \$4 > last { exit 1 } { last = \$4 }' rec5 expl.csv"

# ---- --all --------------------------------------------------------------
t_run "all --top 5, 1 thread" 0 "mf-score --all --top 5 -t 1 < small-als.bin > all1.bin"
t_run "all --top 5, 3 threads" 0 "mf-score --all --top 5 -t 3 < small-als.bin > all3.bin"
t_true "all --top: same bytes for any thread count" "cmp all1.bin all3.bin"
t_run "all (every score)" 0 "mf-score --all -t 2 < small-als.bin > every.bin"
t_err_line "all: warns that it is big" mf-score "warning: .*rows"
t_true "all --top 5 = all | topk 5" "topk 5 < every.bin | cmp - all1.bin"
bin2csv --no-header < small.bin | cut -d, -f1,2 > small-seen.csv
t_true "all: no seen item" \
	"bin2csv --no-header < every.bin | awk -F, 'FILENAME == \"small-seen.csv\" { s[\$1, \$2] = 1; next } ((\$1, \$2) in s) { exit 1 }' small-seen.csv -"
t_true "all --top 5: five per user, every user" \
	"bin2csv --no-header < all1.bin | awk -F, '{ n[\$1]++ } END { for (u in n) { if (n[u] != 5) exit 1; c++ } exit c != 20 }'"
# Ties (popularity counts): by item id in byte order.
t_run "all --top ties" 0 "mf-score --all --top 10 < small-pop.bin > pop.bin"
t_true "ties: order = sort(1) by score, then id" \
	"mf-score --all < small-pop.bin 2>/dev/null | bin2csv --no-header | sort -t, -s -k1,1 -k3,3gr -k2,2 |
	 awk -F, '++n[\$1] <= 10 { print \$1 \",\" \$2 }' > ties-want.csv &&
	 bin2csv --no-header < pop.bin | cut -d, -f1,2 | sort -t, -s -k1,1 | cmp - ties-want.csv"

# ---- --similar, --fold-in -------------------------------------------------
t_run "similar" 0 "mf-score --similar 1 --top 5 < als.bin | bin2csv"
t_true "similar: 5 rows, not the item itself" "test \$(wc -l < out) -eq 6 && ! cut -d, -f2 out | grep -qx 1"
t_true "similar: header, descending, ranks" \
	"head -n 1 out | grep -qx 'query,item,score,rank' && awk -F, 'NR > 1 && (\$5 > 1 || \$3 > 1.0001 || (NR > 2 && \$3 > last) || \$4 != NR - 1) { exit 1 } { last = \$3 }' out"
printf 'userId,movieId,rating\nnew1,1,5\nnew1,2571,4.5\nnew1,260,5\nnew2,1,1\nnew2,296,5\n' | csv2bin > fold.bin
t_run "fold-in" 0 "mf-score --fold-in fold.bin --top 7 < als.bin | bin2csv --no-header > fold.csv"
t_true "fold-in: 7 each, new users in order" "cut -d, -f1 fold.csv | uniq -c | awk '{ printf \"%s:%s \", \$2, \$1 }' | grep -qx 'new1:7 new2:7 '"
t_true "fold-in: rated items excluded" \
	"! grep -Eq '^new1,(1|2571|260),|^new2,(1|296),' fold.csv"
t_run "fold-in --explain" 0 "mf-score --fold-in fold.bin --top 2 --explain < als.bin | bin2csv -t explanations --no-header | cut -d, -f1,3 | sort -u | tr '\n' ' '"
t_out_is "fold-in --explain: because = the ratings given" "new1,1 new1,2571 new1,260 new2,1 new2,296 "

# ---- errors -------------------------------------------------------------
t_run "unknown user" 1 "mf-score --user nobody < als.bin > o.bin"
t_err_line "unknown user" mf-score "unknown user 'nobody'"
t_true "unknown user: nothing written" "test ! -s o.bin"
t_run "unknown item" 1 "mf-score --similar nothing < als.bin"
t_err_line "unknown item" mf-score "unknown item 'nothing'"
t_run "not a model" 1 "mf-score --all --top 3 < train.bin"
t_err_line "not a model" mf-score "expected a model stream.*'ratings'"
csv2bin < "$DATA/movies.csv" > movies.bin
t_run "pairs of a movies frame" 1 "mf-score --pairs movies.bin < als.bin"
t_err_line "pairs of a movies frame" mf-score "expected a 'ratings' table, found 'movies'"
t_run "pairs: missing file" 1 "mf-score --pairs no-such.bin < als.bin"
t_err_line "pairs: missing file" mf-score "no-such.bin"
t_run "no mode" 2 "mf-score < als.bin"
t_err_has "no mode: says which" "a mode is required"
t_run "two modes" 2 "mf-score --all --user 1 < als.bin"
t_run "explain without top" 2 "mf-score --user 1 --explain < als.bin"
t_run "bad --top" 2 "mf-score --all --top 0 < als.bin"
t_run "--similar on a model without factors" 1 "mf-score --similar 1 < small-pop.bin"
t_err_line "--similar without factors" mf-score "needs a model with factors"
# A model stream ends after its 'seen' table: data after it is an error
# naming its offset (it could be another model, or damage), never ignored.
msize=$(wc -c < als.bin)
t_run "model with bytes after it" 1 "{ cat als.bin; echo garbage; } | mf-score --user 1 > o.bin"
t_err_line "model with bytes after it" mf-score "stdin: byte $msize: .*data after the last table"
t_run "two models back to back" 1 "cat als.bin als.bin | mf-score --user 1 > o.bin"
t_err_line "two models back to back" mf-score \
	"stdin: byte $msize: a 'model' table after the model's 'seen' table"
t_run "model from a pipe, nothing after it" 0 "cat als.bin | mf-score --user 18 | cmp - u18.bin"
cat test.bin test.bin > test2.bin
t_run "pairs: two ratings streams" 1 "mf-score --pairs test2.bin < als.bin > o.bin"
t_err_line "pairs: two ratings streams" mf-score "test2.bin: byte $(wc -c < test.bin): a 'ratings' table after"
cat fold.bin movies.bin > fold2.bin
t_run "fold-in: a table after the ratings" 1 "mf-score --fold-in fold2.bin < als.bin > o.bin"
t_err_line "fold-in: a table after the ratings" mf-score "fold2.bin: byte $(wc -c < fold.bin): a 'movies' table after"

# Crafted models (valid CRCs, tests/tools/cfwrite.py) whose numbers are
# NaN or infinite are refused at load, naming the table and the row: they
# would score NaN.  @MU@, @UB@, @IF@, @SR@: mu, a user bias, an item
# factor, a seen rating.
cat > crafted.json <<'JSON'
[{"name": "model", "columns": [], "attrs": [["algo", "als"], ["k", "2"], ["mu", "@MU@"],
  ["n_users", "2"], ["n_items", "3"], ["rating_min", "0.5"], ["rating_max", "5"], ["reg", "0.1"]]},
 {"name": "user_factors", "columns": [["bias", "f32"], ["factors", "f32", 2]],
  "rows": [[0.1, [0.5, 0.25]], [@UB@, [0.1, 0.3]]]},
 {"name": "item_factors", "columns": [["bias", "f32"], ["factors", "f32", 2]],
  "rows": [[0.1, [0.5, 0.25]], [-0.1, [0.2, @IF@]], [0.3, [0.4, 0.1]]]},
 {"name": "users", "columns": [["id", "str"]], "rows": [["u1"], ["u2"]]},
 {"name": "items", "columns": [["id", "str"]], "rows": [["i1"], ["i2"], ["i3"]]},
 {"name": "seen", "columns": [["user", "u32"], ["item", "u32"], ["rating", "f32"]],
  "rows": [[0, 0, 4.0], [1, 0, 3.0], [1, 2, @SR@]]}]
JSON
craft() {	# craft OUT MU UB IF SR
	sed -e "s/@MU@/$2/" -e "s/@UB@/$3/" -e "s/@IF@/$4/" -e "s/@SR@/$5/" crafted.json |
		python3 "$TOP/tests/tools/cfwrite.py" > "$1"
}
printf 'userId,movieId,rating\nu1,i2,4\nu2,i2,3\n' | csv2bin > crafted-pairs.bin
craft ok.model 3.5 0.2 0.3 4.5
t_run "crafted model, all finite: scores" 0 "mf-score --pairs crafted-pairs.bin < ok.model | bin2csv --no-header | wc -l"
t_out_is "crafted model, all finite: two pairs" "2"
t_run "crafted model, all finite: explains" 0 "mf-score --user u2 --top 1 --explain < ok.model > o.bin"
for c in "mu nan|nan 0.2 0.3 4.5|'model' attribute mu is 'nan', not a finite number" \
         "mu inf|inf 0.2 0.3 4.5|'model' attribute mu is 'inf', not a finite number" \
         "user bias NaN|3.5 NaN 0.3 4.5|'user_factors' row 1: bias is nan" \
         "item factor inf|3.5 0.2 Infinity 4.5|'item_factors' row 1: factor 1 is inf" \
         "item factor -inf|3.5 0.2 -Infinity 4.5|'item_factors' row 1: factor 1 is -inf" \
         "seen rating NaN|3.5 0.2 0.3 NaN|'seen' row 2: rating is nan"; do
	name=${c%%|*} rest=${c#*|}
	vals=${rest%%|*} want=${rest#*|}
	craft bad.model $vals
	for mode in "--pairs crafted-pairs.bin" "--user u2 --top 1 --explain"; do
		t_run "crafted model, $name: $mode" 1 "mf-score $mode < bad.model > o.bin"
		t_err_line "crafted model, $name: $mode" mf-score "stdin: byte [0-9]+: model: $want"
	done
done
t_run "crafted model, NaN: fine-tuning refuses it" 1 "mf-fit --init bad.model < crafted-pairs.bin > o.bin"
t_err_line "crafted model, NaN: fine-tuning refuses it" mf-fit "bad.model: byte [0-9]+: model: 'seen' row 2: rating is nan"

t_run "help" 0 "mf-score --help"
t_true "help: usage on stdout, the explanation method" "grep -q '^usage: mf-score' out && grep -q 'Hu, Koren' out"
t_run "version" 0 "mf-score --version"
t_true "version names the program" "grep -q '^mf-score (cinefilter) [0-9]' out"

# Closing the pipe early is a quiet exit.
for a in "--all --top 20" "--all" "--user 18" "--pairs test.bin"; do
	t_run "quiet early close: $a" 0 "mf-score $a < als.bin 2>err2 | head -c 10 > /dev/null; grep -v warning err2 >&2; ! grep -qv warning err2"
done

# A model whose ids are not UTF-8 (trained from a crafted frame; csv2bin
# refuses such ids) is refused at load: the server could not put them in
# JSON.
printf '[{"name": "ratings", "columns": [["user", "str"], ["item", "str"], ["rating", "f32"]], "rows": [[[255, 254], "1", 4.0], ["2", "1", 3.0], ["2", "3", 5.0]]}]' |
	python3 "$TOP/tests/tools/cfwrite.py" > badid.bin
t_run "a model with a non-UTF-8 id: trained" 0 "mf-fit -q -k 2 --epochs 1 < badid.bin > badid-model.bin"
t_run "a model with a non-UTF-8 id: refused" 1 "mf-score --user 2 < badid-model.bin"
t_err_line "a model with a non-UTF-8 id: refused" mf-score "'users' row 0: the id is not valid UTF-8"
