# tests/e2e/blend.sh - blends end to end: the blend program's flags and
# errors; a blend's scores recomputed in Python from its parts' own
# mf-score rows (z-scored over the user's unseen items, weighted); weights
# 1,0 rank as the first part alone; fold-in of a training user = that
# user; the fitted weights on a validation split; blends and ease served,
# POST /recommendations = mf-score --fold-in | join-meta --json.
. "$TOP/tests/e2e/lib.sh"
. "$TOP/tests/e2e/serve-lib.sh"

gen-ratings -u 300 -i 250 -n 9000 --seed 11 --format frame 2>/dev/null | encode-ids > all.bin
split --ratio 0.2 --seed 1 --test test.bin < all.bin > train.bin
split --ratio 0.1 --seed 1 --test valid.bin < train.bin > fit.bin
for a in ease rp3b; do
	mf-fit -q --algo $a --keep 1000 < train.bin > $a.bin
	mf-fit -q --algo $a --keep 1000 < fit.bin > fit-$a.bin
done
mf-fit -q --algo ials -k 8 --epochs 3 < train.bin > ials.bin
mf-fit -q --algo als -k 8 --epochs 3 < train.bin > als.bin

# ---- flags ---------------------------------------------------------------
t_run "blend --help" 0 "blend --help"
t_true "--help: usage, z-scores, --valid and --fit" "grep -q '^usage: blend' out && grep -q standardized out && grep -q -- '--fit' out"
t_run "blend: one model" 2 "blend --weights 1 ease.bin"
t_run "blend: --valid and --weights" 2 "blend --valid valid.bin --weights 1,1 ease.bin rp3b.bin"
t_run "blend: neither" 2 "blend ease.bin rp3b.bin"
t_run "blend: --weights count" 2 "blend --weights 1 ease.bin rp3b.bin"
t_run "blend: a bad --step" 2 "blend --valid valid.bin --step 0.3 ease.bin rp3b.bin"
gen-ratings -u 50 -i 100 -n 1500 --seed 2 --format frame 2>/dev/null | encode-ids > other.bin
mf-fit -q --algo rp3b < other.bin > other.bin.m
t_run "blend: parts with other users and items" 1 "blend --weights 1,1 ease.bin other.bin.m"
t_err_line "blend: parts with other users and items" blend "other users or items"
t_run "blend: a blend as a part" 1 "blend -q --weights 1,1 -o b0.bin ease.bin rp3b.bin && blend --weights 1,1 b0.bin ease.bin"
t_err_line "blend: a blend as a part" blend "itself a blend"

# ---- an fm part with its optional tables ----------------------------------
# blend writes an fm part without its item_features and time_features
# (a blend scores known items, pairs without their time), so the blend
# reads back (before, the next part's reader met the part's item_features).
awk 'BEGIN { print "movieId,title,genres"; for (i = 1; i <= 250; i++)
	printf "%d,Movie %d (%d),G%d|H%d\n", i, i, 1980 + i % 30, i % 5, i % 3 }' > movies.csv
mf-fit -q --algo fm -k 2 --samples 4 --burn-in 2 --items movies.csv --groups user,item,genres,year,time < train.bin > fmx.bin
t_true "the fm part has item_features and time_features" \
	"bin2csv --list < fmx.bin | grep -q '^item_features' && bin2csv --list < fmx.bin | grep -q '^time_features'"
t_run "blend with an fm part" 0 "blend -q --weights 0.5,0.5 -o bfm.bin fmx.bin als.bin"
t_true "  ... the blend has neither table" "! bin2csv --list < bfm.bin | grep -Eq '^(item|time)_features'"
t_run "  ... and scores" 0 "mf-score --all --top 5 < bfm.bin > bfm-top.bin"
t_true "  ... every user ranked" "test \$(bin2csv < bfm-top.bin | cut -d, -f1 | sort -u | wc -l) -gt 250"

# ---- the rule, recomputed -------------------------------------------------
t_run "blend --weights 0.6,0.4" 0 "blend -q --weights 0.6,0.4 -o b64.bin ease.bin ials.bin"
for u in 3 77; do
	mf-score --user $u < ease.bin | bin2csv > e-$u.csv
	mf-score --user $u < ials.bin | bin2csv > i-$u.csv
	mf-score --user $u < b64.bin | bin2csv > b-$u.csv
	t_true "user $u: blend = 0.6 z(ease) + 0.4 z(ials), z over the unseen items (1e-5)" "python3 -c '
import csv, math
def rows(p):
    return {r[\"item\"]: float(r[\"score\"]) for r in csv.DictReader(open(p))}
def z(d):
    m = math.fsum(d.values()) / len(d)
    sd = math.sqrt(math.fsum((x - m) ** 2 for x in d.values()) / len(d))
    return {k: (x - m) / sd for k, x in d.items()}
e, i, b = z(rows(\"e-$u.csv\")), z(rows(\"i-$u.csv\")), rows(\"b-$u.csv\")
assert set(b) == set(e) == set(i) and len(b) > 100
worst = max(abs(b[k] - (0.6 * e[k] + 0.4 * i[k])) for k in b)
assert worst < 1e-5, worst
'"
done
t_run "blend --weights 1,0" 0 "blend -q --weights 1,0 -o b10.bin rp3b.bin ials.bin"
t_true "weights 1,0 rank as the first part alone" \
	"mf-score --all --top 10 < b10.bin | bin2csv | cut -d, -f1,2,4 > b.csv && mf-score --all --top 10 < rp3b.bin | bin2csv | cut -d, -f1,2,4 > r.csv && cmp b.csv r.csv"
t_run "a blend's --pairs" 0 "mf-score --pairs test.bin < b64.bin | bin2csv --no-header | head -n 3"
t_true "--pairs = the --user row's score" "python3 -c '
import csv
b = {r[\"item\"]: r[\"score\"] for r in csv.DictReader(open(\"b-3.csv\"))}
for u, i, s, _ in csv.reader(open(\"out\")):
    if u == \"3\": assert b[i] == s, (i, b[i], s)
'"
for u in 3 77; do
	t_run "user $u: a blend's explanations" 0 "mf-score --user $u --top 15 --explain --because 0 < b64.bin > bx.bin && python3 $TOP/tests/tools/cfdump.py --json bx.bin > bx.json"
	t_true "user $u: contributions sum to the score + sum_p w_p mean_p / sd_p (1e-4)" "python3 -c '
import csv, json, math
def st(p):
    v = [float(r[\"score\"]) for r in csv.DictReader(open(p))]
    m = math.fsum(v) / len(v)
    return m, math.sqrt(math.fsum((x - m) ** 2 for x in v) / len(v))
(me, se), (mi, si) = st(\"e-$u.csv\"), st(\"i-$u.csv\")
const = 0.6 * me / se + 0.4 * mi / si
t = {x[\"name\"]: x for x in json.load(open(\"bx.json\"))}
c = {}
for u, i, b, w, r in t[\"explanations\"][\"rows\"]:
    c[i] = c.get(i, 0) + w
n = 0
for u, i, s, r in t[\"topk\"][\"rows\"]:
    assert abs(c[i] - s - const) <= 1e-4 * (1 + abs(const)), (i, c[i] - s, const)
    n += 1
assert n == 15
'"
done
blend -q --weights 0.5,0.5 -o bals.bin ease.bin als.bin
t_run "a blend with a rating model refuses --explain" 1 "mf-score --user 3 --top 3 --explain < bals.bin"
t_err_line "a blend with a rating model refuses --explain" mf-score "blend"

# ---- fold-in, fitted weights ----------------------------------------------
blend -q --weights 0.5,0.5 -o bnn.bin ease.bin rp3b.bin
t_true "a blend of item-neighbour models: a training user folded in = the user" \
	"mf-score --fold-in train.bin --top 10 < bnn.bin | bin2csv | sort > f.csv && mf-score --all --top 10 < bnn.bin | bin2csv | sort > a.csv && cmp f.csv a.csv"
t_run "blend: weights fitted on the validation split" 0 \
	"blend --valid valid.bin --fit fit-ease.bin,fit-rp3b.bin -o fitted.bin ease.bin rp3b.bin"
t_err_has "blend: reports the weights and each part alone" "validation NDCG@10 [0-9.]+, ease alone [0-9.]+, rp3b alone"
t_true "the fitted blend is no worse on validation than its parts" \
	"sed -n 's/.*NDCG@10 \([0-9.]*\), ease alone \([0-9.]*\), rp3b alone \([0-9.]*\)/\1 \2 \3/p' err | awk '{ exit !(\$1 >= \$2 && \$1 >= \$3) }'"
t_run "make evaluate's metrics read a blend's top N" 0 \
	"mf-score --all --top 10 < fitted.bin | metrics --truth test.bin --train train.bin --k 10 --metric ndcg"

# ---- served --------------------------------------------------------------
mkdir models
cp b64.bin models/blend.bin
cp ease.bin models/ease.bin
start_server nn --models models --default ease || exit 1
printf 'userId,item,rating\nnew,5,5\nnew,17,4\nnew,40,3\n' | sed 's/item/movieId/' > new.csv
csv2bin < new.csv > new.bin
for a in ease blend; do
	mf-score --fold-in new.bin --top 10 < models/$a.bin | join-meta --json > cli-$a.json
	req "$a: POST /recommendations" POST "/recommendations?model_name=$a" 200 \
		-d '{"ratings":[{"id":"5","rating":5},{"id":"17","rating":4},{"id":40,"rating":3}]}'
	t_true "$a: fold-in = mf-score --fold-in | join-meta --json" "test \"\$(cat out)\" = \"\$(cat cli-$a.json)\""
	mf-score --user 9 < models/$a.bin | topk 10 | join-meta --json > cli-u-$a.json
	req "$a: GET /recommendations" GET "/recommendations?user_id=9&model_name=$a" 200
	t_true "$a: = mf-score --user | topk 10 | join-meta --json" "test \"\$(cat out)\" = \"\$(cat cli-u-$a.json)\""
done
req "ease: GET /similar" GET "/similar?item_id=5&model_name=ease&k=3" 200
stop_server nn TERM
