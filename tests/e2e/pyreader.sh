# pyreader.sh - python/cinefilter.py, the NumPy reader, on streams the C
# writer wrote: every column type and vector width (copied through the C
# library by cfcopy), csv2bin's, encode-ids', gen-ratings' and mf-fit's
# output; values against cfdump.py (the stdlib reader written from the
# spec), factor rows against bin2csv --ids, scores against mf-score, the
# README's example against mf-score --similar, damaged streams against the
# C reader's byte offsets.
. "$TOP/tests/e2e/lib.sh"

# The python3 with NumPy: the one on PATH, else Debian's (tools/deps.sh
# installs python3-numpy there).
PY=
for p in python3 /usr/bin/python3; do
	if "$p" -c 'import numpy' 2>/dev/null; then PY=$p; break; fi
done
t_true "a python3 with NumPy (python3-numpy)" "test -n '$PY'"
[ -n "$PY" ] || exit 0
CHK="$PY $TOP/tests/tools/pyreader_check.py"
COPY=$TOP/${BUILD:-build}/tests/cfcopy
case ${BUILD:-build} in /*) COPY=$BUILD/tests/cfcopy ;; esac

# Every type as a scalar and as a vector, several blocks, extreme values,
# NaN and infinities, an empty table and a table of no columns.
cat > wide.json <<'JSON'
[{"name":"wide","columns":[["a","u8"],["b","i32"],["c","u32"],["d","i64"],["e","u64"],["f","f32"],["g","f64"],["h","str"],
   ["va","u8",3],["vb","i32",2],["vc","u32",2],["vd","i64",2],["ve","u64",2],["vf","f32",4],["vg","f64",2]],
  "attrs":[["k","v"],["empty",""]],
  "rows":[[0,-2147483648,0,-9223372036854775808,0,-0.0,1e-310,"",[0,1,255],[-1,1],[0,4294967295],[-1,9223372036854775807],[0,18446744073709551615],[NaN,Infinity,-Infinity,1.5e-45],[NaN,-Infinity]],
          [255,2147483647,4294967295,9223372036854775807,18446744073709551615,3.4028234663852886e38,-1.7976931348623157e308,"a,b \"c\"",[1,2,3],[0,0],[1,2],[3,4],[5,6],[0.1,0.2,0.3,0.4],[0.1,0.2]],
          [7,8,9,10,11,12.5,13.25,"Misérables 日本",[4,5,6],[7,8],[9,10],[11,12],[13,14],[1,2,3,4],[5,6]]],
  "block_rows":2},
 {"name":"nothing","columns":[],"attrs":[["only","attrs"]],"rows":[]},
 {"name":"empty","columns":[["id","str"],["x","f32",8]],"rows":[]}]
JSON
for j in "$TOP/tests/data/alltypes.json" wide.json; do
	n=$(basename "$j" .json)
	t_run "$n: written by the C writer" 0 "python3 '$TOP/tests/tools/cfwrite.py' < '$j' | '$COPY' > $n.bin && bin2csv --list < $n.bin"
	t_run "$n: the reader agrees with cfdump.py" 0 "$CHK same $n.bin"
done
t_true "wide: 2-D vector columns, str objects" "$PY -c \"
import sys; sys.path.insert(0, '$TOP/python'); import cinefilter, numpy as np
t = cinefilter.read('wide.bin')[0]
assert t['vf'].shape == (3, 4) and t['vf'].dtype == np.float32, t['vf']
assert t['ve'][0, 1] == 18446744073709551615 and t['h'][2] == 'Misérables 日本'
assert t.attrs == {'k': 'v', 'empty': ''} and t.types['va'] == ('u8', 3)
\""

# What the programs write.
t_run "csv2bin, encode-ids, gen-ratings, mf-fit outputs" 0 "csv2bin < '$DATA/ratings.csv' > r.bin && encode-ids < r.bin > e.bin &&
	csv2bin < '$DATA/movies.csv' > mv.bin && gen-ratings --format frame -n 3000 -u 100 -i 80 > g.bin 2>/dev/null &&
	mf-fit -q -k 6 --epochs 3 -o m.bin r.bin"
for f in r e mv g m; do
	t_run "$f.bin: the reader agrees with cfdump.py" 0 "$CHK same $f.bin"
done

# A model: ids beside factor rows (bin2csv --ids is the C side), scores.
t_run "bin2csv --ids" 0 "bin2csv --ids -t item_factors < m.bin > ids.csv"
t_true "bin2csv --ids: header id,bias,factors_0.." "head -n 1 ids.csv | grep -qx 'id,bias,factors_0,factors_1,factors_2,factors_3,factors_4,factors_5'"
t_true "bin2csv --ids: one row per item, ids as the items table" \
	"test \"\$(tail -n +2 ids.csv | cut -d, -f1 | paste -sd' ')\" = \"\$(bin2csv --no-header -t items < m.bin | paste -sd' ')\""
t_run "bin2csv --ids on a table that is not factors" 1 "bin2csv --ids -t seen < m.bin"
t_err_line "bin2csv --ids on seen" bin2csv "--ids: table 'seen' is not a model's factor table"
t_run "mf-score --user 18" 0 "mf-score --user 18 < m.bin | bin2csv > s.csv"
t_run "read_model: factors beside ids, scores as mf-score's" 0 "$CHK model m.bin ids.csv s.csv"

# The README's example: the 10 movies nearest one by cosine, as mf-score
# --similar finds them.
sed -n '/^```python$/,/^```$/p' "$TOP/README.md" | sed '1d;$d' | head -n 5 | sed 's/model\.bin/m.bin/' > example.py
t_true "README: a five-line Python example" "test \$(wc -l < example.py) -eq 5 && grep -q read_model example.py"
t_run "README example runs" 0 "PYTHONPATH='$TOP/python' $PY example.py > ex.out"
t_true "README example: the 10 nearest to 260 as mf-score --similar" \
	"mf-score --similar 260 < m.bin | bin2csv --no-header | cut -d, -f2 | paste -sd' ' > sim.want &&
	 $PY -c 'import ast; print(\" \".join(ast.literal_eval(open(\"ex.out\").read())))' > sim.got && cmp sim.want sim.got"

# Damaged streams: a FrameError at the byte the C reader names.
cp r.bin flip.bin
printf '\377' | dd of=flip.bin bs=1 seek=3000 conv=notrunc 2>/dev/null
head -c 5000 r.bin > short.bin
cp r.bin tail.bin && printf 'junk' >> tail.bin
cp r.bin hdr.bin
printf '\377' | dd of=hdr.bin bs=1 seek=40 conv=notrunc 2>/dev/null
for f in flip short tail hdr; do
	at=$(bin2csv --all $f.bin 2>&1 >/dev/null | sed -n 's/^bin2csv: [^:]*: byte \([0-9]*\):.*/\1/p')
	t_run "$f.bin: FrameError at the C reader's offset ($at)" 0 "test -n '$at' && $CHK bad $f.bin '$at'"
done
t_run "python3 cinefilter.py lists as bin2csv --list" 0 "$PY '$TOP/python/cinefilter.py' m.bin > py.list && bin2csv --list < m.bin > c.list && cmp py.list c.list"
