# install.sh - make install into a temp prefix: coreutils' split still
# first on PATH (nothing installed changes what a command means), the
# design card's pipe works with the installed programs, split is cf-split,
# a man page for every program, the make workflows on one's own data
# directory outside the checkout, the Python reader importable; uninstall
# removes it all.
. "$TOP/tests/e2e/lib.sh"

P=$T_DIR/prefix
MK="make -s --no-print-directory -C $TOP BIN=$BIN BUILD=${BUILD:-build}"
t_run "make install PREFIX=temp" 0 "$MK install PREFIX=$P"
# The test's PATH less the checkout's bin/ (lib.sh put it first).
SYS_PATH=$(printf '%s\n' "$PATH" | tr ':' '\n' | grep -vx "$BIN" | paste -sd: -)
IPATH=$P/bin:$SYS_PATH

# What the user's shell finds after adding the prefix in front.
seq 10 > ten.txt
t_run "split -l 5 still coreutils' split" 0 "PATH=$IPATH; split -l 5 ten.txt part. && test \$(cat part.aa | wc -l) -eq 5 && test \$(cat part.ab | wc -l) -eq 5"
t_true "split -l 5: coreutils' split is first on PATH" "PATH=$IPATH; test \"\$(command -v split)\" = \"\$(PATH=/usr/bin:/bin command -v split)\""
t_true "no installed command has the name of a system command" "for f in $P/bin/*; do n=\$(basename \$f); if PATH=/usr/local/sbin:/usr/sbin:/sbin:/usr/bin:/bin command -v \$n >/dev/null; then echo \"\$n shadows a system command\" >&2; exit 1; fi; done"
t_true "every program installed (split as cf-split)" "for p in csv2bin bin2csv encode-ids cf-split gen-ratings mf-fit mf-score topk tune metrics join-meta serve; do test -x $P/bin/\$p || exit 1; done && test ! -e $P/bin/split"
t_true "the programs under their own names in libexec" "test -x $P/libexec/cinefilter/split && test -x $P/libexec/cinefilter/tune"

# The design card's pipe, with the installed programs.
csv2bin < "$DATA/ratings.csv" > ratings.bin 2>/dev/null
t_run "cat ratings.bin | mf-fit | mf-score --user 18 | topk 20" 0 \
	"PATH=$IPATH; cat ratings.bin | mf-fit -q -k 8 --epochs 2 | mf-score --user 18 | topk 20 | bin2csv --no-header | wc -l"
t_out_is "the pipe: 20 recommendations" 20
t_run "cf-split is cinefilter's split" 0 "PATH=$IPATH; encode-ids < ratings.bin | cf-split --ratio 0.2 --seed 42 --test te.bin | bin2csv --list | head -n 1 | cut -f 1,2"
t_out_is "cf-split: the train set" "ratings	80669"

# A man page for every program, named as installed.
t_true "a man page for every program" "for p in csv2bin bin2csv encode-ids cf-split gen-ratings mf-fit mf-score topk tune metrics join-meta serve; do MANPATH=$P/share/man man -P cat \$p 2>/dev/null | grep -q \"^ *\$p - \" || { echo \"no page for \$p\" >&2; exit 1; }; done"
t_true "mf-fit(1): the synopsis and the options from --help" "MANPATH=$P/share/man man -P cat mf-fit 2>/dev/null | grep -A1 '^SYNOPSIS' | grep -q 'mf-fit \\[--algo A\\]' && MANPATH=$P/share/man man -P cat mf-fit | grep -q -- '--patience N'"
t_true "no split(1) page to hide coreutils'" "test ! -e $P/share/man/man1/split.1"

# The make workflows outside the checkout, on one's own data directory
# (as a user runs them: not with the variables of the make running the
# tests, such as make test-asan's BIN, in MAKEFLAGS).
UMAKE="env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make"
mkdir -p mydata work
head -n 20001 "$DATA/ratings.csv" > mydata/ratings.csv
cp "$DATA/movies.csv" mydata/
t_run "make -f PREFIX/share/cinefilter/Makefile pipeline DATA=mydata" 0 \
	"cd work && $UMAKE -s -f $P/share/cinefilter/Makefile pipeline DATA=../mydata ALGOS='als popular' USER=1"
t_true "installed pipeline: prep, evaluation, the demo" "grep -q '^prep: ../mydata -> build/pipeline/mydata' out && grep -q '^als ' out && grep -q 'popular' out && grep -qi 'recommend' out"
t_true "installed pipeline: files under the working directory" "test -s work/build/pipeline/mydata/model-als.bin && test ! -e $TOP/build/pipeline/mydata"
t_true "installed pipeline: runs the installed programs" "grep -qx 'BIN = $P/libexec/cinefilter' $P/share/cinefilter/installed.mk && cd work && PATH=$SYS_PATH $UMAKE -n -f $P/share/cinefilter/Makefile train DATA=../mydata ALGO=sgd | grep -q '^$P/libexec/cinefilter/mf-fit '"

# The Python reader, where the installed tree's python3 looks.
PY=
for p in python3 /usr/bin/python3; do "$p" -c 'import numpy' 2>/dev/null && { PY=$p; break; }; done
t_run "the Python reader installed" 0 "PYTHONPATH=\$(echo $P/lib/python3*/dist-packages) $PY -c 'import cinefilter, sys; m = cinefilter.read_model(sys.argv[1]); print(len(m.items))' work/build/pipeline/mydata/model-als.bin"
t_true "the Python reader: the model's items" "test \"\$(cat out)\" -gt 100"

t_run "make uninstall" 0 "$MK uninstall PREFIX=$P"
t_true "uninstall leaves no file" "test -z \"\$(find $P -type f -o -type l)\""
