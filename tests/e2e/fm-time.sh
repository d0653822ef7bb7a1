# fm-time.sh - fm's time groups (mf-fit --groups ...,time,userday): on
# generated data with a known bias per (user, day) and per week
# (tests/tools/fm_data.py gentime), fm with them predicts the test set
# clearly better than fm without; the stored model with its
# time_features scores each test pair at its own time as the samples'
# average does (the sampler's valid RMSE, in double, equals mf-score's);
# pairs without timestamps get no time term (the stored form alone);
# the same bytes at 1 and 2 threads; asked for on ratings without
# timestamps, a one-line error.
. "$TOP/tests/e2e/lib.sh"
TOOLS=$TOP/tests/tools

mkdir gen
python3 "$TOOLS/fm_data.py" gentime gen
csv2bin < gen/ttrain.csv > tr.bin
csv2bin < gen/ttest.csv > te.bin
csv2bin < gen/ttest-nots.csv > tn.bin
FAST="-q --algo fm -k 4 --samples 40 --burn-in 10"
t_run "fm with time and userday" 0 \
	"mf-fit $FAST --groups user,item,time,userday --valid te.bin -o with.bin tr.bin"
t_run "fm without" 0 "mf-fit $FAST --groups user,item -o without.bin tr.bin"
t_true "the groups recorded, the time_features table written" \
	"bin2csv --list < with.bin | head -n 1 | grep -q 'fm_groups=user,item,time,userday ' && bin2csv --list < with.bin | grep -q '^time_features'"
rw=$(mf-score --pairs te.bin < with.bin 2>/dev/null | metrics --metric rmse)
rwo=$(mf-score --pairs te.bin < without.bin 2>/dev/null | metrics --metric rmse)
t_true "fm with the time groups beats fm without ($rw vs $rwo)" \
	"awk -v a=$rw -v b=$rwo 'BEGIN { exit !(a < b - 0.1) }'"
avg=$(bin2csv --list < with.bin | head -n 1 | tr ' \t' '\n\n' | sed -n 's/^valid_rmse=//p')
t_true "stored model with time features = averaged samples ($rw vs $avg)" \
	"awk -v a=$rw -v b=$avg 'BEGIN { d = a - b; exit !(d < 1e-5 && d > -1e-5) }'"
# Without timestamps no time feature is active: the stored form
# mu + bu + bi + P.Q, which is the model's score without its time table.
rn=$(mf-score --pairs tn.bin < with.bin 2>/dev/null | metrics --metric rmse)
t_true "pairs without timestamps: the time term left out ($rn, worse than $rw)" \
	"awk -v a=$rn -v b=$rw 'BEGIN { exit !(a > b + 0.05) }'"
mf-score --pairs tn.bin < with.bin 2>/dev/null | bin2csv | awk -F, '$1 == 7 { print $2 "," $3 }' |
	sort -t, -k1,1 > nots7.csv
mf-score --user 7 < with.bin 2>/dev/null | bin2csv | awk -F, 'NR > 1 { print $2 "," $3 }' |
	sort -t, -k1,1 > user7.csv
join -t, nots7.csv user7.csv > both7.csv
t_true "pairs without timestamps = --user's scores (user 7: $(wc -l < both7.csv) items)" \
	"test \$(wc -l < both7.csv) -ge 5 && awk -F, '{ d = \$2 - \$3; if (d > 1e-4 || d < -1e-4) bad++ } END { exit bad > 0 }' both7.csv"
t_true "fm time: same bytes at 1 and 2 threads" \
	"mf-fit $FAST --groups user,item,implicit,time,userday --threads 1 -o t1.bin tr.bin && mf-fit $FAST --groups user,item,implicit,time,userday --threads 2 -o t2.bin tr.bin && cmp t1.bin t2.bin"
csv2bin < gen/ttest-nots.csv > nots-train.bin
t_run "--groups userday on ratings without timestamps" 1 \
	"mf-fit $FAST --groups user,item,userday -o bad.bin nots-train.bin"
t_err_line "  ... --groups userday without timestamps" mf-fit "timestamps"
t_true "  ... no model" "test ! -e bad.bin"
