# serve-browser.sh - the web page of serve in headless Chromium: the page
# loads, a user is picked (/?user=18 takes the same path as the list), and
# the user's recommendations and history appear with titles; a new person
# rates movies (/?rate=...) and gets fold-in recommendations.  The server
# runs on 127.0.0.1 on a free port and is killed on exit.
. "$TOP/tests/e2e/lib.sh"

SRV=
cleanup() {
	[ -n "$SRV" ] && kill -KILL "$SRV" 2>/dev/null
	rm -rf "$T_DIR"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

if ! command -v chromium >/dev/null 2>&1; then
	t_record fail "chromium is installed" "not found: run make deps"
	exit 0
fi

mkdir models
csv2bin < "$DATA/ratings.csv" 2>/dev/null | mf-fit --algo als -k 16 --epochs 4 --quiet -o models/als.bin
: > serve.err
serve --models models --movies "$DATA/movies.csv" --port 0 2>serve.err &
SRV=$!
i=0
port=
while [ $i -lt 200 ] && kill -0 $SRV 2>/dev/null; do
	port=$(sed -n 's/^serve: listening on 127\.0\.0\.1:\([0-9][0-9]*\) .*/\1/p' serve.err)
	[ -n "$port" ] && break
	sleep 0.1
	i=$((i + 1))
done
if [ -z "$port" ]; then
	t_record fail "serve listens" "$(head -c 300 serve.err)"
	exit 0
fi
URL=http://127.0.0.1:$port

# chrome URL OUT: the DOM after the page's scripts ran (bounded in time).
chrome() {
	timeout 90 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--disable-dev-shm-usage --user-data-dir="$(mktemp -d "$T_DIR/chrome.XXXXXX")" \
		--virtual-time-budget=10000 --dump-dom "$1" > "$2" 2>chrome.err
}

# The titles the page must show: the command line's for the same model.
mf-score --user 18 < models/als.bin | topk 20 | join-meta --movies "$DATA/movies.csv" --csv > want.csv

chrome "$URL/?user=18" user.html
t_true "page: loads and its script finishes" "grep -q 'data-ready=\"1\"' user.html"
t_true "page: user 18's 20 recommendations, titled, in order" "python3 -c '
import csv, html, re
page = open(\"user.html\").read()
recs = page.split(\"id=\\\"recs\\\"\", 1)[1].split(\"</table>\", 1)[0]
rows = re.findall(r\"<tr><td class=\\\"n\\\">(\\d+)</td><td>(.*?)</td>\", recs)
want = [r[\"title\"] for r in csv.DictReader(open(\"want.csv\"))]
got = [html.unescape(t) for _, t in rows]
assert got == want, (got[:3], want[:3])'"
t_true "page: user 18's history with titles" "python3 -c '
page = open(\"user.html\").read()
hist = page.split(\"id=\\\"history\\\"\", 1)[1].split(\"</table>\", 1)[0]
assert hist.count(\"<tr>\") >= 10, hist[:300]'"
t_true "page: the models list" "grep -q '<option value=\"als\"' user.html"

chrome "$URL/#user=414" hash.html
t_true "page: #user= picks a user too" "grep -q 'user 414' hash.html && grep -c '<td class=\"n\">' hash.html | grep -qv '^0\$'"

chrome "$URL/?rate=260:5,1196:5,1210:4.5" rate.html
t_true "page: a new person's fold-in recommendations" "python3 -c '
page = open(\"rate.html\").read()
recs = page.split(\"id=\\\"fold-recs\\\"\", 1)[1].split(\"</table>\", 1)[0]
assert recs.count(\"<tr>\") >= 11, recs[:300]'"
t_true "page: the requests were served" "grep -q 'POST /recommendations 200' serve.err"

kill -TERM $SRV
wait $SRV
st=$?
SRV=
[ $st -eq 0 ] && t_record pass "serve exits 0 after the browser" || t_record fail "serve exits 0 after the browser" "exit $st"
