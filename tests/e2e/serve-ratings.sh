# serve-ratings.sh - POST /ratings and the ratings log end to end: a new
# user's and a known user's recommendations follow their ratings at once
# (compared with mf-score --fold-in on the merged history), removals and
# "not interested", the log read back by an independent reader
# (tests/tools/ratelog.py), kill -9 right after the answers and restart
# (nothing lost), a torn last record (warned about and dropped), a
# corrupt record in the middle (an error naming the byte offset),
# concurrent writers, the limits, and POST /train folding the log in.
. "$TOP/tests/e2e/lib.sh"
. "$TOP/tests/e2e/serve-lib.sh"

mkdir models
csv2bin < "$DATA/ratings.csv" > ratings.bin 2>/dev/null
mf-fit --algo als -k 16 --epochs 4 --quiet -o models/als.bin < ratings.bin
LOG=models/ratings.log
RL="python3 $TOP/tests/tools/ratelog.py"

start_server a --models models --movies "$MOVIES" || exit 1
t_true "no log before the first rating" "test ! -e $LOG"

# ---- a new person ------------------------------------------------------
req "POST /ratings new user" POST /ratings 200 -d '{"user_id":"newbie","ratings":[{"id":260,"rating":5},{"id":"1196","rating":5},{"id":1210,"rating":4.5}]}'
t_out_is "POST /ratings: the answer" '{"user_id":"newbie","changed":3}'
t_true "the log made by the first rating: its magic first" "test \"\$(head -c 8 $LOG)\" = CFRLOG1"
printf 'userId,movieId,rating,timestamp\nnewbie,260,5,1\nnewbie,1196,5,1\nnewbie,1210,4.5,1\n' > new.csv
csv2bin < new.csv > new.bin 2>/dev/null
mf-score --fold-in new.bin < models/als.bin | topk 10 | join-meta --json > want-new.json
req "GET /recommendations new user" GET "/recommendations?user_id=newbie" 200
t_true "new user = mf-score --fold-in | topk 10 | join-meta --json" \
	"test \"\$(cat out)\" = \"\$(cat want-new.json)\""
req "GET /features new user" GET "/features?user_id=newbie" 200
t_true "/features: the three, the shape of the reference" "python3 -c '
import json; d = json.load(open(\"out\")); assert list(d) == [\"features\"]
h = d[\"features\"][0][\"histories\"]; assert sorted(h) == [\"1196\", \"1210\", \"260\"], h'"

# ---- a known user: history plus the new ratings ------------------------
req "POST /ratings user 18" POST /ratings 200 -d '{"user_id":18,"ratings":[{"id":1,"rating":0.5},{"id":2571,"rating":5}],"not_interested":[318]}'
python3 -c '
import csv
rows = [r for r in csv.DictReader(open("'"$DATA"'/ratings.csv")) if r["userId"] == "18"]
rows = [r for r in rows if r["movieId"] not in ("1", "2571")]
print("userId,movieId,rating,timestamp")
for r in rows: print("x18,%s,%s,%s" % (r["movieId"], r["rating"], r["timestamp"]))
print("x18,1,0.5,1\nx18,2571,5,1")' > x18.csv
printf '318\n' > hidden.txt
csv2bin < x18.csv > x18.bin 2>/dev/null
mf-score --fold-in x18.bin --top 20 --exclude hidden.txt < models/als.bin | topk 20 | join-meta --json > want-18.json
req "GET /recommendations user 18 after rating" GET "/recommendations?user_id=18&k=20" 200
t_true "user 18 = fold-in of history + new ratings, not-interested excluded" \
	"test \"\$(cat out)\" = \"\$(cat want-18.json)\""
t_true "user 18: the not-interested movie and the rated ones are absent" "python3 -c '
import json; ids = [i[\"id\"] for i in json.load(open(\"out\"))[\"items\"]]
assert not {\"318\", \"1\", \"2571\"} & set(ids), ids'"
req "POST /recommend_movie user 18 after rating" POST "/recommend_movie?k=20" 200 -d '{"user_id":18}'
t_true "/recommend_movie: the same movies, by title" "python3 -c '
import csv, json
titles = {r[\"movieId\"]: r[\"title\"] for r in csv.DictReader(open(\"$MOVIES\"))}
want = [titles[i[\"id\"]] for i in json.load(open(\"want-18.json\"))[\"items\"]]
assert json.load(open(\"out\")) == want'"
req "POST /recommend_movie new user" POST "/recommend_movie?k=10" 200 -d '{"user_id":"newbie"}'
t_true "/recommend_movie: a user only the log knows" "python3 -c '
import csv, json
titles = {r[\"movieId\"]: r[\"title\"] for r in csv.DictReader(open(\"$MOVIES\"))}
want = [titles[i[\"id\"]] for i in json.load(open(\"want-new.json\"))[\"items\"]]
assert json.load(open(\"out\")) == want'"
req "GET /features user 18" GET "/features?user_id=18&returnMetadata=true" 200
t_true "user 18's history: the new ratings first, with their values" "python3 -c '
import csv, json
h = json.load(open(\"out\"))[\"features\"][0][\"histories\"]
seen = {r[\"movieId\"] for r in csv.DictReader(open(\"$DATA/ratings.csv\")) if r[\"userId\"] == \"18\"}
assert len(h) == len(seen | {\"1\", \"2571\"}), (len(h), len(seen))
got = {x[\"id\"]: x[\"rating\"] for x in h[:2]}
assert got == {\"1\": 0.5, \"2571\": 5.0}, h[:2]'"

# rating null removes one
req "POST /ratings null removes" POST /ratings 200 -d '{"user_id":"newbie","ratings":[{"id":1210,"rating":null}]}'
req "GET /features after removal" GET "/features?user_id=newbie" 200
t_true "the removed rating is gone" "python3 -c '
import json; h = json.load(open(\"out\"))[\"features\"][0][\"histories\"]; assert sorted(h) == [\"1196\", \"260\"], h'"

# ---- what the log holds, read independently ----------------------------
$RL $LOG > log.json
t_true "the log: three records, in order, with their entries" "python3 -c '
import json; L = [json.loads(l) for l in open(\"log.json\")]
recs, end = L[:-1], L[-1]
assert [r[\"user\"] for r in recs] == [\"newbie\", \"18\", \"newbie\"], recs
assert recs[0][\"entries\"] == [[\"rate\", \"260\", 5.0], [\"rate\", \"1196\", 5.0], [\"rate\", \"1210\", 4.5]]
assert recs[1][\"entries\"] == [[\"rate\", \"1\", 0.5], [\"rate\", \"2571\", 5.0], [\"hide\", \"318\", 0.0]]
assert recs[2][\"entries\"] == [[\"unrate\", \"1210\", 0.0]]
assert end[\"end\"] == end[\"size\"]'"

# ---- kill -9 right after the answer; restart replays -------------------
req "POST /ratings before kill -9" POST /ratings 200 -d '{"user_id":"k9","ratings":[{"id":50,"rating":4}]}'
kill -KILL "$PID"
wait "$PID" 2>/dev/null
start_server b --models models --movies "$MOVIES" || exit 1
t_true "restart: the log replayed (users counted)" "grep -q 'ratings log: 3 users' b.err"
req "GET /features k9 after kill -9" GET "/features?user_id=k9" 200
t_out_is "kill -9 right after the 200 lost nothing" '{"features":[{"histories":["50"]}]}'
req "GET /recommendations user 18 after restart" GET "/recommendations?user_id=18&k=20" 200
t_true "user 18 after restart: the same recommendations" "test \"\$(cat out)\" = \"\$(cat want-18.json)\""

# Readers while two writers flip pairs of movies: never half a request.
t_true "readers never see half of a request (2 writers, 4 readers)" \
	"python3 $TOP/tests/tools/ratings_race.py $URL > race.out"

# ---- concurrent writers --------------------------------------------------
for i in $(seq 1 16); do
	$C -o "par.$i" -w '%{http_code}\n' -X POST \
		-d "{\"user_id\":\"p$i\",\"ratings\":[{\"id\":1,\"rating\":4},{\"id\":2,\"rating\":3}]}" \
		"$URL/ratings" > "par.$i.code" &
	BG_PIDS="$BG_PIDS $!"
done
wait $BG_PIDS 2>/dev/null
BG_PIDS=
t_true "16 parallel writers: all 200" "test \"\$(cat par.*.code | sort -u)\" = 200"
$RL $LOG > log2.json
t_true "the log: every parallel record whole, each once" "python3 -c '
import json; L = [json.loads(l) for l in open(\"log2.json\")]
users = [r[\"user\"] for r in L[:-1] if r[\"user\"].startswith(\"p\")]
assert sorted(users) == sorted(\"p%d\" % i for i in range(1, 17)), users
assert L[-1][\"end\"] == L[-1][\"size\"]'"
req "GET /features p7" GET "/features?user_id=p7" 200
t_true "a parallel writer's ratings are visible" "python3 -c '
import json; assert sorted(json.load(open(\"out\"))[\"features\"][0][\"histories\"]) == [\"1\", \"2\"]'"

# ---- bad requests and limits -------------------------------------------
req "POST /ratings rating out of scale" POST /ratings 400 -d '{"user_id":"z","ratings":[{"id":1,"rating":9}]}'
is_error "rating out of scale"
req "POST /ratings unknown movie" POST /ratings 404 -d '{"user_id":"z","ratings":[{"id":999999999,"rating":3}]}'
is_error "unknown movie"
req "POST /ratings user id with a comma" POST /ratings 400 -d '{"user_id":"a,b","ratings":[{"id":1,"rating":3}]}'
is_error "user id with a comma"
req "POST /ratings no user" POST /ratings 400 -d '{"ratings":[{"id":1,"rating":3}]}'
req "POST /ratings nothing to record" POST /ratings 400 -d '{"user_id":"z"}'
req "POST /ratings not JSON" POST /ratings 400 -d 'nope'
req "GET /ratings" GET /ratings 405
python3 -c '
import json; print(json.dumps({"user_id": "big", "ratings": [{"id": 1, "rating": 3}] * 1001}))' > big.json
req "POST /ratings 1001 movies" POST /ratings 400 --data-binary @big.json
t_true "1001 movies: says the limit" "grep -q 'at most 1000 movies' out"
t_true "refused requests left the log alone" "$RL $LOG | tail -n 1 | grep -q \"\$(tail -n 1 log2.json)\""

# ---- a torn last record: warned about, dropped -------------------------
stop_server b TERM
size=$(wc -c < $LOG)
start_server c --models models --movies "$MOVIES" || exit 1
req "POST /ratings the last record" POST /ratings 200 -d '{"user_id":"torn","ratings":[{"id":1,"rating":4}]}'
kill -KILL "$PID"
wait "$PID" 2>/dev/null
full=$(wc -c < $LOG)
truncate -s $((full - 5)) $LOG
start_server d --models models --movies "$MOVIES" || exit 1
t_true "torn tail: one warning naming the file and offset" \
	"grep -q \"^serve: warning: models/ratings.log: torn last record at byte $size \" d.err"
t_true "torn tail: truncated to the last whole record" "test \$(wc -c < $LOG) -eq $size"
req "GET /features torn user" GET "/features?user_id=torn" 404
req "GET /features k9 still there" GET "/features?user_id=k9" 200
stop_server d TERM

# ---- a corrupt record in the middle: an error, the log untouched -------
cp $LOG log.bak
python3 -c '
b = bytearray(open("'"$LOG"'", "rb").read()); b[30] ^= 0xff; open("'"$LOG"'", "wb").write(b)'
t_run "serve: a corrupt record in the middle" 1 "serve --models models --port 0"
t_err_line "corrupt log" serve "models/ratings.log: corrupt record at byte 8 "
t_true "corrupt log: not truncated" "test \$(wc -c < $LOG) -eq $size"
cp log.bak $LOG

# ---- the user and log limits -------------------------------------------
mkdir lim-models && cp models/als.bin lim-models/
LOG=lim-models/ratings.log
start_server e --models lim-models --movies "$MOVIES" --max-user-ratings 2 --max-log-bytes 4096 || exit 1
req "POST /ratings at the user's limit" POST /ratings 200 -d '{"user_id":"p3","ratings":[{"id":1,"rating":4},{"id":2,"rating":4}]}'
req "POST /ratings over the user's limit" POST /ratings 409 -d '{"user_id":"p3","ratings":[{"id":3,"rating":4}]}'
is_error "user's limit"
req "POST /ratings re-rating within the user's limit" POST /ratings 200 -d '{"user_id":"p3","ratings":[{"id":1,"rating":null}]}'
st=200 i=0
while [ "$st" = 200 ] && [ $i -lt 200 ]; do
	st=$($C -o out -w '%{http_code}' -X POST -d "{\"user_id\":\"w$i\",\"ratings\":[{\"id\":1,\"rating\":3}]}" "$URL/ratings")
	i=$((i + 1))
done
t_true "the log's limit: 413 once full" "test $st = 413 && grep -q 'ratings log is full' out"
t_true "the log stayed within its limit" "test \$(wc -c < $LOG) -le 4096"
stop_server e TERM
LOG=models/ratings.log

# ---- POST /train folds the log into a new version ----------------------
start_server f --models models --movies "$MOVIES" || exit 1
req "POST /train without a body: from the log" POST "/train?epochs=2&validation_split=0" 200 -X POST
t_out_is "POST /train: the new version's name" '"als_1"'
i=0
while [ $i -lt 300 ] && ! $C "$URL/models" | grep -q als_1; do sleep 0.1; i=$((i + 1)); done
t_true "the version trained on the log is served" "$C '$URL/models' | grep -q '\"als_1\"'"
t_true "its training data holds the log's users" "bin2csv -t users < models/als_1.bin | grep -qx 'newbie'"
stop_server f TERM
mkdir empty-models && cp models/als.bin empty-models/
start_server g --models empty-models || exit 1
req "POST /train without a body, empty log" POST /train 400 -X POST
is_error "empty log"
stop_server g TERM

# ---- make retrain's data: the data with the log folded in --------------
mkdir -p pipe/models
cp $LOG pipe/models/ratings.log
serve --models pipe/models --export-ratings > export.csv
t_true "--export-ratings: the header and sorted rows" "head -n 1 export.csv | grep -qx 'userId,movieId,rating,timestamp' && tail -n +2 export.csv | LC_ALL=C sort -c -t, -k1,1 -k2,2"
make -s -C "$TOP" -o "$BIN/serve" BIN="$BIN" BUILD="${BUILD:-build}" OUT="$T_DIR/pipe" "$T_DIR/pipe/ratings-with-log.csv" > make.out 2>&1
t_true "make: the data with the log folded in" "python3 -c '
import csv
log = {(r[\"userId\"], r[\"movieId\"]): r for r in csv.DictReader(open(\"export.csv\"))}
want = [r for r in csv.DictReader(open(\"$DATA/ratings.csv\")) if (r[\"userId\"], r[\"movieId\"]) not in log]
want += [r for r in log.values() if r[\"rating\"] != \"\"]
got = list(csv.DictReader(open(\"pipe/ratings-with-log.csv\")))
key = lambda r: (r[\"userId\"], r[\"movieId\"], float(r[\"rating\"]))
assert sorted(map(key, got)) == sorted(map(key, want)), (len(got), len(want))
assert (\"18\", \"2571\", 5.0) in map(key, got) and not any(k[:2] == (\"newbie\", \"1210\") for k in map(key, got))'" 
t_true "make pipeline reads the folded data when a log exists" \
	"make -n -C '$TOP' -o '$BIN/serve' BIN='$BIN' BUILD='${BUILD:-build}' OUT='$T_DIR/pipe' '$T_DIR/pipe/ratings.bin' | grep -q 'csv2bin .*ratings-with-log.csv'"
