# serve.sh - the HTTP server end to end on 127.0.0.1 (port 0: the server
# takes a free port and says which): every endpoint against the command
# line's output for the same model, every error code, malformed queries,
# bodies and ids, requests in flight while /train publishes new versions,
# signals, flags, and the `make serve` contract.  Every server started
# here is killed on exit; every wait is bounded.
. "$TOP/tests/e2e/lib.sh"
. "$TOP/tests/e2e/serve-lib.sh"

# ---- models: small and quick to train (also under ASan) ---------------
mkdir models
csv2bin < "$DATA/ratings.csv" > ratings.bin 2>/dev/null
mf-fit --algo als -k 16 --epochs 4 --quiet -o models/als.bin < ratings.bin
mf-fit --algo ials -k 8 --epochs 2 --quiet -o models/ials.bin < ratings.bin
mf-fit --algo popular --quiet -o models/popular.bin < ratings.bin
echo 's3cret-token' > token

# ---- flags ------------------------------------------------------------
t_run "serve --help" 0 "serve --help"
t_true "--help: usage and every endpoint" \
	"grep -q '^usage: serve' out && for e in /recommendations /features /similar /recommend_movie /models /predict /train /healthz; do grep -q \"\$e\" out || exit 1; done"
t_run "serve --version" 0 "serve --version"
t_true "--version names the program" "grep -q '^serve (cinefilter) [0-9]' out"
t_run "serve unknown flag" 2 "serve --no-such-flag"
t_true "unknown flag: the error and a hint on stderr" "test \$(wc -l < err) -eq 2 && grep -qx \"try 'serve --help'\" err"
t_run "serve without --models" 2 "serve"
t_run "serve --port 70000" 2 "serve --models models --port 70000"
t_run "serve: missing models dir" 1 "serve --models no-such-dir --port 0"
t_err_line "serve: missing models dir" serve "no-such-dir"
mkdir empty
t_run "serve: empty models dir" 1 "serve --models empty --port 0"
t_err_line "serve: empty models dir" serve "no model"
t_run "serve --default unknown" 1 "serve --models models --default nope --port 0"
t_err_line "serve --default unknown" serve "nope"
t_run "serve --default ../x" 2 "serve --models models --default ../x"
mkdir badmodels && printf 'not a model' > badmodels/x.bin
t_run "serve: a corrupt model" 1 "serve --models badmodels --port 0"
t_err_line "serve: a corrupt model" serve "x.bin"

# ---- the main server --------------------------------------------------
start_server main --models models --default als --movies "$MOVIES" --links "$LINKS" \
	--token-file token || exit 1
t_true "start-up under 1 s (the figure is in README)" \
	"awk '/ready in/ { sub(/.*ready in /, \"\"); exit !(\$1 + 0 < 1000) }' main.err"

req "GET /healthz" GET /healthz 200
t_true "/healthz: ok, default als" "python3 -c '
import json; d = json.load(open(\"out\")); assert d[\"status\"] == \"ok\" and d[\"default\"] == \"als\" and d[\"models\"] == 3'"
req "GET /models" GET /models 200
t_out_is "/models: the names, sorted" '["als","ials","popular"]'

# Recommendations: the same bytes as the command line's pipe.
mf-score --user 18 < models/als.bin | topk 10 | join-meta --json > cli-ids.json
mf-score --user 18 < models/als.bin | topk 20 | join-meta --movies "$MOVIES" --json > cli-meta.json
req "GET /recommendations" GET "/recommendations?user_id=18" 200
t_true "/recommendations = mf-score --user | topk 10 | join-meta --json" \
	"test \"\$(cat out)\" = \"\$(cat cli-ids.json)\""
t_true "/recommendations: {\"items\":[{\"id\":str}]}, 10 items" "python3 -c '
import json; d = json.load(open(\"out\")); assert list(d) == [\"items\"] and len(d[\"items\"]) == 10
assert all(list(i) == [\"id\"] and isinstance(i[\"id\"], str) for i in d[\"items\"])'"
req "GET /recommendations returnMetadata" GET "/recommendations?user_id=18&returnMetadata=true&k=20" 200
t_true "returnMetadata = join-meta --movies --json" "test \"\$(cat out)\" = \"\$(cat cli-meta.json)\""
req "GET /recommendations user_id=018 (canonical)" GET "/recommendations?user_id=018&returnMetadata=true&k=20" 200
t_true "user_id=018 is user 18" "test \"\$(cat out)\" = \"\$(cat cli-meta.json)\""
t_true "seen movies excluded" "python3 -c '
import csv, json
seen = {r[\"movieId\"] for r in csv.DictReader(open(\"$DATA/ratings.csv\")) if r[\"userId\"] == \"18\"}
d = json.load(open(\"out\")); assert not seen & {i[\"id\"] for i in d[\"items\"]}'"
req "GET /recommendations model_name=ials" GET "/recommendations?user_id=18&model_name=ials&k=5" 200
mf-score --user 18 < models/ials.bin | topk 5 | join-meta --json > cli-ials.json
t_true "model_name picks the model" "test \"\$(cat out)\" = \"\$(cat cli-ials.json)\""
req "HEAD /recommendations" HEAD "/recommendations?user_id=18" 200 -I

# Features: the user's history, most recent first.
req "GET /features" GET "/features?user_id=18" 200
join-meta --user 18 --json < ratings.bin > cli-hist.json
t_true "/features: the shape, user 18's movies, most recent first" "python3 -c '
import csv, json
d = json.load(open(\"out\")); assert list(d) == [\"features\"] and len(d[\"features\"]) == 1
h = d[\"features\"][0][\"histories\"]; c = json.load(open(\"cli-hist.json\"))[\"features\"][0][\"histories\"]
assert sorted(h) == sorted(c) and h[0] == c[0], (h[:3], c[:3])
ts = {r[\"movieId\"]: int(r[\"timestamp\"]) for r in csv.DictReader(open(\"$DATA/ratings.csv\")) if r[\"userId\"] == \"18\"}
assert all(ts[a] >= ts[b] for a, b in zip(h, h[1:]))'"
req "GET /features returnMetadata" GET "/features?user_id=18&returnMetadata=true" 200
t_true "/features returnMetadata: titled objects" "python3 -c '
import json; h = json.load(open(\"out\"))[\"features\"][0][\"histories\"]
assert all(set(x) == {\"id\", \"title\", \"genres\", \"rating\"} for x in h) and h[0][\"title\"]'"

# Similar movies.
req "GET /similar" GET "/similar?item_id=1&k=5" 200
mf-score --similar 1 --top 5 < models/als.bin | join-meta --movies "$MOVIES" --json > cli-sim.json
t_true "/similar = mf-score --similar | join-meta --json" "test \"\$(cat out)\" = \"\$(cat cli-sim.json)\""
req "GET /similar default k" GET "/similar?item_id=260" 200
t_true "/similar: 10 titled movies, not the item itself" "python3 -c '
import json; d = json.load(open(\"out\"))[\"items\"]; assert len(d) == 10 and all(i[\"title\"] for i in d)
assert \"260\" not in [i[\"id\"] for i in d]'"

# Fold-in: a new person from a few ratings, as mf-score --fold-in.
printf 'userId,movieId,rating\nnew,89745,5\nnew,260,4.5\nnew,1196,5\nnew,2571,2\n' > new.csv
csv2bin < new.csv > new.bin
mf-score --fold-in new.bin --top 10 < models/als.bin | join-meta --movies "$MOVIES" --json > cli-fold.json
req "POST /recommendations (fold-in)" POST "/recommendations?returnMetadata=true" 200 \
	-H 'Content-Type: application/json' \
	-d '{"ratings":[{"id":"89745","rating":5},{"id":260,"rating":4.5},{"id":"1196","rating":5},{"id":2571,"rating":2,"note":"ignored"}]}'
t_true "fold-in = mf-score --fold-in | join-meta --json" "test \"\$(cat out)\" = \"\$(cat cli-fold.json)\""
req "POST /recommendations: unknown movies ignored" POST "/recommendations" 200 \
	-d '{"ratings":[{"id":"89745","rating":5},{"id":"no-such-movie","rating":3}]}'
req "POST /recommendations ials" POST "/recommendations?model_name=ials&k=3" 200 \
	-d '{"ratings":[{"id":"1","rating":5},{"id":"2","rating":4}]}'
t_true "fold-in ials: 3 items" "python3 -c 'import json; assert len(json.load(open(\"out\"))[\"items\"]) == 3'"
req "POST /recommendations popular" POST "/recommendations?model_name=popular&k=3" 200 \
	-d '{"ratings":[{"id":"1","rating":5}]}'

# The PyTorch MF project's route: the titles of the top 20.
req "POST /recommend_movie" POST /recommend_movie 200 -H 'Content-Type: application/json' -d '{"user_id": 9}'
mf-score --user 9 < models/als.bin | topk 20 | join-meta --movies "$MOVIES" --json > cli-9.json
t_true "/recommend_movie: the 20 titles of user 9's top 20" "python3 -c '
import json; d = json.load(open(\"out\")); c = json.load(open(\"cli-9.json\"))[\"items\"]
assert d == [i[\"title\"] for i in c] and len(d) == 20'"
cp out movie-int.json
req "POST /recommend_movie user_id as string" POST /recommend_movie 200 -d '{"user_id": "9", "extra": [1, 2]}'
t_true "user_id 9 and \"9\" agree" "cmp -s out movie-int.json"

# Moovier's /predict.
req "POST /predict" POST "/predict?model_name=als&top_k=3" 200 -H 'Content-Type: application/json' -d '[389, "456"]'
t_true "/predict: keyed by user id, top_k movies with metadata and links" "python3 -c '
import json; d = json.load(open(\"out\")); assert list(d) == [\"389\", \"456\"]
for u, ms in d.items():
    assert len(ms) == 3
    for r, m in enumerate(ms):
        assert list(m) == [\"id\", \"title\", \"genres\", \"year\", \"imdb\", \"tmdb\", \"score\", \"rank\"], list(m)
        assert m[\"rank\"] == r + 1 and isinstance(m[\"score\"], float) and m[\"title\"]'"
mf-score --user 389 < models/als.bin | topk 3 | join-meta --movies "$MOVIES" --links "$LINKS" --json --extra > cli-389.json
t_true "/predict's movies = join-meta --json --extra --links" "python3 -c '
import json; d = json.load(open(\"out\"))[\"389\"]; c = json.load(open(\"cli-389.json\"))[\"items\"]
for m in c: m.pop(\"user\", None)
assert d == c, (d, c)'"
req "POST /predict []" POST "/predict" 200 -d '[]'
t_out_is "/predict []: {}" '{}'

# ---- errors -------------------------------------------------------------
req "unknown user" GET "/recommendations?user_id=999999" 404; is_error "unknown user"
req "unknown user (features)" GET "/features?user_id=nobody" 404; is_error "unknown user (features)"
req "unknown item" GET "/similar?item_id=99999999" 404; is_error "unknown item"
req "unknown model" GET "/recommendations?user_id=18&model_name=nope" 404; is_error "unknown model"
req "unknown path" GET "/nothing/here" 404; is_error "unknown path"
req "unknown user (recommend_movie)" POST /recommend_movie 404 -d '{"user_id": 123456789}'
req "unknown user (predict)" POST /predict 404 -d '[1, 999999]'
req "fold-in: no known movie" POST /recommendations 404 -d '{"ratings":[{"id":"nope","rating":4}]}'
req "DELETE /models" DELETE /models 405; is_error "DELETE /models"
t_true "405 says what is allowed" "grep -q GET out"
req "GET /train" GET /train 405
req "GET /predict" GET /predict 405
req "PUT /recommendations" PUT "/recommendations?user_id=18" 405
req "GET /recommend_movie" GET /recommend_movie 405
for q in "" "user_id=" "user_id" "user_id=18&k=abc" "user_id=18&k=0" "user_id=18&k=1001" \
	"user_id=18&k=-1" "user_id=18&k=1.5" "user_id=18&k=" "user_id=18&returnMetadata=maybe" \
	"user_id=18&model_name=../etc/passwd" "user_id=18&model_name=.hidden" \
	"user_id=18&model_name=a%2Fb" "user_id=$(printf '%0300d' 1)" "=&=&&" "user_id=%zz&k=%" \
	"user_id=18&user_id=19&k=x"; do
	req "GET /recommendations?$q" GET "/recommendations?$q" 400
done
is_error "a bad parameter"
req "similar: no item_id" GET "/similar" 400
req "similar: model without factors" GET "/similar?item_id=1&model_name=popular" 400
req "features: no user_id" GET "/features" 400
req "train: validation_split=1" POST "/train?validation_split=1" 400 -H 'Authorization: Bearer s3cret-token' -d '{}'
req "train: patience=-1" POST "/train?patience=-1" 400 -H 'Authorization: Bearer s3cret-token' -d '{}'
printf '{"ratings":[{"id":"1","rating":5}' > trunc.json
printf '{"user_id": "\377\376"}' > badutf8.json
printf '{"user_id":"9\\u0000x"}' > nul.json
for b in '' '{' '[1,2' 'null' '"text"' '42' '{"ratings":"x"}' '{"ratings":[]}' '{"ratings":[1]}' \
	'{"ratings":[{"id":1.5,"rating":5}]}' '{"ratings":[{"id":"1","rating":7}]}' \
	'{"ratings":[{"id":"1","rating":"5"}]}' '{"ratings":[{"id":"1"}]}' '{"ratings":[{"id":"","rating":3}]}' \
	'{"ratings":[{"id":null,"rating":3}]}' '{"ratings":[{"id":[1],"rating":3}]}'; do
	req "POST /recommendations body $b" POST /recommendations 400 -d "$b"
done
is_error "a bad body"
req "POST /recommendations truncated JSON" POST /recommendations 400 --data-binary @trunc.json
for b in '{}' '{"user_id":null}' '{"user_id":1.5}' '[9]' '{"user_id":true}'; do
	req "POST /recommend_movie body $b" POST /recommend_movie 400 -d "$b"
done
req "POST /recommend_movie invalid UTF-8" POST /recommend_movie 400 --data-binary @badutf8.json
req "POST /recommend_movie id with NUL" POST /recommend_movie 400 --data-binary @nul.json
for b in '{"users":[1]}' '[1.5]' '[null]' '[[1]]' '[true]'; do
	req "POST /predict body $b" POST /predict 400 -d "$b"
done
req "POST /predict top_k=0" POST "/predict?top_k=0" 400 -d '[389]'

# 413: announced (Content-Length) and chunked.
head -c 2000000 /dev/zero | tr '\0' ' ' > big.json
req "413 (Content-Length)" POST /recommendations 413 --data-binary @big.json
is_error "413"
req "413 (chunked)" POST /recommendations 413 -H 'Transfer-Encoding: chunked' --data-binary @big.json
{ head -c 1000000 /dev/zero | tr '\0' ' '; printf '{"ratings":[]}'; } > almost.json
req "a body just under the limit is read" POST /recommendations 400 --data-binary @almost.json
t_true "... and parsed" "grep -q ratings out"
req "unknown id with a bad escape: just unknown" GET "/recommendations?user_id=%zz" 404

# ---- /train -------------------------------------------------------------
TRAIN='{"users":["newbie","newbie",498,389,456,203,446,252,214,268,115,333,594,395,218,436,520,301,130,387,174,596],
 "movies":[1,260,5268,3699,4617,2702,2437,1298,241,569,3787,7103,2521,6478,1988,2651,421,6597,6732,1984,1583,8265],
 "ratings":[5,4.5,1,4,5,3,2,2,3,4,3,5,1,3,5,5,4,4,1,2,4,5]}'
req "train without a token" POST "/train?model_name=als" 401 -d "$TRAIN"
is_error "train without a token"
req "train with a wrong token" POST "/train?model_name=als" 401 -H 'Authorization: Bearer wrong' -d "$TRAIN"
AUTH='Authorization: Bearer s3cret-token'
req "train: mismatched arrays" POST "/train?model_name=als" 400 -H "$AUTH" -d '{"users":[1,2],"movies":[1],"ratings":[5,4]}'
req "train: a rating off the scale" POST "/train?model_name=als" 400 -H "$AUTH" -d '{"users":[1],"movies":[1],"ratings":[9]}'
req "train: unknown model" POST "/train?model_name=nope" 404 -H "$AUTH" -d "$TRAIN"
req "train: bad model name" POST "/train?model_name=../../tmp/x" 400 -H "$AUTH" -d "$TRAIN"
req "train: one rating, all validation" POST "/train?model_name=als&validation_split=0.9" 400 -H "$AUTH" \
	-d '{"users":[1],"movies":[1],"ratings":[5]}'

# Requests in flight while two versions are trained and swapped in: every
# one must succeed with a whole answer (no torn reads, no failures).
for n in 1 2 3; do
	urls=
	for j in $(seq 1 100); do urls="$urls $URL/recommendations?user_id=$(( (j * 37 + n * 11) % 610 + 1 ))&k=5"; done
	( $C -w ' %{http_code}\n' $urls > load-$n.out ) &
	eval "LOAD_$n=\$!"
done
# wait_model NAME: until /models lists NAME (at most 20 s).
wait_model() {
	i=0
	while [ $i -lt 200 ]; do
		$C "$URL/models" > models.json
		grep -q "\"$1\"" models.json && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}
req "POST /train (Moovier's call)" POST "/train?model_name=als&validation_split=0.2&patience=10" 200 \
	-H "$AUTH" -H 'Content-Type: application/json' -d "$TRAIN"
t_out_is "/train returns the new version's name at once" '"als_1"'
wait_model als_1 && t_record pass "als_1 is published" || t_record fail "als_1 is published" "not within 20 s"
req "POST /train from als_1" POST "/train?model_name=als_1&epochs=3" 200 -H "$AUTH" -d "$TRAIN"
t_out_is "the next version of als_1 is als_2" '"als_2"'
wait_model als_2
wait $LOAD_1 $LOAD_2 $LOAD_3
t_true "300 requests while training and swapping: all 200, whole JSON" "python3 -c '
n = 0
for f in (\"load-1.out\", \"load-2.out\", \"load-3.out\"):
    for line in open(f):
        body, code = line.rsplit(\" \", 1)
        assert code.strip() == \"200\", line
        import json; assert len(json.loads(body)[\"items\"]) == 5
        n += 1
assert n == 300, n'"
t_true "/models lists the new versions" "grep -q '\"als_1\"' models.json && grep -q '\"als_2\"' models.json"
req "GET /healthz after training" GET /healthz 200
t_true "the default is the newest version" "grep -q '\"default\":\"als_2\"' out"
t_true "published as files, no temp file left" \
	"test -s models/als_1.bin && test -s models/als_2.bin && ! ls -A models | grep -q tmp"
t_true "the file is a model mf-score reads" "mf-score --user newbie --top 3 < models/als_2.bin | bin2csv | grep -q newbie"
req "the new version knows the new user" GET "/recommendations?user_id=newbie&model_name=als_1" 200
req "the old version is still served as it was" GET "/recommendations?user_id=18&model_name=als" 200
t_true "old version unchanged" "test \"\$(cat out)\" = \"\$(cat cli-ids.json)\""
req "the old version does not know the new user" GET "/recommendations?user_id=newbie&model_name=als" 404
req "the default now knows the new user" GET "/features?user_id=newbie" 200
t_true "the new user's history" "python3 -c '
import json; h = json.load(open(\"out\"))[\"features\"][0][\"histories\"]; assert set(h) <= {\"1\", \"260\"} and h'"
req "train ials" POST "/train?model_name=ials&validation_split=0" 200 -H "$AUTH" -d "$TRAIN"
t_out_is "ials' first version" '"ials_1"'

# Nothing a client sent has hurt the server.
req "still healthy" GET /healthz 200
t_true "one log line per request: method, path, status, microseconds" \
	"grep -Eq '^serve: GET /recommendations 200 [0-9]+us\$' main.err && grep -Eq '^serve: DELETE /models 405 [0-9]+us\$' main.err"
t_true "the training was logged" "grep -q 'train als_1 from als: .*published' main.err"
# Let the ials job finish, then stop (SIGTERM abandons a job still
# training: serve-hostile.sh tests that).
wait_model ials_1 || wait_model ials_1 || wait_model ials_1 || t_record fail "ials_1 is published" "not within 60 s"
stop_server main TERM
t_true "the ials version was published before exit" "test -s models/ials_1.bin"

# ---- a restart serves the published versions; an env token; SIGINT ----
export CINEFILTER_TOKEN=envtoken
start_server second --models models --quiet || exit 1
unset CINEFILTER_TOKEN
req "restart: the versions are loaded" GET /models 200
t_out_is "restart: every version" '["als","als_1","als_2","ials","ials_1","popular"]'
req "env token: required" POST "/train?model_name=als" 401 -d "$TRAIN"
req "env token: accepted" POST "/train?model_name=als" 200 -H 'Authorization: Bearer envtoken' -d "$TRAIN"
t_out_is "versions continue after a restart" '"als_3"'
t_true "--quiet: no request lines" "! grep -q 'GET /models' second.err"
t_run "a second server on the same port" 1 "serve --models models --port $port"
t_err_line "a second server on the same port" serve "cannot listen"
stop_server second INT

# ---- make serve: the contract ------------------------------------------
# With a small model so it builds quickly; PORT=0 takes a free port.
MKS="make -s --no-print-directory -C $TOP BIN=$BIN BUILD=${BUILD:-build} OUT=$T_DIR/pl RANK=8 EPOCHS=2"
: > make.err
$MKS serve PORT=0 > make.out 2> make.err &
MK_PID=$!
i=0
port=
while [ $i -lt 600 ] && kill -0 $MK_PID 2>/dev/null; do
	port=$(sed -n 's/^serve: listening on 127\.0\.0\.1:\([0-9][0-9]*\) .*/\1/p' make.err)
	[ -n "$port" ] && break
	sleep 0.1
	i=$((i + 1))
done
URL=http://127.0.0.1:$port
if [ -n "$port" ]; then
	t_record pass "make serve: listening"
	req "make serve: recommendations" GET "/recommendations?user_id=18&returnMetadata=true" 200
	req "make serve: the pipeline's default model" GET /healthz 200
	t_true "make serve: default als" "grep -q '\"default\":\"als\"' out"
	t_true "make serve: models under the pipeline's build directory" "test -s $T_DIR/pl/models/als.bin"
	srv=$(ps -o pid= --ppid $MK_PID | tr -d ' ')
	[ -n "$srv" ] && kill -TERM $srv
	i=0
	while kill -0 $MK_PID 2>/dev/null && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
	wait $MK_PID
	st=$?
	MK_PID=
	[ $st -eq 0 ] && t_record pass "make serve: SIGTERM -> exit 0" ||
		t_record fail "make serve: SIGTERM -> exit 0" "exit $st: $(tail -c 300 make.err)"
else
	t_record fail "make serve: listening" "$(tail -c 300 make.err)"
fi
