# join-meta.sh - item ids joined with movie metadata: the contract form on
# the shipped data (mf-score --user 18 | topk 20 | join-meta --json) checked
# item by item against movies.csv read by Python's csv module; the exact
# JSON shapes (ids only, with metadata, history); titles with commas,
# quotes and non-ASCII in the table (aligned by code points), CSV and JSON;
# movies.csv and its csv2bin frame give the same output; links; several
# users; unknown ids; usage and runtime errors.
. "$TOP/tests/e2e/lib.sh"

CFW="python3 $TOP/tests/tools/cfwrite.py"

# A small movies.csv with a byte order mark and CRLF line ends: quoted
# titles with commas and doubled quotes, a non-ASCII title, a movie with no
# genres and no year, and "(no genres listed)".
printf '\357\273\277movieId,title,genres\r\n1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy\r\n11,"American President, The (1995)",Comedy|Drama|Romance\r\n29,"City of Lost Children, The (Cit\303\251 des enfants perdus, La) (1995)",Adventure|Drama|Fantasy|Mystery|Sci-Fi\r\n7,"Say ""Cheese"" (2001)",(no genres listed)\r\n149,Hyena Road,\r\n74510,"Girl Who Played with Fire, The (2009)",Action|Crime|Drama|Mystery|Thriller\r\n' > movies.csv
printf 'movieId,imdbId,tmdbId\n1,0114709,862\n29,0112682,902\n74510,1216487,\n' > links.csv
# User 18's top 6: 999 is in no file.
$CFW > t18.bin <<'EOF'
[{"name": "topk", "columns": [["user", "str"], ["item", "str"], ["score", "f32"], ["rank", "u32"]],
  "rows": [["18", "74510", 4.5, 1], ["18", "29", 4.25, 2], ["18", "11", 4.0, 3],
           ["18", "7", 3.5, 4], ["18", "999", 3.0, 5], ["18", "149", 2.75, 6]]}]
EOF

# ---- exact JSON shapes ------------------------------------------------
t_run "json with metadata" 0 "join-meta --movies movies.csv --json < t18.bin"
t_out_is "json with metadata: exact" '{"items":[{"id":"74510","title":"Girl Who Played with Fire, The (2009)","genres":["Action","Crime","Drama","Mystery","Thriller"]},{"id":"29","title":"City of Lost Children, The (Cit'"$(printf '\303\251')"' des enfants perdus, La) (1995)","genres":["Adventure","Drama","Fantasy","Mystery","Sci-Fi"]},{"id":"11","title":"American President, The (1995)","genres":["Comedy","Drama","Romance"]},{"id":"7","title":"Say \"Cheese\" (2001)","genres":["(no genres listed)"]},{"id":"999","title":"","genres":[]},{"id":"149","title":"Hyena Road","genres":[]}]}'
t_true "json: valid" "python3 -m json.tool out"
t_err_line "json: unknown id counted" join-meta "1 of 6 rows have an item id not in movies.csv \\(first: '999'\\)"
t_run "json ids only" 0 "join-meta --movies movies.csv --ids-only --json < t18.bin"
t_out_is "json ids only: exact" '{"items":[{"id":"74510"},{"id":"29"},{"id":"11"},{"id":"7"},{"id":"999"},{"id":"149"}]}'
t_true "json ids only: no unknown-id line" "test ! -s err"
t_run "json without --movies" 0 "join-meta --json t18.bin"
t_out_is "json without --movies: ids only" '{"items":[{"id":"74510"},{"id":"29"},{"id":"11"},{"id":"7"},{"id":"999"},{"id":"149"}]}'
t_run "json history" 0 "join-meta --history --json -m movies.csv < t18.bin"
t_out_is "json history: exact" '{"features":[{"histories":["74510","29","11","7","999","149"]}]}'
t_run "json --extra" 0 "join-meta -m movies.csv -l links.csv --json --extra -n 2 < t18.bin"
t_out_is "json --extra: user, year, links, score, rank" '{"user":"18","items":[{"id":"74510","title":"Girl Who Played with Fire, The (2009)","genres":["Action","Crime","Drama","Mystery","Thriller"],"year":2009,"imdb":"1216487","tmdb":"","score":4.5,"rank":1},{"id":"29","title":"City of Lost Children, The (Cit'"$(printf '\303\251')"' des enfants perdus, La) (1995)","genres":["Adventure","Drama","Fantasy","Mystery","Sci-Fi"],"year":1995,"imdb":"0112682","tmdb":"902","score":4.25,"rank":2}]}'

# ---- rank order, the movies frame ---------------------------------------
# The same rows shuffled: printed by rank.
$CFW > shuffled.bin <<'EOF'
[{"name": "topk", "columns": [["user", "str"], ["item", "str"], ["score", "f32"], ["rank", "u32"]],
  "rows": [["18", "7", 3.5, 4], ["18", "149", 2.75, 6], ["18", "74510", 4.5, 1],
           ["18", "999", 3.0, 5], ["18", "11", 4.0, 3], ["18", "29", 4.25, 2]]}]
EOF
join-meta -m movies.csv --json < t18.bin > want.json 2>/dev/null
t_run "rows by rank" 0 "join-meta -m movies.csv --json < shuffled.bin > got.json"
t_true "rows by rank: same as in rank order" "cmp got.json want.json"
csv2bin < movies.csv > movies.bin 2>/dev/null
t_run "movies frame" 0 "join-meta -m movies.bin --json < t18.bin > frame.json"
t_true "movies frame: same JSON as the CSV" "cmp frame.json want.json"
t_err_line "movies frame: unknown id counted" join-meta "not in movies.bin"

# ---- the table for people -----------------------------------------------
t_run "table" 0 "join-meta -m movies.csv -l links.csv < t18.bin"
cat > want.txt <<EOF
movieId  title                                                            genres                                  imdbId   tmdbId   score  rank
74510    Girl Who Played with Fire, The (2009)                            Action|Crime|Drama|Mystery|Thriller     1216487          4.5000     1
29       City of Lost Children, The (Cit$(printf '\303\251') des enfants perdus, La) (1995)  Adventure|Drama|Fantasy|Mystery|Sci-Fi  0112682  902     4.2500     2
11       American President, The (1995)                                   Comedy|Drama|Romance                                     4.0000     3
7        Say "Cheese" (2001)                                              (no genres listed)                                       3.5000     4
999                                                                                                                                3.0000     5
149      Hyena Road                                                                                                                2.7500     6
EOF
t_true "table: exact" "cmp out want.txt"
# Independently, in code points: text columns start two spaces after the
# previous column, as their header does; number columns end where theirs does.
t_true "table: aligned by code points, not bytes" "python3 -c '
lines = open(\"out\", encoding=\"utf-8\").read().splitlines()
head = lines[0]
cols = []
for i, ch in enumerate(head):
    if ch != \" \" and (i == 0 or head[i - 1] == \" \"):
        cols.append([i, i])
    if ch != \" \":
        cols[-1][1] = i + 1
assert len(cols) == 7 and len(lines) == 7
for l in lines[1:]:
    for s, e in cols[1:5]:
        assert l[s - 2:s] == \"  \", (l, s)
    for s, e in cols[5:]:
        assert l[e - 1] != \" \" and l[e:e + 1] in (\"\", \" \"), (l, e)
assert \"Cit\\u00e9 des\" in lines[2]
'"

# ---- CSV ------------------------------------------------------------------
t_run "csv" 0 "join-meta -m movies.csv --csv < t18.bin"
# Read back with Python's csv module: the fields are movies.csv's.
t_true "csv: reads back to the movies file's fields" "python3 -c '
import csv
movies = {r[\"movieId\"]: r for r in csv.DictReader(open(\"movies.csv\", encoding=\"utf-8-sig\", newline=\"\"))}
rows = list(csv.DictReader(open(\"out\", encoding=\"utf-8\", newline=\"\")))
assert list(rows[0]) == [\"movieId\", \"title\", \"genres\", \"score\", \"rank\"], list(rows[0])
assert [r[\"movieId\"] for r in rows] == [\"74510\", \"29\", \"11\", \"7\", \"999\", \"149\"]
for r in rows:
    m = movies.get(r[\"movieId\"], {\"title\": \"\", \"genres\": \"\"})
    assert (r[\"title\"], r[\"genres\"]) == (m[\"title\"], m[\"genres\"]), r
assert [r[\"score\"] for r in rows] == [\"4.5\", \"4.25\", \"4\", \"3.5\", \"3\", \"2.75\"]
assert [r[\"rank\"] for r in rows] == [\"1\", \"2\", \"3\", \"4\", \"5\", \"6\"]
'"

# ---- several users ----------------------------------------------------------
$CFW > two.bin <<'EOF'
[{"name": "scores", "columns": [["user", "str"], ["item", "str"], ["score", "f32"]],
  "rows": [["2", "11", 1.5], ["1", "1", 2.5], ["2", "29", 0.5], ["1", "7", 1.0]]}]
EOF
t_run "two users: JSON Lines" 0 "join-meta -m movies.csv --json < two.bin"
t_out_is "two users: one exact object per user, first appearance order" \
	"$(printf '%s\n%s' '{"items":[{"id":"11","title":"American President, The (1995)","genres":["Comedy","Drama","Romance"]},{"id":"29","title":"City of Lost Children, The (Cit'"$(printf '\303\251')"' des enfants perdus, La) (1995)","genres":["Adventure","Drama","Fantasy","Mystery","Sci-Fi"]}]}' \
	'{"items":[{"id":"1","title":"Toy Story (1995)","genres":["Adventure","Animation","Children","Comedy","Fantasy"]},{"id":"7","title":"Say \"Cheese\" (2001)","genres":["(no genres listed)"]}]}')"
t_run "two users: --user 1" 0 "join-meta -m movies.csv --json --ids-only --user 1 < two.bin"
t_out_is "two users: --user 1" '{"items":[{"id":"1"},{"id":"7"}]}'
t_run "two users: --user 01 (canonical)" 0 "join-meta --json -u 01 < two.bin"
t_out_is "two users: --user 01" '{"items":[{"id":"1"},{"id":"7"}]}'
t_run "two users: --extra labels" 0 "join-meta --json --extra < two.bin | cut -c1-12"
t_out_is "two users: --extra labels" "$(printf '{"user":"2",\n{"user":"1",')"
t_run "two users: table has userId" 0 "join-meta -m movies.csv --csv < two.bin | cut -d, -f1,2"
t_out_is "two users: csv userId column" "$(printf 'userId,movieId\n2,11\n2,29\n1,1\n1,7')"
t_run "absent user" 0 "join-meta --json --user 3 < two.bin"
t_out_is "absent user: empty list" '{"items":[]}'
t_err_line "absent user: said on stderr" join-meta "user '3' is not in the input"

# ---- the contract form and a history on the shipped data ------------------
if [ -x "$BIN/mf-fit" ] && [ -x "$BIN/mf-score" ] && [ -x "$BIN/topk" ]; then
	csv2bin < "$DATA/ratings.csv" | encode-ids | split --test test.bin --ratio 0.2 --seed 42 > train.bin
	mf-fit -q -k 8 --epochs 3 < train.bin > model.bin 2>/dev/null
	mf-score --user 18 < model.bin | topk 20 > top20.bin
	t_run "contract" 0 "mf-score --user 18 < model.bin | topk 20 | join-meta --movies '$DATA/movies.csv' --json > c.json"
	t_true "contract: quiet" "test ! -s err"
	bin2csv --no-header < top20.bin | cut -d, -f2 > top20.ids
	t_true "contract: exact shape, 20 items in rank order, movies.csv's titles and genres" "python3 -c '
import csv, json
lines = open(\"c.json\", encoding=\"utf-8\").read().splitlines()
assert len(lines) == 1
d = json.loads(lines[0])
assert list(d) == [\"items\"]
items = d[\"items\"]
assert len(items) == 20
assert [i[\"id\"] for i in items] == open(\"top20.ids\").read().split()
movies = {r[\"movieId\"]: r for r in csv.DictReader(open(\"$DATA/movies.csv\", encoding=\"utf-8\", newline=\"\"))}
for i in items:
    assert list(i) == [\"id\", \"title\", \"genres\"], list(i)
    assert isinstance(i[\"id\"], str)
    m = movies[i[\"id\"]]
    assert i[\"title\"] == m[\"title\"], (i, m)
    assert i[\"genres\"] == m[\"genres\"].split(\"|\"), (i, m)
'"
	# A history from an encoded split output: most recent first, ties in input order.
	t_run "history of user 18" 0 "join-meta --json --user 18 < test.bin > h.json"
	bin2csv --decode --no-header < test.bin | awk -F, '$1 == 18' | sort -t, -s -k4,4nr | cut -d, -f2 > h.want
	t_true "history: exact shape, most recent first" "python3 -c '
import json
d = json.load(open(\"h.json\"))
assert list(d) == [\"features\"] and len(d[\"features\"]) == 1 and list(d[\"features\"][0]) == [\"histories\"]
h = d[\"features\"][0][\"histories\"]
assert h == open(\"h.want\").read().split(), h
assert len(h) > 5
'"
	t_run "history table with links" 0 "join-meta -m '$DATA/movies.csv' -l '$DATA/links.csv' -u 18 -n 3 < train.bin"
	t_true "history table: 3 rows, rating and timestamp columns" "test \$(wc -l < out) -eq 4 && head -n 1 out | grep -Eq '^movieId +title +genres +imdbId +tmdbId +rating +timestamp$'"
	t_run "movies.csv frame = CSV on the shipped data" 0 "csv2bin < '$DATA/movies.csv' > ml-movies.bin && join-meta -m ml-movies.bin --json < top20.bin | cmp - c.json"
else
	t_record fail "contract form" "mf-fit, mf-score or topk missing from $BIN"
fi

# ---- errors -------------------------------------------------------------
t_run "missing movies file" 1 "join-meta -m nosuch.csv < t18.bin"
t_err_line "missing movies file" join-meta "nosuch.csv: No such file"
printf 'movieId,title,genres\n1,A (2000),Drama\n2,B (2001)\n' > short.csv
t_run "movies: short record" 1 "join-meta -m short.csv < t18.bin"
t_err_line "movies: short record" join-meta "short.csv: line 3: expected 3 fields, found 2"
printf 'movieId,title,genres\n1,A (2000),Drama\n1,B (2001),Drama\n' > dup.csv
t_run "movies: duplicate id" 1 "join-meta -m dup.csv < t18.bin"
t_err_line "movies: duplicate id" join-meta "dup.csv: line 3: duplicate movie id '1'"
t_run "movies: a ratings frame" 1 "join-meta -m t18.bin < t18.bin"
t_err_line "movies: a ratings frame" join-meta "t18.bin: .*expected a 'movies' table, found 'topk'"
# Strings that are not UTF-8 are refused when the metadata loads, naming the
# file and the line (or the frame's row), whatever the output.
printf 'movieId,title,genres\n1,Good (1999),Drama\n74510,Bad \377 title,Drama\n' > latin1.csv
t_run "title not UTF-8: JSON" 1 "join-meta -m latin1.csv --json < t18.bin"
t_err_line "title not UTF-8: JSON" join-meta "latin1.csv: line 3: invalid UTF-8 in the title, byte 5: 'Bad .xff title' \\(convert the file to UTF-8"
t_run "title not UTF-8: the table" 1 "join-meta -m latin1.csv < t18.bin"
t_err_line "title not UTF-8: the table" join-meta "latin1.csv: line 3: invalid UTF-8 in the title"
for c in genres:'1,A,Dr\300\257ama' id:'\355\240\200,A,Drama' above-10FFFF:'1,\364\220\200\200,X'; do
	n=${c%%:*} v=${c#*:}
	printf "movieId,title,genres\n$v\n" > bad8.csv
	t_run "movies not UTF-8 ($n)" 1 "join-meta -m bad8.csv --csv < t18.bin"
	t_err_line "movies not UTF-8 ($n)" join-meta "bad8.csv: line 2: invalid UTF-8 in the (genres|movie id|title), byte [0-9]+:"
done
printf 'movieId,imdbId,tmdbId\n1,0114709,86\3512\n' > badlinks.csv
t_run "links not UTF-8" 1 "join-meta -m movies.csv -l badlinks.csv < t18.bin"
t_err_line "links not UTF-8" join-meta "badlinks.csv: line 2: invalid UTF-8 in tmdbId, byte 3: '86.xe92'"
$CFW > badmovies.bin <<'EOF'
[{"name": "movies", "columns": [["item", "str"], ["title", "str"], ["genres", "str"]],
  "rows": [["1", "Toy Story (1995)", "Animation"], ["2", [74, 117, 109, 255], "Adventure"]]}]
EOF
t_run "movies frame not UTF-8" 1 "join-meta -m badmovies.bin < t18.bin"
t_err_line "movies frame not UTF-8" join-meta "badmovies.bin: 'movies' row 1: invalid UTF-8 in the title, byte 4: 'Jum.xff'"
# An id of the input that JSON cannot hold: the error names the stream and the row.
$CFW > badid.bin <<'EOF'
[{"name": "topk", "columns": [["user", "str"], ["item", "str"], ["score", "f32"], ["rank", "u32"]],
  "rows": [["18", "1", 4.5, 1], ["18", [255, 254], 4.0, 2]]}]
EOF
t_run "item id not UTF-8: JSON" 1 "join-meta -m movies.csv --json < badid.bin"
t_err_line "item id not UTF-8: JSON" join-meta "stdin: 'topk' row 1: the item id '.xff.xfe' is not valid UTF-8: JSON cannot hold it\$"
t_run "item id not UTF-8: JSON, a file" 1 "join-meta --json badid.bin"
t_err_line "item id not UTF-8: JSON, a file" join-meta "badid.bin: 'topk' row 1: the item id"
t_run "item id not UTF-8: the table prints" 0 "join-meta -m movies.csv < badid.bin"
$CFW > baduser.bin <<'EOF'
[{"name": "topk", "columns": [["user", "str"], ["item", "str"], ["score", "f32"], ["rank", "u32"]],
  "rows": [["18", "1", 4.5, 1], [[255, 254], "1", 4.0, 1]]}]
EOF
t_run "user id not UTF-8: JSON --extra" 1 "join-meta --json --extra < baduser.bin"
t_err_line "user id not UTF-8: JSON --extra" join-meta "stdin: 'topk' row 1: the user id '.xff.xfe' is not valid UTF-8"

# Metadata without a movie is an error: no header, or a header and no rows.
: > empty.csv
printf 'movieId,title,genres\n' > header-only.csv
printf 'movieId,imdbId,tmdbId\r\n' > links-header-only.csv
csv2bin < header-only.csv > empty-movies.bin 2>/dev/null
for c in "-m /dev/null:/dev/null: empty file: expected a header naming movieId, title, genres, then movies\$" \
         "-l /dev/null:/dev/null: empty file: expected a header naming movieId, imdbId, tmdbId, then links\$" \
         "-m empty.csv:empty.csv: empty file: expected a header" \
         "-m header-only.csv:header-only.csv: no movies: the header is followed by no rows\$" \
         "-m movies.csv -l links-header-only.csv:links-header-only.csv: no links: the header is followed by no rows\$" \
         "-m empty-movies.bin:empty-movies.bin: the 'movies' table has no rows: no movies\$"; do
	f=${c%%:*} want=${c#*:}
	t_run "empty metadata: $f" 1 "join-meta $f < t18.bin"
	t_err_line "empty metadata: $f" join-meta "$want"
done
# UTF-16 and CR-only line ends are said, not misread.
iconv -f UTF-8 -t UTF-16 movies.csv > movies16.csv
t_run "movies in UTF-16" 1 "join-meta -m movies16.csv < t18.bin"
t_err_line "movies in UTF-16" join-meta "movies16.csv: line 1: UTF-16(LE|BE) text \\(byte order mark (FF FE|FE FF)\\), not UTF-8: convert it \\(iconv -f utf-16 -t utf-8, or csv2bin --encoding utf-16\\)\$"
t_run "movies in UTF-16, converted" 0 "csv2bin --encoding utf-16 movies16.csv > m16.bin && join-meta -m m16.bin --json < t18.bin | cmp - want.json"
{ tr '\n' '\r' < header-only.csv; printf '1,A,B\r'; } > mac.csv
t_run "movies with CR-only line ends" 1 "join-meta -m mac.csv < t18.bin"
t_err_line "movies with CR-only line ends" join-meta "mac.csv: line 1: CR-only line ends \\(classic Mac OS\\), not LF or CRLF: convert them to LF"
$CFW > noitem.bin <<'EOF'
[{"name": "users", "columns": [["id", "str"]], "rows": [["1"]]}]
EOF
t_run "no item column" 1 "join-meta < noitem.bin"
t_err_line "no item column" join-meta "stdin: byte [0-9]+: the 'users' table has no 'item' column"
$CFW > nouser.bin <<'EOF'
[{"name": "items", "columns": [["item", "str"]], "rows": [["1"], ["29"]]}]
EOF
t_run "no user column: --user" 1 "join-meta --user 1 < nouser.bin"
t_err_line "no user column: --user" join-meta "--user: the 'items' table has no 'user' column"
t_run "no user column: a plain list" 0 "join-meta -m movies.csv --csv < nouser.bin"
t_out_is "no user column: a plain list" "$(printf 'movieId,title,genres\n1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy\n29,"City of Lost Children, The (Cit\303\251 des enfants perdus, La) (1995)",Adventure|Drama|Fantasy|Mystery|Sci-Fi')"
$CFW > enc-nodict.bin <<'EOF'
[{"name": "ratings", "columns": [["user", "u32"], ["item", "u32"], ["rating", "f32"]], "rows": [[0, 0, 4]]}]
EOF
t_run "encoded without dictionaries" 1 "join-meta < enc-nodict.bin"
t_err_line "encoded without dictionaries" join-meta "encoded user ids but the stream has no 'users' dictionary"
printf 'userId,movieId\n1,2\n' > text.csv
t_run "CSV text as input" 1 "join-meta < text.csv"
t_err_line "CSV text as input" join-meta "stdin: byte 0: not a cinefilter frame stream.*csv2bin"
t_run "empty input" 1 "join-meta < /dev/null"
t_err_line "empty input" join-meta "stdin: empty input"
head -c 200 t18.bin > cut.bin
t_run "truncated input" 1 "join-meta < cut.bin"
t_err_line "truncated input" join-meta "stdin: byte [0-9]+: .*truncated"
for bad in "--json --csv" "--limit 0" "--limit x" "--no-such-flag" "a b"; do
	t_run "usage: $bad" 2 "join-meta $bad < t18.bin"
	t_true "usage: $bad: the error and a hint on stderr, nothing on stdout" "test \$(wc -l < err) -eq 2 && grep -qx \"try 'join-meta --help'\" err && test ! -s out"
done
t_run "--help" 0 "join-meta --help"
t_true "--help: usage and the three JSON shapes" "grep -q '^usage: join-meta' out && grep -q '\"items\"' out && grep -q '\"histories\"' out && grep -q 'JSON Lines' out"
t_run "--version" 0 "join-meta --version"
t_true "--version names the program" "grep -q '^join-meta (cinefilter) [0-9]' out"

# The server loads metadata with the same loader and reports its error.
if [ -x "$BIN/serve" ] && [ -f model.bin ]; then
	mkdir models && cp model.bin models/als.bin
	t_run "serve --movies /dev/null" 1 "timeout 10 serve --models models --movies /dev/null --port 0"
	t_err_line "serve --movies /dev/null" serve "/dev/null: empty file: expected a header naming movieId, title, genres"
	t_run "serve --links header only" 1 "timeout 10 serve --models models --movies movies.csv --links links-header-only.csv --port 0"
	t_err_line "serve --links header only" serve "links-header-only.csv: no links"
	t_run "serve --movies not UTF-8" 1 "timeout 10 serve --models models --movies latin1.csv --port 0"
	t_err_line "serve --movies not UTF-8" serve "latin1.csv: line 3: invalid UTF-8 in the title"
else
	t_record fail "serve with bad metadata" "serve or the model missing"
fi
