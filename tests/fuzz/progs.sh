#!/bin/sh
# tests/fuzz/progs.sh [N] [BINDIR] [CASE...] - fuzzes the programs' whole
# main paths: N times per case (default 200), mutates a small valid input
# (tests/fuzz/mutate.py: bit flips, byte insertion and deletion, chunk
# duplication, truncation; frame inputs get their CRCs repaired most of the
# time) and runs the program on it.  BINDIR (default build/asan/bin) should
# hold the sanitizer build:
#   make BUILD=build/asan BIN=build/asan/bin \
#     CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" all
# A run passes if it exits 0, 1 or 2 within the time limit, prints no
# sanitizer report, and on exit 1 prints exactly one line on stderr, which
# starts with the program's name.  Failures are kept in
# build/fuzz-progs/fail/CASE-I.{in,cmd,err}; the last line says
# "progs: N passed, M failed".  CASE names a case below (default: all).
# FUZZ_BASE=K starts the mutations' random numbers at K (default 0), for
# a run that does not repeat an earlier one.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
n=${1:-200}
bin=${2:-build/asan/bin}
[ $# -gt 0 ] && shift
[ $# -gt 0 ] && shift
case $bin in /*) ;; *) bin=$top/$bin ;; esac
work=$top/build/fuzz-progs
seeds=$work/seeds
fails=$work/fail
tmp=$work/tmp
data=$top/data/ml-latest-small
mut="python3 $top/tests/fuzz/mutate.py"
mkdir -p "$seeds" "$fails" "$tmp"
PATH=$bin:$PATH
LC_ALL=C
ASAN_OPTIONS=exitcode=99:detect_leaks=1
UBSAN_OPTIONS=exitcode=98:print_stacktrace=1
OPENBLAS_NUM_THREADS=1
export PATH LC_ALL ASAN_OPTIONS UBSAN_OPTIONS OPENBLAS_NUM_THREADS

# ---- seeds: small valid inputs, made by the programs themselves ----------
s=$seeds
if [ ! -s "$s/model-als.bin" ]; then
	set -e
	head -60 "$data/ratings.csv" >"$s/ratings.csv"
	head -25 "$data/movies.csv" >"$s/movies.csv"
	head -12 "$data/links.csv" >"$s/links.csv"
	head -12 "$data/tags.csv" >"$s/tags.csv"
	sed 1d "$s/ratings.csv" | tr ',' '\t' >"$s/u.data"
	sed 1d "$s/ratings.csv" | sed 's/,/::/g' >"$s/ratings.dat"
	printf 'a,b,c\n1,"x ""y""",\n"multi\nline",2,3\n' >"$s/generic.csv"
	csv2bin -q <"$s/ratings.csv" >"$s/raw.bin"
	csv2bin -q <"$s/movies.csv" >"$s/movies.bin"
	csv2bin -q <"$s/links.csv" >"$s/links.bin"
	encode-ids <"$s/raw.bin" >"$s/enc.bin" 2>/dev/null
	split --test "$s/test.bin" --ratio 0.25 --seed 1 <"$s/enc.bin" >"$s/train.bin"
	for a in als sgd ials baseline popular; do
		mf-fit --algo $a -k 3 --epochs 2 --threads 1 --quiet <"$s/train.bin" >"$s/model-$a.bin"
	done
	mf-score --pairs "$s/test.bin" <"$s/model-als.bin" >"$s/pairs.bin" 2>/dev/null
	mf-score --user 1 <"$s/model-als.bin" >"$s/scores.bin"
	mf-score --all --top 5 <"$s/model-als.bin" >"$s/topk.bin"
	set +e
fi

# ---- cases: NAME SEED frame|text COMMAND ($IN is the mutated input) --------
cases() {
	cat <<EOF
csv2bin-ratings ratings.csv text csv2bin <\$IN
csv2bin-ratings-lenient ratings.csv text csv2bin --lenient --dups mean <\$IN
csv2bin-ratings-dups-error ratings.csv text csv2bin --dups error --raw-ids \$IN
csv2bin-ratings-keep ratings.csv text csv2bin --dups keep --scale none <\$IN
csv2bin-movies movies.csv text csv2bin <\$IN
csv2bin-links links.csv text csv2bin \$IN
csv2bin-tags tags.csv text csv2bin <\$IN
csv2bin-udata u.data text csv2bin <\$IN
csv2bin-dat ratings.dat text csv2bin \$IN
csv2bin-generic generic.csv text csv2bin --header yes <\$IN
csv2bin-noquotes ratings.csv text csv2bin --no-quotes --columns user,item,rating,_ --header yes <\$IN
bin2csv-raw raw.bin frame bin2csv <\$IN
bin2csv-all enc.bin frame bin2csv --all <\$IN
bin2csv-decode enc.bin frame bin2csv --decode <\$IN
bin2csv-list model-als.bin frame bin2csv --list \$IN
bin2csv-movies movies.bin frame bin2csv -d '\t' <\$IN
encode-ids raw.bin frame encode-ids <\$IN
encode-ids-enc enc.bin frame encode-ids <\$IN
split-ratio enc.bin frame split --test \$TMP/t.bin --ratio 0.3 <\$IN
split-per-user raw.bin frame split --test \$TMP/t.bin --per-user 0.5 --min-train 1 \$IN
split-last enc.bin frame split --test \$TMP/t.bin --last 1 <\$IN
split-time train.bin frame split --test \$TMP/t.bin --time-ratio 0.2 <\$IN
split-folds raw.bin frame split --test \$TMP/t.bin --folds 3 --fold 1 <\$IN
mf-fit-als train.bin frame mf-fit -k 2 --epochs 2 --threads 1 --quiet <\$IN
mf-fit-sgd raw.bin frame mf-fit --algo sgd -k 2 --epochs 2 --threads 1 --quiet <\$IN
mf-fit-ials enc.bin frame mf-fit --algo ials -k 2 --epochs 2 --threads 1 --quiet <\$IN
mf-fit-baseline train.bin frame mf-fit --algo baseline --epochs 2 --quiet --valid \$S/test.bin <\$IN
mf-fit-popular train.bin frame mf-fit --algo popular --quiet <\$IN
mf-fit-init train.bin frame mf-fit -k 3 --epochs 1 --threads 1 --quiet --init \$S/model-als.bin <\$IN
mf-fit-badinit model-als.bin frame mf-fit -k 3 --epochs 1 --threads 1 --quiet --init \$IN <\$S/train.bin
mf-score-pairs model-als.bin frame mf-score --pairs \$S/test.bin <\$IN
mf-score-pairs-frame test.bin frame mf-score --pairs \$IN <\$S/model-sgd.bin
mf-score-user model-als.bin frame mf-score --user 1 --top 3 <\$IN
mf-score-user-ials model-ials.bin frame mf-score --user 1 <\$IN
mf-score-all model-als.bin frame mf-score --all --top 3 --threads 1 <\$IN
mf-score-all-pop model-popular.bin frame mf-score --all --top 3 --threads 1 <\$IN
mf-score-similar model-sgd.bin frame mf-score --similar 1 <\$IN
mf-score-foldin model-als.bin frame mf-score --fold-in \$S/raw.bin --top 3 --explain <\$IN
mf-score-foldin-frame raw.bin frame mf-score --fold-in \$IN --top 3 <\$S/model-als.bin
mf-score-baseline model-baseline.bin frame mf-score --all --top 2 --threads 1 <\$IN
topk-scores scores.bin frame topk 3 <\$IN
topk-topk topk.bin frame topk 2 \$IN
metrics-pairs pairs.bin frame metrics <\$IN
metrics-ranking topk.bin frame metrics --truth \$S/test.bin --k 3 --json <\$IN
metrics-truth test.bin frame metrics --truth \$IN --k 3 --train \$S/train.bin <\$S/topk.bin
join-meta-topk topk.bin frame join-meta --movies \$S/movies.csv --links \$S/links.csv <\$IN
join-meta-json topk.bin frame join-meta --movies \$S/movies.csv --json --extra <\$IN
join-meta-history raw.bin frame join-meta --movies \$S/movies.bin --history --user 1 <\$IN
join-meta-movies-csv movies.csv text join-meta --movies \$IN --json <\$S/topk.bin
join-meta-movies-csv2 movies.csv text join-meta --movies \$IN --csv --extra <\$S/raw.bin
join-meta-links-csv links.csv text join-meta --movies \$S/movies.csv --links \$IN <\$S/topk.bin
join-meta-movies-frame movies.bin frame join-meta --movies \$IN <\$S/topk.bin
EOF
}

rm -f "$work/results"
only=" $* "
S=$seeds TMP=$tmp
export S TMP
cases | while read -r name seed kind cmd; do
	[ "$only" = "  " ] || case $only in *" $name "*) ;; *) continue ;; esac
	i=0
	while [ $i -lt "$n" ]; do
		IN=$tmp/in.$name
		export IN
		flag=
		[ "$kind" = frame ] && flag=--frame
		$mut "$seeds/$seed" "$IN" "$((${FUZZ_BASE:-0} + i))" $flag
		(cd "$tmp" && timeout 60 sh -c "$cmd" >"$tmp/out" 2>"$tmp/err")
		rc=$?
		why=
		case $rc in
		0 | 2) ;;
		1) [ "$(wc -l <"$tmp/err")" -eq 1 ] || why="exit 1 with $(wc -l <"$tmp/err") lines on stderr"
		   prog=${cmd%% *}
		   head -n 1 "$tmp/err" | grep -q "^$prog: " || why="${why:-exit 1, stderr not '$prog: ...'}" ;;
		124) why="timed out (60 s)" ;;
		*) why="exit status $rc" ;;
		esac
		if grep -Eq 'Sanitizer|runtime error|^==[0-9]+==' "$tmp/err"; then
			why="sanitizer report${why:+; $why}"
		fi
		if [ -n "$why" ]; then
			echo "FAIL $name #$i: $why: $(head -c 300 "$tmp/err" | head -n 3)"
			cp "$IN" "$fails/$name-$i.in"
			printf '%s\n' "$cmd" >"$fails/$name-$i.cmd"
			cp "$tmp/err" "$fails/$name-$i.err"
			echo "fail $name $rc" >>"$work/results"
		else
			echo "pass $name $rc" >>"$work/results"
		fi
		i=$((i + 1))
	done
done
# Per case: how the runs ended (exit 0 means the input got all the way through).
awk '{ n[$2]++; c[$2 " " $3]++ } END { for (k in n) { printf "%s: %d runs;", k, n[k];
	for (e = 0; e < 256; e++) if (c[k " " e]) printf " exit %d: %d", e, c[k " " e]; print "" } }' \
	"$work/results" 2>/dev/null | sort
p=$(grep -c '^pass' "$work/results" 2>/dev/null)
f=$(grep -c '^fail' "$work/results" 2>/dev/null)
p=${p:-0} f=${f:-0}
rm -f "$work/results"
echo "progs: $p passed, $f failed"
[ "$f" -eq 0 ]
