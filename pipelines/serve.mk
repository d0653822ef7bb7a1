# pipelines/serve.mk - the HTTP server: `make serve` on the pipeline's
# models, and the load benchmark (bin/serve itself is built by the top
# Makefile, from src/serve.c and src/serve/).  Included by the top
# Makefile after recommend.mk.
#
#   make serve [PORT=8080] [BIND=127.0.0.1] [ALGO=als] [SERVE_FLAGS='...']
#   make bench-serve [BENCH_SECONDS=60] [BENCH_CONNS=16] [BENCH_SOAK_SECONDS=60]
#   make retrain     the pipeline again, on the data plus the ratings log
#   make bench-ratings  POST /ratings (fsync) and title-search latency
#
# The models directory $(OUT)/models (SERVE_DIR, prep.mk) holds a copy of the model of ALGO (the
# default model, trained first if need be) and of every other model the
# pipeline has built; /train adds its versions (als_1.bin, ...) there.

PORT          ?= 8080
BIND          ?= 127.0.0.1
SERVE_FLAGS   ?=
SERVE_ALGOS    = $(sort $(ALGO) $(patsubst $(OUT)/model-%.bin,%,$(wildcard $(OUT)/model-*.bin)))
BENCH_SECONDS ?= 60
BENCH_CONNS   ?= 16
BENCH_SOAK_SECONDS ?= 60

# What users rated through POST /ratings, and the data with it folded in:
# the data's rows but those the log re-rated or removed, then the log's
# ratings (serve --export-ratings; a removal has an empty rating).  The
# data's ratings.csv is MovieLens' (no quoted fields), as awk reads it.
# SERVE_DIR, SERVE_LOG and RETRAIN_CSV are prep.mk's.

$(RETRAIN_CSV): $(DATA)/ratings.csv $(SERVE_LOG) $(BIN)/serve | $(OUT)
	$(BIN)/serve --models $(SERVE_DIR) --export-ratings > $@.log
	awk -F, 'NR == FNR { if (FNR > 1) { seen[$$1 "," $$2] = 1; if ($$3 != "") add[++n] = $$0 } next } \
	         FNR == 1 || !(($$1 "," $$2) in seen) { print } \
	         END { for (i = 1; i <= n; i++) print add[i] }' $@.log $(DATA)/ratings.csv > $@.tmp
	rm -f $@.log
	mv $@.tmp $@

.PHONY: retrain
# The whole pipeline on the folded data (make pipeline does the same
# whenever the log exists); restart `make serve` to serve the new models.
retrain:
	@test -f $(SERVE_LOG) || { echo "retrain: no ratings log $(SERVE_LOG) (POST /ratings writes it)" >&2; exit 1; }
	@$(MAKE) -s --no-print-directory pipeline

# Copies, not links: the pipeline may replace its model while one is served.
$(SERVE_DIR)/%.bin: $(OUT)/model-%.bin
	@mkdir -p $(SERVE_DIR)
	cp $< $@.tmp && mv $@.tmp $@

.PHONY: serve bench-serve bench-ratings
# In the foreground until SIGTERM or SIGINT; exit 0.  `exec`: the server
# is make's child itself, so a signal to it is not caught by a shell.
serve: $(BIN)/serve $(SERVE_ALGOS:%=$(SERVE_DIR)/%.bin)
	@echo "serve: $(SERVE_DIR) ($(SERVE_ALGOS)), default $(ALGO), http://$(BIND):$(PORT)/"
	@exec $(BIN)/serve --models $(SERVE_DIR) --default $(ALGO) --movies $(MOVIES) \
		$(if $(LINKS),--links $(LINKS)) --bind $(BIND) --port $(PORT) $(SERVE_FLAGS)

bench-serve: $(BIN)/serve $(SERVE_DIR)/$(ALGO).bin
	@sh bench/serve.sh $(BIN) $(SERVE_DIR) $(ALGO) $(MOVIES) $(BENCH_SECONDS) $(BENCH_CONNS) \
		$(BENCH_SOAK_SECONDS)

# bench/ratings.sh: a server on a scratch copy of the model (its log is
# thrown away) and bench/ratings.py against it; figures printed.
bench-ratings: $(BIN)/serve $(OUT)/model-$(ALGO).bin
	@sh bench/ratings.sh $(BIN) $(OUT)/model-$(ALGO).bin $(MOVIES)
