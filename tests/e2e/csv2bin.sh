# csv2bin.sh - delimited text -> frame: the shipped MovieLens files, every
# value reproduced, quoting, CRLF/BOM, u.data and ratings.dat shapes, id
# canonicalisation, each kind of bad row (strict and --lenient), every
# --dups policy, -o atomicity, flags, garbage input.
. "$TOP/tests/e2e/lib.sh"
BAD=$TOP/tests/data/csv2bin

# Frames are read back by the independent reader tests/tools/cfdump.py when
# it works here, else by bin2csv.  Helper commands (in ./h, on PATH, so the
# sh -c of t_run and t_true sees them):
#   dump F      the data rows of F's (single) table as CSV, no header
#   nrows F     its row count;  tname F  its name;  attrs F  its attributes
#   norm3       the rating (3rd field) as a number: 4.0 (source) = 4 (reader)
#   dumprows F  dump F | norm3, the rows on one line separated by spaces
mkdir h
CFDUMP=$TOP/tests/tools/cfdump.py
helper() { printf '#!/bin/sh\n%s\n' "$2" > "h/$1" && chmod +x "h/$1"; }
if [ -f "$CFDUMP" ] && printf 'a\n1\n' | csv2bin | python3 "$CFDUMP" >/dev/null 2>&1; then
	helper dump "python3 '$CFDUMP' \"\$1\" | grep -v -e '^table ' -e '^attrs'"
	helper nrows "python3 '$CFDUMP' --summary \"\$1\" | sed -n 's/^table [^ ]* rows=\\([0-9]*\\).*/\\1/p'"
	helper tname "python3 '$CFDUMP' --summary \"\$1\" | sed -n 's/^table \\([^ ]*\\) .*/\\1/p'"
	helper attrs "python3 '$CFDUMP' \"\$1\" | grep '^attrs'"
else
	helper dump 'bin2csv --no-header "$1"'
	helper nrows 'bin2csv --list "$1" | cut -f2'
	helper tname 'bin2csv --list "$1" | cut -f1'
	helper attrs 'bin2csv --list "$1" | cut -f4'
fi
helper norm3 "awk -F, -v OFS=, '{ \$3 = \$3 + 0; print }'"
helper dumprows 'dump "$1" | norm3 | tr "\n" " " | sed "s/ \$//"'
PATH=$PWD/h:$PATH

# ---- the shipped files: exit 0, row counts, every value -------------------
for f in ratings:100836 movies:9742 links:9742 tags:3683; do
	n=${f%%:*} want=${f#*:}
	t_run "$n.csv converts" 0 "csv2bin '$DATA/$n.csv' > $n.bin"
	t_true "$n.csv: table $n" "test \"\$(tname $n.bin)\" = $n"
	t_true "$n.csv: $want rows" "test \"\$(nrows $n.bin)\" = $want"
done
t_true "ratings: every value reproduced" \
	"tail -n +2 '$DATA/ratings.csv' | norm3 > want && dump ratings.bin > got.ratings && norm3 < got.ratings | cmp - want"
t_true "ratings: sums of user, item, rating, timestamp agree" \
	"s() { awk -F, '{ u += \$1; i += \$2; r += \$3; t += \$4 } END { printf \"%d %d %.1f %d\\n\", u, i, r, t }'; };
	 test \"\$(tail -n +2 '$DATA/ratings.csv' | s)\" = \"\$(dump ratings.bin | s)\""
t_true "ratings: attributes scale and dups" "attrs ratings.bin | grep -q 'rating_min=0.5 rating_max=5 dups=latest'"
t_true "movies: titles with commas and quotes intact" \
	"tail -n +2 '$DATA/movies.csv' > want && dump movies.bin > got && cmp want got"
t_true "movies: a quoted title" "grep -q '^11,\"American President, The (1995)\",' got"
t_true "links: leading zeros and empty tmdb kept" \
	"tail -n +2 '$DATA/links.csv' > want && dump links.bin > got && cmp want got && grep -q '^1,0114709,862\$' got && grep -q ',\$' got"
t_true "tags: every value reproduced" \
	"tail -n +2 '$DATA/tags.csv' > want && dump tags.bin > got && cmp want got"
t_run "stdin and file argument agree" 0 "csv2bin < '$DATA/movies.csv' | cmp - movies.bin"

# ---- line ends, BOM, final newline -------------------------------------
for n in ratings movies; do
	t_run "$n: CRLF + BOM gives identical bytes" 0 \
		"{ printf '\\357\\273\\277'; sed 's/\$/\\r/' '$DATA/$n.csv'; } > crlf.csv && csv2bin < crlf.csv | cmp - $n.bin"
done
t_run "no final newline" 0 "head -c -1 '$DATA/movies.csv' | csv2bin | cmp - movies.bin"
t_run "blank lines skipped" 0 "sed '3s/^/\\n\\n/' '$DATA/movies.csv' | csv2bin | cmp - movies.bin"
t_run "quoted newline and doubled quotes" 0 \
	"printf 'movieId,title,genres\\n1,\"Two\\nlines, \"\"quoted\"\"\",Drama\\n2,x,\\n' | csv2bin > q.bin"
t_true "quoted newline and doubled quotes: values" \
	"dump q.bin > got && printf '1,\"Two\\nlines, \"\"quoted\"\"\",Drama\\n2,x,\\n' | cmp - got"

# ---- text: UTF-8 only; --encoding; UTF-16 and CR-only line ends said -------
t_run "UTF-8 passes through" 0 "printf 'movieId,title,genres\\n1,Caf\\303\\251 \\360\\237\\216\\254,X\\n' | csv2bin > u.bin"
t_true "UTF-8: bytes unchanged" "dump u.bin | od -An -tx1 | tr -d ' \\n' | grep -q '436166c3a920f09f8eac2c58'"
# Every string column is checked; the row is bad (strict: FILE:LINE, exit 1).
for c in latin1:'caf\351' overlong-C0:'\300\257' overlong-E0:'\340\200\257' \
         surrogate:'\355\240\200' above-10FFFF:'\364\220\200\200' five-bytes:'\370\210\200\200\200' \
         stray-continuation:'\200x' cut-short:'ab\303'; do
	n=${c%%:*} v=${c#*:}
	t_run "invalid UTF-8 ($n): a bad row" 1 "printf 'movieId,title,genres\\n1,ok,X\\n2,$v,X\\n' | csv2bin > o.bin"
	t_err_line "invalid UTF-8 ($n)" csv2bin "stdin:3: invalid UTF-8 in column 'title', byte [0-9]+: '.*' \\(a Latin-1 file needs --encoding latin1\\)\$"
done
t_run "invalid UTF-8: the message escapes the bytes" 1 "csv2bin '$BAD/bad-utf8.csv' > o.bin"
t_err_line "invalid UTF-8: the message escapes the bytes" csv2bin "$BAD/bad-utf8.csv:3: invalid UTF-8 in column 'title', byte 5: 'Bad \\\\xff \\(1999\\)'"
t_true "invalid UTF-8: the message is UTF-8 itself" "iconv -f UTF-8 -t UTF-8 err > /dev/null"
t_run "invalid UTF-8, lenient: the row dropped" 0 "csv2bin --lenient < '$BAD/bad-utf8.csv' > o.bin"
t_err_line "invalid UTF-8, lenient: counted" csv2bin "stdin: dropped 1 row: invalid UTF-8\$"
t_true "invalid UTF-8, lenient: the good rows" "dump o.bin | cut -d, -f1 | tr '\\n' ' ' | grep -qx '1 3 '"
t_run "invalid UTF-8 user id (ratings)" 1 "printf 'userId,movieId,rating,timestamp\\n1,1,4,1\\n\\377\\376,2,4,1\\n' | csv2bin > o.bin"
t_err_line "invalid UTF-8 user id" csv2bin "stdin:3: invalid UTF-8 in column 'user', byte 1: '\\\\xff\\\\xfe'"
t_run "invalid UTF-8 item id (ratings.dat shape)" 1 "printf '1::2::4::1\\n1::\\351::4::1\\n' | csv2bin > o.bin"
t_err_line "invalid UTF-8 item id" csv2bin "stdin:2: invalid UTF-8 in column 'item'"
t_run "invalid UTF-8 in a quoted field" 1 "printf 'movieId,title,genres\\n1,\"a, \\351\",X\\n' | csv2bin > o.bin"
t_err_line "invalid UTF-8 in a quoted field" csv2bin "stdin:2: invalid UTF-8 in column 'title'"
t_run "invalid UTF-8 in a skipped column is not written, not checked" 0 \
	"printf '1\\t\\377\\t2\\t4.5\\n' | csv2bin --columns user,_,item,rating > o.bin"
t_run "invalid UTF-8 in a generic header" 1 "printf 'a,b\\351\\n1,2\\n' | csv2bin > o.bin"
t_err_line "invalid UTF-8 in a generic header" csv2bin "stdin:1: invalid UTF-8 in the header, column 2, byte 2"
t_run "invalid UTF-8 in a generic table" 1 "printf 'a,b\\n1,2\\n3,\\377\\n' | csv2bin > o.bin"
t_err_line "invalid UTF-8 in a generic table" csv2bin "stdin:3: invalid UTF-8 in column 'b', byte 1"

# --encoding: converted to UTF-8 before parsing (ml-100k's u.item is Latin-1).
printf 'movieId|title|genres\n1|Caf\351 (1999)|Drama\n2|\300 bient\364t|Com\351die\n' > latin1.csv
t_run "latin1 without --encoding" 1 "csv2bin -d '|' latin1.csv > o.bin"
t_err_line "latin1 without --encoding" csv2bin "latin1.csv:2: invalid UTF-8 in column 'title', byte 4: 'Caf\\\\xe9 \\(1999\\)' \\(a Latin-1 file needs --encoding latin1\\)"
t_run "--encoding latin1 (file)" 0 "csv2bin -d '|' --encoding latin1 latin1.csv > l1.bin"
t_true "--encoding latin1: the title is UTF-8 (Cafe with e acute)" "test \"\$(dump l1.bin | head -n 1)\" = \"\$(printf '1,Caf\\303\\251 (1999),Drama')\""
t_true "--encoding latin1: every value" "test \"\$(dump l1.bin)\" = \"\$(iconv -f LATIN1 -t UTF-8 latin1.csv | tail -n +2 | tr '|' ,)\""
t_run "--encoding latin1 (pipe), ISO-8859-1, any case" 0 "cat latin1.csv | csv2bin -d '|' --encoding ISO-8859-1 | cmp - l1.bin"
t_run "--encoding latin1: join-meta prints the UTF-8 title" 0 "printf '[{\"name\": \"topk\", \"columns\": [[\"user\", \"str\"], [\"item\", \"str\"]], \"rows\": [[\"1\", \"1\"]]}]' | python3 '$TOP/tests/tools/cfwrite.py' | join-meta -m l1.bin --json"
t_out_is "--encoding latin1: join-meta prints the UTF-8 title" "$(printf '{"items":[{"id":"1","title":"Caf\303\251 (1999)","genres":["Drama"]}]}')"
t_run "--encoding cp1252: curly quotes" 0 "printf 'movieId,title,genres\\n1,\\223Quoted\\224 \\200,X\\n' | csv2bin --encoding cp1252 > cp.bin"
t_true "--encoding cp1252: UTF-8 out" "test \"\$(dump cp.bin)\" = \"\$(printf '1,\\342\\200\\234Quoted\\342\\200\\235 \\342\\202\\254,X')\""
t_run "--encoding cp1252: an undefined byte" 1 "printf 'movieId,title,genres\\n1,a,X\\n2,b\\201,X\\n' | csv2bin --encoding cp1252 > o.bin"
t_err_line "--encoding cp1252: an undefined byte" csv2bin "stdin:3: byte 30: not valid cp1252\$"
t_run "--encoding utf-8: the default, checked" 1 "csv2bin --encoding UTF-8 '$BAD/bad-utf8.csv' > o.bin"
t_err_line "--encoding utf-8" csv2bin "bad-utf8.csv:3: invalid UTF-8"
t_run "--encoding unknown" 2 "csv2bin --encoding ebcdic < '$DATA/links.csv'"
t_err_has "--encoding unknown: said" "^csv2bin: bad --encoding 'ebcdic': want utf-8, latin1"
t_true "--help lists the encodings" "csv2bin --help | grep -q -- '--encoding ENC' && csv2bin --help | grep -q 'utf-16le or utf-16be'"
# Decoding across buffer boundaries (pipe reads of 1 MiB, a 4 MiB buffer):
# an ASCII file of 7 MB reads the same as latin1, cp1252 and UTF-16.
{ cat "$DATA/ratings.csv"; tail -n +2 "$DATA/ratings.csv"; tail -n +2 "$DATA/ratings.csv"; } > big.csv
csv2bin --dups keep < big.csv > big.bin 2>/dev/null
t_run "big file: --encoding latin1 (pipe) = UTF-8" 0 "cat big.csv | csv2bin --dups keep --encoding latin1 | cmp - big.bin"
t_run "big file: --encoding cp1252 (file) = UTF-8" 0 "csv2bin --dups keep --encoding cp1252 big.csv | cmp - big.bin"
iconv -f UTF-8 -t UTF-16 big.csv > big16.csv
t_run "big file: UTF-16 without --encoding" 1 "csv2bin --dups keep big16.csv > o.bin"
t_run "big file: --encoding utf-16 (file) = UTF-8" 0 "csv2bin --dups keep --encoding utf-16 big16.csv | cmp - big.bin"
t_run "big file: --encoding utf-16 (pipe) = UTF-8" 0 "cat big16.csv | csv2bin --dups keep --encoding utf-16 | cmp - big.bin"

# UTF-16 (a byte order mark, LE or BE; or zero bytes beside ASCII): said, not
# "line 3: missing fields"; read with --encoding.
iconv -f UTF-8 -t UTF-16LE "$DATA/movies.csv" > m16le-nobom.csv
{ printf '\377\376'; cat m16le-nobom.csv; } > m16le.csv
iconv -f UTF-8 -t UTF-16BE "$DATA/movies.csv" > m16be-nobom.csv
{ printf '\376\377'; cat m16be-nobom.csv; } > m16be.csv
for f in m16le:LE:"byte order mark FF FE":utf-16 m16be:BE:"byte order mark FE FF":utf-16 \
         m16le-nobom:LE:"zero bytes after ASCII":utf-16le m16be-nobom:BE:"zero bytes before ASCII":utf-16be; do
	n=${f%%:*} r=${f#*:} e=${r%%:*} r=${r#*:} why=${r%%:*} enc=${r#*:}
	t_run "$n: UTF-16 said" 1 "csv2bin $n.csv > o.bin"
	t_err_line "$n: UTF-16 said" csv2bin "$n.csv:1: UTF-16$e text \\($why\\), not UTF-8: use --encoding $enc \\(or convert it: iconv -f $enc -t utf-8\\)\$"
	t_run "$n: --encoding $enc" 0 "csv2bin --encoding $enc $n.csv | cmp - movies.bin"
	t_run "$n: --encoding $enc (pipe)" 0 "cat $n.csv | csv2bin --encoding $enc | cmp - movies.bin"
done
t_run "UTF-16: a BOM and CRLF" 0 "sed 's/\$/\\r/' '$DATA/movies.csv' | iconv -f UTF-8 -t UTF-16 | csv2bin --encoding utf-16 | cmp - movies.bin"
t_run "UTF-16: cut inside a character" 1 "head -c 1001 m16le.csv | csv2bin --encoding utf-16 > o.bin"
t_err_line "UTF-16: cut inside a character" csv2bin "stdin:[0-9]+: byte 1000: the input ends inside a character of utf-16\$"
t_run "UTF-16: an unpaired surrogate" 1 "printf 'a\\000,\\000b\\000\\n\\000\\000\\334\\n\\000' | csv2bin --encoding utf-16le > o.bin"
t_err_line "UTF-16: an unpaired surrogate" csv2bin "stdin:2: byte 8: not valid utf-16le\$"

# CR-only line ends (classic Mac OS): said, not an empty table with exit 0.
t_run "CR-only line ends" 1 "tr '\\n' '\\r' < '$DATA/movies.csv' | csv2bin > o.bin"
t_err_line "CR-only line ends" csv2bin "stdin:1: CR-only line ends \\(classic Mac OS\\), not LF or CRLF: convert them to LF first \\(tr '.r' '.n'\\)\$"
t_run "CR-only line ends, a file" 1 "tr '\\n' '\\r' < '$DATA/ratings.csv' > mac.csv && csv2bin mac.csv > o.bin"
t_err_line "CR-only line ends, a file" csv2bin "mac.csv:1: CR-only line ends"
t_run "CR-only: converted as the message says" 0 "tr '\\r' '\\n' < mac.csv | csv2bin | cmp - ratings.bin"
t_run "a CR inside quotes in the first line is not CR-only" 0 "printf 'a,\"b\\rc\"\\n1,2\\n' | csv2bin > o.bin"
t_run "CRLF is not CR-only" 0 "printf 'a,b\\r\\n1,2\\r\\n' | csv2bin > o.bin"

# ---- headerless shapes: u.data (tab), ratings.dat (::) --------------------
tail -n +2 "$DATA/ratings.csv" | head -n 5000 > h.csv
t_run "headerless comma file is ratings" 0 "csv2bin < h.csv > h.bin"
t_true "headerless: table ratings with the same rows" \
	"test \"\$(tname h.bin)\" = ratings && head -n 5001 '$DATA/ratings.csv' | csv2bin | cmp - h.bin"
t_run "u.data shape (tab)" 0 "tr , '\\t' < h.csv | csv2bin | cmp - h.bin"
t_run "ratings.dat shape (::, CRLF)" 0 "sed 's/,/::/g; s/\$/\\r/' h.csv | csv2bin | cmp - h.bin"
t_run "explicit -d '\\t'" 0 "tr , '\\t' < h.csv | csv2bin -d '\\t' --header no | cmp - h.bin"
t_run "explicit -d ::" 0 "sed 's/,/::/g' h.csv | csv2bin --delimiter :: | cmp - h.bin"
t_run "three columns: no timestamp column" 0 "printf '1\\t2\\t3.5\\n' | csv2bin > n3.bin"
t_true "three columns: user,item,rating" "bin2csv n3.bin | head -n 1 | grep -qx 'user,item,rating' && dumprows n3.bin | grep -qx '1,2,3.5'"
t_run "--columns with _ skips" 0 "printf '1\\tx\\t2\\t4.5\\t77\\n' | csv2bin --header no --columns user,_,item,rating,timestamp > c.bin"
t_true "--columns: the right fields" "test \"\$(dumprows c.bin)\" = '1,2,4.5,77'"
t_run "--header yes with --columns renames" 0 "printf 'a,b,c\\n5,6,1.5\\n' | csv2bin --header yes --columns user,item,rating > c2.bin"
t_true "--header yes: one row" "test \"\$(dumprows c2.bin)\" = '5,6,1.5'"

# ---- ids and numbers ---------------------------------------------------
t_run "18, 018, +18, 18.0 are one id" 0 \
	"printf 'userId,movieId,rating,timestamp\\n18,1,1,1\\n018,1,2,2\\n+18,1,3,3\\n18.0,1,4,4\\n18.00,2,5,5\\n-0,3,1,6\\n-07.0,3,1,7\\n' | csv2bin --dups keep > ids.bin"
t_true "ids canonical" "test \"\$(dump ids.bin | cut -d, -f1 | tr '\\n' ' ')\" = '18 18 18 18 18 0 -7 '"
t_run "ids: one pair after dedup" 0 \
	"printf 'userId,movieId,rating,timestamp\\n18,1,1,1\\n018,1,2,2\\n18.0,1.0,3,3\\n' | csv2bin -q > ids2.bin"
t_true "ids: latest of the three survives" "test \"\$(dumprows ids2.bin)\" = '18,1,3,3'"
t_run "--raw-ids keeps ids verbatim" 0 \
	"printf 'userId,movieId,rating,timestamp\\n018,1.0,1,1\\n' | csv2bin --raw-ids > raw.bin"
t_true "--raw-ids values" "test \"\$(dumprows raw.bin)\" = '018,1.0,1,1'"
t_run "string ids" 0 "printf 'user,item,rating\\nalice,tt0114709,4.5\\nbob,\"A,B\",1.5\\n' | csv2bin > s.bin"
t_true "string ids kept" "test \"\$(dump s.bin | tr '\\n' ' ')\" = 'alice,tt0114709,4.5 bob,\"A,B\",1.5 '"
t_run "integral float timestamps, exponent rating" 0 \
	"printf 'userId,movieId,rating,timestamp\\n1,2,3.5e0,964982703.0\\n' | csv2bin > ts.bin"
t_true "integral float timestamp" "test \"\$(dumprows ts.bin)\" = '1,2,3.5,964982703'"

# ---- bad rows, strict: exit 1, one line FILE:LINE: reason ----------------
bad_case() {	# bad_case FILE LINE REASON-REGEX
	t_run "strict $1" 1 "csv2bin < '$BAD/$1' > o.bin"
	t_err_line "strict $1" csv2bin "stdin:$2: $3"
	t_run "strict $1 (file)" 1 "csv2bin '$BAD/$1' > o.bin"
	t_err_line "strict $1 (file)" csv2bin "$BAD/$1:$2: $3"
}
bad_case missing-field.csv 4 "missing fields \\(expected 4, found 3\\)"
bad_case extra-field.csv 3 "too many fields \\(expected 4, found 5\\)"
bad_case rating-text.csv 5 "rating is not a number 'abc'"
bad_case rating-nan.csv 2 "rating is NaN or infinite"
bad_case rating-inf.csv 3 "rating is NaN or infinite"
bad_case off-scale.csv 4 "rating off the scale \\[0.5, 5\\] '7.5'"
bad_case empty-user.csv 3 "empty user id"
bad_case empty-item.csv 4 "empty item id"
bad_case bad-timestamp.csv 2 "timestamp is not an integer"
bad_case unterminated.csv 4 "unterminated quoted field"
bad_case multiline.csv 5 "missing fields"
bad_case after-quote.csv 2 "text after a closing quote"
bad_case bad-utf8.csv 3 "invalid UTF-8 in column 'title', byte 5: 'Bad .xff \\(1999\\)'"
t_run "empty input" 1 "csv2bin < /dev/null"
t_err_line "empty input" csv2bin "stdin: empty input\$"
t_run "header only: a valid empty table" 0 "printf 'userId,movieId,rating,timestamp\\n' | csv2bin > e.bin"
t_true "header only: 0 rows of ratings" "test \"\$(tname e.bin)\" = ratings && test \"\$(nrows e.bin)\" = 0"
t_run "--kind that does not fit" 1 "csv2bin --kind ratings '$DATA/movies.csv'"
t_err_line "--kind that does not fit" csv2bin "do not make a ratings table"

# A strict failure after blocks were written leaves no valid stream.
t_run "late bad row, --dups keep" 1 "{ cat '$DATA/ratings.csv'; tail -n +2 '$BAD/missing-field.csv'; } | csv2bin --dups keep > part.bin"
t_err_line "late bad row" csv2bin "stdin:100840: missing fields"
t_true "partial output is not a valid stream" "test -s part.bin && ! dump part.bin > /dev/null 2>&1"

# ---- --lenient: drop and count per reason -------------------------------
t_run "lenient mixed" 0 "csv2bin --lenient < '$BAD/mixed.csv' > l.bin"
t_true "lenient: 5 reason lines" "test \$(wc -l < err) -eq 5"
t_err_has "lenient: missing" '^csv2bin: stdin: dropped 1 row: missing fields$'
t_err_has "lenient: extra" '^csv2bin: stdin: dropped 1 row: too many fields$'
t_err_has "lenient: empty id" '^csv2bin: stdin: dropped 1 row: empty user id$'
t_err_has "lenient: not a number" '^csv2bin: stdin: dropped 1 row: rating is not a number$'
t_err_has "lenient: off scale" '^csv2bin: stdin: dropped 3 rows: rating off the scale \[0.5, 5\]$'
t_true "lenient: the good rows" "test \"\$(dumprows l.bin)\" = '1,10,4,964982703 2,10,3,964982710'"
for f in rating-nan.csv rating-inf.csv unterminated.csv after-quote.csv bad-timestamp.csv; do
	t_run "lenient $f" 0 "csv2bin --lenient < '$BAD/$f' > o.bin"
	t_true "lenient $f: one count line" "test \$(wc -l < err) -eq 1 && grep -q 'dropped 1 row: ' err"
done
t_true "lenient unterminated: rows before it kept" \
	"csv2bin --lenient < '$BAD/unterminated.csv' 2>/dev/null > o.bin && test \"\$(nrows o.bin)\" = 2"
t_run "--scale none" 0 "csv2bin --scale none < '$BAD/off-scale.csv' > sn.bin"
t_true "--scale none: all rows, no scale attributes" "test \"\$(nrows sn.bin)\" = 3 && ! attrs sn.bin | grep -q rating_min"
t_run "--scale 1:10" 1 "printf 'user,item,rating\\n1,1,7.5\\n1,2,0.5\\n' | csv2bin --scale 1:10"
t_err_line "--scale 1:10" csv2bin "stdin:3: rating off the scale \\[1, 10\\]"

# ---- --dups --------------------------------------------------------------
D=$BAD/dups.csv
dups_case() {	# dups_case POLICY EXPECTED-ROWS
	t_run "dups $1" 0 "csv2bin --dups $1 < '$D' > d.bin"
	t_true "dups $1: survivors" "test \"\$(dumprows d.bin)\" = '$2'"
	t_true "dups $1: attribute" "attrs d.bin | grep -q 'dups=$1'"
}
dups_case latest "1,10,4.5,100 2,10,1,300 1,20,2,50 3,30,5,10"
t_err_line "dups latest: count" csv2bin "stdin: 3 duplicate \\(user, item\\) ratings resolved by --dups latest"
dups_case first "1,10,4,100 2,10,1,300 1,20,2,50 3,30,5,10"
dups_case last "1,20,2,50 2,10,2,200 1,10,3,90 3,30,5,10"
dups_case mean "1,10,3.83333,100 2,10,1.5,300 1,20,2,50 3,30,5,10"
dups_case keep "1,10,4,100 1,10,4.5,100 2,10,1,300 1,20,2,50 2,10,2,200 1,10,3,90 3,30,5,10"
t_true "dups keep: nothing on stderr" "test ! -s err"
t_run "default is latest" 0 "csv2bin -q < '$D' > d2.bin"
t_true "default is latest: same rows" "test \"\$(dumprows d2.bin)\" = '1,10,4.5,100 2,10,1,300 1,20,2,50 3,30,5,10'"
t_true "--quiet: nothing on stderr" "test ! -s err"
t_run "latest without timestamps: the later line" 0 "cut -d, -f1-3 '$D' | csv2bin -q > d3.bin"
t_true "latest without timestamps: rows" "test \"\$(dumprows d3.bin)\" = '1,20,2 2,10,2 1,10,3 3,30,5'"
t_run "dups error, strict" 1 "csv2bin --dups error < '$D' > d.bin"
t_err_line "dups error, strict" csv2bin "stdin:3: duplicate \\(user, item\\) pair \\(first on line 2\\)\$"
t_run "dups error, lenient" 0 "csv2bin --dups error --lenient < '$D' > d.bin"
t_err_line "dups error, lenient" csv2bin "stdin: dropped 3 rows: duplicate \\(user, item\\) pair\$"
t_true "dups error, lenient: survivors" "test \"\$(dumprows d.bin)\" = '1,10,4,100 2,10,1,300 1,20,2,50 3,30,5,10'"
t_run "shipped ratings have no duplicates" 0 "csv2bin --dups error '$DATA/ratings.csv' > de.bin"
t_true "shipped ratings: no duplicate message" "test ! -s err"
t_true "shipped ratings: dups error gives the same rows" "dump de.bin | cmp - got.ratings"

# ---- -o ------------------------------------------------------------------
mkdir odir
t_run "-o on failure" 1 "csv2bin -o odir/out.bin < '$BAD/off-scale.csv'"
t_true "-o on failure: no file, no temp file" "test -z \"\$(ls -A odir)\""
t_run "-o on success" 0 "csv2bin -o odir/out.bin < '$DATA/links.csv'"
t_true "-o on success: the file, nothing on stdout" "test ! -s out && cmp odir/out.bin links.bin && test \"\$(ls -A odir)\" = out.bin"

# ---- generic tables --------------------------------------------------------
t_run "generic table" 0 "printf 'name,Note\\nx,\"y, z\"\\n' | csv2bin > g.bin"
t_true "generic: table named by header" "test \"\$(tname g.bin)\" = table && bin2csv g.bin | head -n 1 | grep -qx 'name,Note'"
t_true "generic: values" "test \"\$(dump g.bin)\" = 'x,\"y, z\"'"
t_run "generic --table, headerless" 0 "printf 'x,y,z,w,v\\n' | csv2bin --table things --header no > g2.bin"
t_true "generic headerless: c1.. columns" "test \"\$(tname g2.bin)\" = things && bin2csv g2.bin | head -n 1 | grep -qx 'c1,c2,c3,c4,c5'"
t_run "--kind generic on ratings" 0 "csv2bin --kind generic '$DATA/ratings.csv' > g3.bin"
t_true "--kind generic: str columns named by header" "bin2csv --list g3.bin | grep -q '^table	100836	userId:str,movieId:str,rating:str,timestamp:str'"

# ---- flags -----------------------------------------------------------------
t_run "--help" 0 "csv2bin --help"
t_true "--help on stdout" "grep -q '^usage: csv2bin' out && test ! -s err"
t_run "--version" 0 "csv2bin --version"
t_run "unknown flag" 2 "csv2bin --bogus < /dev/null"
t_true "unknown flag: usage on stderr" "grep -qx \"try 'csv2bin --help'\" err && test ! -s out"
t_run "bad --dups" 2 "csv2bin --dups sometimes < /dev/null"
t_run "bad --scale" 2 "csv2bin --scale 5 < /dev/null"
t_run "missing input file" 1 "csv2bin /nonexistent/x.csv"
t_err_line "missing input file" csv2bin "/nonexistent/x.csv: No such file"

# ---- pipes and nonsense ----------------------------------------------------
t_run "reader goes away" 0 "csv2bin < '$DATA/ratings.csv' | head -c 100 > /dev/null"
t_true "reader goes away: no message" "test ! -s err"
t_run "reader goes away (streaming)" 0 "csv2bin --dups keep < '$DATA/ratings.csv' | head -c 100 > /dev/null"
t_true "reader goes away (streaming): no message" "test ! -s err"
# Binary garbage (an executable, a frame stream) is rejected or converted,
# never a crash: exit 0 or 1, at most one line strict, a valid stream on 0.
for g in "$BIN/csv2bin" ratings.bin; do
	b=$(basename "$g")
	t_true "garbage $b: no crash, at most one line" \
		"csv2bin < '$g' > o.bin 2> e; s=\$?; test \$s -le 1 && test \$(wc -l < e) -le 1 && { test \$s -eq 1 || dump o.bin > /dev/null; }"
	t_true "garbage $b, lenient: no crash" \
		"csv2bin --lenient < '$g' > o.bin 2> e; s=\$?; test \$s -le 1 && { test \$s -eq 1 || dump o.bin > /dev/null; }"
done
