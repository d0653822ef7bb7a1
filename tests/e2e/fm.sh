# fm.sh - the Bayesian factorization machine (mf-fit --algo fm): on
# generated data with a known low-rank model plus a genre effect
# (tests/tools/fm_data.py) it lands within 5% of the noise floor and beats
# als on cold items (<= 3 training ratings) thanks to the genres; the
# stored model predicts the samples' average (the valid RMSE the sampler
# reports against mf-score's); byte-identical at 1 and 2 threads; every
# mf-score mode reads an fm model; one-line errors for bad flags.
. "$TOP/tests/e2e/lib.sh"
. "$TOP/tests/e2e/serve-lib.sh"
TOOLS=$TOP/tests/tools

# ---- generated data: the noise floor and cold items -----------------------
mkdir gen
python3 "$TOOLS/fm_data.py" gen gen
csv2bin < gen/train.csv > gtrain.bin
csv2bin < gen/test.csv > gtest.bin
t_run "fm trains on generated data" 0 \
	"mf-fit -q --algo fm --items gen/movies.csv --threads 2 -o gfm.bin gtrain.bin"
t_run "als trains on generated data" 0 "mf-fit -q --algo als --threads 2 -o gals.bin gtrain.bin"
mf-score --pairs gtest.bin < gfm.bin 2>/dev/null | bin2csv > gfm.csv
mf-score --pairs gtest.bin < gals.bin 2>/dev/null | bin2csv > gals.csv
python3 "$TOOLS/fm_data.py" check gen gfm.csv gals.csv > figures
read -r n floor fm als ncold fm_cold als_cold < figures
t_true "fm within 5% of the noise floor ($fm vs $floor over $n)" \
	"awk -v a=$fm -v b=$floor 'BEGIN { exit !(a <= 1.05 * b) }'"
t_true "fm beats als overall ($fm vs $als)" "awk -v a=$fm -v b=$als 'BEGIN { exit !(a < b) }'"
t_true "enough cold test ratings ($ncold)" "test $ncold -ge 100"
t_true "fm with genres beats als on cold items ($fm_cold vs $als_cold)" \
	"awk -v a=$fm_cold -v b=$als_cold 'BEGIN { exit !(a < b - 0.05) }'"

# ---- the shipped data ------------------------------------------------------
csv2bin < "$DATA/ratings.csv" > raw.bin
encode-ids < raw.bin | split --test test.bin --ratio 0.2 --seed 42 > train.bin
FAST="--algo fm -k 4 --samples 6 --burn-in 2 -q"
t_run "fm: threads 1" 0 "mf-fit $FAST --items $DATA/movies.csv --threads 1 -o f1.bin train.bin"
t_run "fm: threads 2" 0 "mf-fit $FAST --items $DATA/movies.csv --threads 2 -o f2.bin train.bin"
t_true "fm: same bytes at 1 and 2 threads" "cmp f1.bin f2.bin"
# Sides this small run on one thread (train/fm.c: chunks of ~131072
# ratings); 400,000 generated ratings make both sides' loops parallel.
gen-ratings -u 3000 -i 2000 -n 400000 --format frame > big.bin 2>/dev/null
t_true "fm: same bytes at 1 and 2 threads (parallel sides)" \
	"mf-fit -q --algo fm -k 2 --samples 2 --burn-in 1 --threads 1 -o b1.bin big.bin && mf-fit -q --algo fm -k 2 --samples 2 --burn-in 1 --threads 2 -o b2.bin big.bin && cmp b1.bin b2.bin"
t_true "fm: k x samples stored factors, the groups recorded" \
	"bin2csv --list < f1.bin | head -n 1 | grep ' k=24 ' | grep 'algo=fm' | grep -q 'fm_groups=user,item,implicit,raters,genres,year'"
t_run "fm: a seed changes the model" 0 "mf-fit $FAST --seed 7 -o f3.bin train.bin"
t_true "fm: seed 7 differs" "! cmp -s f1.bin f3.bin"

# The stored model's predictions are the samples' averaged ones: the
# sampler's valid RMSE (the average of the sample predictions, in double)
# equals mf-score's on the stored model.
t_run "fm with --valid" 0 "mf-fit $FAST --items $DATA/movies.csv --valid test.bin -o fv.bin train.bin"
avg=$(bin2csv --list < fv.bin | head -n 1 | tr ' \t' '\n\n' | sed -n 's/^valid_rmse=//p')
stored=$(mf-score --pairs test.bin < fv.bin 2>/dev/null | metrics --metric rmse)
t_true "stored model = averaged samples ($stored vs $avg)" \
	"awk -v a=$avg -v b=$stored 'BEGIN { d = a - b; exit !(a > 0.7 && d < 1e-5 && d > -1e-5) }'"
t_true "a progress row per sweep with the valid RMSE" \
	"mf-fit --algo fm -k 2 --samples 3 --burn-in 1 --valid test.bin train.bin 2>&1 >/dev/null | grep -Ec '^ +[1-4] +[0-9.]+ +[0-9.]+ ' | grep -qx 4"

# Every scoring mode reads an fm model.
u=$(bin2csv < raw.bin | sed -n 2p | cut -d, -f1)
t_run "mf-score --user" 0 "mf-score --user $u --top 5 < fv.bin | bin2csv --no-header | wc -l"
t_out_is "--user: 5 rows" 5
t_run "mf-score --all --top" 0 "mf-score --all --top 3 < fv.bin > top.bin"
t_true "--all: 3 per user" "test \$(bin2csv --no-header < top.bin | wc -l) -eq 1830"
t_run "mf-score --similar" 0 "mf-score --similar 1 < fv.bin > /dev/null"
printf 'userId,movieId,rating,timestamp\nnew1,1,5,1\nnew1,260,4,2\nnew1,1196,5,3\n' > fold.csv
csv2bin < fold.csv > fold.bin
t_run "mf-score --fold-in --explain" 0 "mf-score --fold-in fold.bin --top 5 --explain < fv.bin > fold.out"
t_run "mf-score --explain --user refused" 1 "mf-score --user $u --top 5 --explain < fv.bin"
t_err_line "--explain --user" mf-score "fm"
t_run "topk reads fm scores" 0 "mf-score --user $u < fv.bin | topk 3 | bin2csv --no-header | wc -l"
t_out_is "topk: 3 rows" 3

# serve: an fm model answers, and /train retrains it (with the server's
# --movies: its genres and year groups too).
mkdir models
cp fv.bin models/fm.bin
if start_server fm --models models --movies "$MOVIES" --threads 1; then
	req "serve: /recommendations from fm" GET "/recommendations?user_id=$u&model_name=fm" 200
	t_true "serve: 10 items" "python3 -c 'import json; assert len(json.load(open(\"out\"))[\"items\"]) == 10'"
	req "serve: /train an fm model" POST "/train?model_name=fm&epochs=2" 200 \
		-d '{"users":[1,1],"movies":[1,2],"ratings":[5,1]}'
	i=0
	while [ ! -s models/fm_1.bin ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
	t_true "serve: /train published fm_1 with the genres, 2 samples" \
		"bin2csv --list < models/fm_1.bin | head -n 1 | grep ' k=8 ' | grep -q 'fm_groups=user,item,implicit,raters,genres,year'"
	stop_server fm TERM
fi

# ---- errors ----------------------------------------------------------------
t_run "--groups: unknown" 2 "mf-fit --algo fm --groups user,bogus train.bin"
t_run "--items for als" 2 "mf-fit --algo als --items $DATA/movies.csv train.bin"
t_usage "--items for als" mf-fit "fm only"
t_run "--patience for fm" 2 "mf-fit --algo fm --valid test.bin --patience 2 train.bin"
t_usage "--patience for fm" mf-fit "patience"
# --init: fm trains anew on the model's ratings with the new ones merged
# in (a new rating of a known pair replaces the old), with its settings.
known=$(bin2csv --decode < train.bin | sed -n 2p | cut -d, -f1,2)
printf 'userId,movieId,rating,timestamp\nnew1,1,5,1\nnew1,2,3,2\n%s,1,3\n' "$known" > more.csv
csv2bin < more.csv > more.bin
t_run "--init for fm" 0 "mf-fit -q --init f1.bin --items $DATA/movies.csv -o fi.bin more.bin"
t_true "--init: one sample's k kept, the ratings merged" \
	"bin2csv --list < fi.bin | head -n 1 | grep ' k=24 ' | grep -q 'n_ratings=80671 '"
t_run "genres without --items" 1 "mf-fit --algo fm --groups user,item,genres train.bin"
t_err_line "genres without --items" mf-fit "need --items"
t_run "too many stored factors" 1 "mf-fit --algo fm -k 4096 --samples 100 train.bin"
t_err_line "too many stored factors" mf-fit "lower -k or --samples"
t_run "--items: missing file" 1 "mf-fit --algo fm --items nope.csv train.bin"
t_err_line "--items: missing file" mf-fit "nope.csv"
t_run "--burn-in: negative" 2 "mf-fit --algo fm --burn-in -1 train.bin"
t_usage "--burn-in: negative" mf-fit "burn-in"
t_run "tune refuses fm" 2 "tune -a fm train.bin"
t_err_has "tune: says why" "^tune: fm learns its regularization by sampling"
