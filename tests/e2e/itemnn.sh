# tests/e2e/itemnn.sh - the item-neighbour models (ease, rp3b) end to end:
# rp3b against a walk computed by hand; ease and rp3b against NumPy
# references on a generated matrix (tests/tools/itemnn_check.py: ease by a
# dense inverse, not a Cholesky); --keep; explanations that are the
# weights and sum to the score; fold-in of a training user = that user;
# --similar; byte-identical models at 1 and 2 threads; the item limit and
# --max-items; no fine-tuning; a model cut short or with a bad neighbour.
. "$TOP/tests/e2e/lib.sh"
TOOLS=$TOP/tests/tools
CHK="python3 $TOOLS/itemnn_check.py"
DUMP="python3 $TOOLS/cfdump.py"

# ---- rp3b by hand ------------------------------------------------------
# users u1: a b;  u2: a c;  u3: b c d.   |U_a| = |U_b| = |U_c| = 2, |U_d| = 1;
# |I_u1| = |I_u2| = 2, |I_u3| = 3.  alpha 1: W[j][i] = 1/|U_j| x sum over the
# users of j and i of 1/|I_u|, then / pop(i)^beta with beta 0.5:
#   a->b = 1/2 x 1/2 / sqrt 2 = 0.1767767   a->c = the same (via u2)
#   b->a = 0.1767767  b->c = 1/2 x 1/3 / sqrt 2 = 0.1178511  b->d = 1/6 = 0.1666667
#   c->a = 0.1767767  c->b = 0.1178511  c->d = 0.1666667
#   d->b = 1 x 1/3 / sqrt 2 = 0.2357023  d->c = 0.2357023
printf 'userId,movieId,rating,timestamp\nu1,a,4,1\nu1,b,3,2\nu2,a,5,3\nu2,c,1,4\nu3,b,2,5\nu3,c,4,6\nu3,d,5,7\n' > walk.csv
csv2bin < walk.csv > walk.bin
t_run "rp3b: the hand-computed walk trains" 0 "mf-fit -q --algo rp3b --alpha 1 --beta 0.5 --keep 10 < walk.bin > walk-m.bin"
$DUMP --json walk-m.bin > walk-m.json
t_run "rp3b: its weights" 0 "$CHK weights walk-m.json"
t_out_is "rp3b: the weights are the walk's" "a b 0.1767767
a c 0.1767767
b a 0.1767767
b c 0.1178511
b d 0.1666667
c a 0.1767767
c b 0.1178511
c d 0.1666667
d b 0.2357023
d c 0.2357023"
# u1 (a, b) scores c = a->c + b->c and d = b->d
t_run "rp3b: a user's score is the sum of its items' weights" 0 \
	"mf-score --user u1 < walk-m.bin | bin2csv --no-header | sort | awk -F, '{ printf \"%s %s %.6f\\n\", \$1, \$2, \$3 }'"
# c: 1/(4 sqrt 2) + 1/(6 sqrt 2) = 5/(12 sqrt 2)
t_out_is "rp3b: u1's scores" "u1 c 0.294628
u1 d 0.166667"
t_run "rp3b: --keep 1 keeps each item's largest" 0 \
	"mf-fit -q --algo rp3b --alpha 1 --beta 0.5 --keep 1 < walk.bin > walk-k1.bin && $DUMP --json walk-k1.bin > k1.json && $CHK weights k1.json"
t_out_is "rp3b: --keep 1 (ties by lower index)" "a b 0.1767767
b a 0.1767767
c a 0.1767767
d b 0.2357023"

# ---- against NumPy -------------------------------------------------------
gen-ratings -u 200 -i 150 -n 4000 --seed 3 --format frame 2>/dev/null | encode-ids > gen.bin
t_run "ease: trains (all weights kept)" 0 "mf-fit -q --algo ease --reg 20 --keep 1000 < gen.bin > ease.bin"
$DUMP --json ease.bin > ease.json
t_true "ease = the NumPy dense inverse (1e-4 of max|w|)" "$CHK ease ease.json 20 1e-4"
t_run "rp3b: trains" 0 "mf-fit -q --algo rp3b --alpha 0.7 --beta 0.4 --keep 1000 < gen.bin > rp3b.bin"
$DUMP --json rp3b.bin > rp3b.json
t_true "rp3b = the NumPy walk (1e-5 of max|w|)" "$CHK rp3b rp3b.json 0.7 0.4 1e-5"
t_true "a wrong lambda is caught by the reference" "! $CHK ease ease.json 25 1e-4"
# The co-rating time kernel (on by default): the reference adds it from the
# model's attributes and the seen table's timestamps; without it, the same
# reference must disagree with this model and agree with --time-window 0's.
t_true "ease: the time kernel is on by default" \
	"grep -q '\"time_window\": \"600\"' ease.json && grep -q '\"time_weight\": \"4\"' ease.json"
sed 's/"time_weight": "4"/"time_weight": "0"/' ease.json > ease-nok.json
t_true "the kernel is caught by the reference (left out: no match)" "! $CHK ease ease-nok.json 20 1e-4"
t_run "ease --time-window 0: plain X'X" 0 "mf-fit -q --algo ease --reg 20 --keep 1000 --time-window 0 < gen.bin > ease-t0.bin"
$DUMP --json ease-t0.bin > ease-t0.json
t_true "ease --time-window 0 = the NumPy dense inverse" "$CHK ease ease-t0.json 20 1e-4"
t_run "ease: a wider window, a heavier weight" 0 \
	"mf-fit -q --algo ease --reg 20 --keep 1000 --time-window 86400 --time-weight 3 < gen.bin > ease-t2.bin"
$DUMP --json ease-t2.bin > ease-t2.json
t_true "... = the NumPy reference with that kernel" "$CHK ease ease-t2.json 20 1e-4"
t_true "... byte-identical at 1 and 2 threads" \
	"mf-fit -q --algo ease --reg 20 --keep 1000 --time-window 86400 --time-weight 3 --threads 1 < gen.bin | cmp - ease-t2.bin"
printf 'userId,movieId,rating\n1,10,4\n1,11,3\n2,10,5\n2,12,4\n3,11,2\n3,12,5\n' | csv2bin | encode-ids > nots.bin
t_run "ease on ratings without timestamps" 1 "mf-fit -q --algo ease < nots.bin > /dev/null"
t_err_line "ease on ratings without timestamps" mf-fit "timestamps.*--time-window 0"
t_run "... trains with --time-window 0" 0 "mf-fit -q --algo ease --time-window 0 < nots.bin > /dev/null"
t_run "ease: a negative --time-weight" 2 "mf-fit -q --algo ease --time-weight -1 < gen.bin > /dev/null"
t_usage "ease: a negative --time-weight" mf-fit "--time-weight"

t_run "ease --keep 7" 0 "mf-fit -q --algo ease --reg 20 --keep 7 < gen.bin > ease7.bin"
$DUMP --json ease7.bin > ease7.json
t_true "--keep 7: each item keeps its 7 largest |w| of the full model" "python3 -c '
import json
def nb(p):
    t = {x[\"name\"]: x for x in json.load(open(p))}[\"neighbors\"][\"rows\"]
    d = {}
    for j, i, w in t: d.setdefault(j, {})[i] = w
    return d
full, cut = nb(\"ease.json\"), nb(\"ease7.json\")
for j, row in full.items():
    best = sorted(row.items(), key=lambda x: (-abs(x[1]), x[0]))[:7]
    assert sorted(cut[j]) == sorted(i for i, _ in best), j
    assert all(abs(cut[j][i] - row[i]) <= 1e-6 for i in cut[j])
'"

# ---- explanations, fold-in, similar ------------------------------------
USERS=
for u in $(seq 1 13 200); do USERS="$USERS --user $u"; done
for a in ease rp3b; do
	t_run "$a: explains every history item" 0 "mf-score $USERS --top 20 --explain --because 0 < $a.bin > ex.bin"
	$DUMP --json ex.bin > ex.json
	t_true "$a: scores and contributions are the history's weights (1e-5)" "$CHK explain $a.json ex.json 1e-5"
	t_run "$a: --fold-in of the training ratings" 0 "mf-score --fold-in gen.bin --top 10 < $a.bin | bin2csv > fold.csv"
	t_run "$a: every user's top 10" 0 "mf-score --all --top 10 < $a.bin | bin2csv > all.csv"
	t_true "$a: a training user folded in = the same user (bit for bit)" "sort fold.csv > f.s && sort all.csv > a.s && cmp f.s a.s"
	t_run "$a: --similar" 0 "mf-score --similar 5 --top 3 < $a.bin | bin2csv --no-header"
	t_true "$a: --similar ranks the item's largest weights" "python3 -c '
import csv, json
m = {x[\"name\"]: x for x in json.load(open(\"$a.json\"))}
ids = [r[0] for r in m[\"items\"][\"rows\"]]
j = ids.index(\"5\")
row = sorted(((w, ids[i]) for jj, i, w in m[\"neighbors\"][\"rows\"] if jj == j), key=lambda x: -x[0])[:3]
got = [r for r in csv.reader(open(\"out\"))]
assert [g[1] for g in got] == [i for _, i in row], (got, row)
'"
	t_run "$a: 1 thread" 0 "mf-fit -q --algo $a --threads 1 < gen.bin > t1.bin"
	t_run "$a: 2 threads" 0 "mf-fit -q --algo $a --threads 2 < gen.bin > t2.bin"
	t_true "$a: byte-identical at 1 and 2 threads" "cmp t1.bin t2.bin"
	t_run "$a: no fine-tuning" 1 "mf-fit --init $a.bin < gen.bin"
	t_err_line "$a: no fine-tuning" mf-fit "not fine-tuned"
done

# ---- the item limit, --max-items ----------------------------------------
gen-ratings -u 2000 -i 30000 -n 200000 --zipf 0 --seed 5 --format frame 2>/dev/null > wide.bin
t_run "ease: over 20000 rated items is refused" 1 "mf-fit -q --algo ease < wide.bin"
t_err_line "ease: over 20000 rated items is refused" mf-fit "--max-items"
t_run "ease --max-items 300" 0 "mf-fit -q --algo ease --max-items 300 --keep 50 < wide.bin > wide-m.bin"
t_true "--max-items 300: weights among 300 items only" \
	"$DUMP wide-m.bin | awk -F, '/^table neighbors/ { on = 1; next } /^table/ { on = 0 } /^attrs/ { next } on { s[\$1] = 1; s[\$2] = 1 } END { n = 0; for (k in s) n++; exit !(n > 0 && n <= 300) }'"
t_run "--max-items: a user's top 5" 0 "mf-score --user 1 --top 5 < wide-m.bin | bin2csv --no-header"
t_true "--max-items: the top items have scores above the rest's -FLT_MAX" \
	"awk -F, '{ if (\$3 < -1e30) exit 1 } END { exit NR != 5 }' out"
t_run "--keep 0 is refused (a usage error)" 2 "mf-fit -q --algo rp3b --keep 0 < gen.bin"

# ---- a damaged model --------------------------------------------------------
size=$(wc -c < rp3b.bin)
head -c $((size - 64)) rp3b.bin > cut.bin
t_run "a model cut inside 'neighbors' is refused" 1 "mf-score --user 1 < cut.bin"
t_err_line "a model cut inside 'neighbors' is refused" mf-score "cut|byte|truncat"
