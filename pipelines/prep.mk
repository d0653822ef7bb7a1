# pipelines/prep.mk - data preparation: CSV -> frames -> encoded -> split.
# Included by the top Makefile.  Every file lives under $(OUT) and is
# rebuilt only when its inputs (data or programs) change.
#
#   make prep [DATA=dir] [SEED=n] [RATIO=r]
#
# DATA is any MovieLens-format directory (ratings.csv; movies.csv).

DATA  ?= data/ml-latest-small
OUT   ?= build/pipeline/$(notdir $(DATA))
SEED  ?= 42
RATIO ?= 0.2

PREP_RATINGS = $(OUT)/ratings.bin
PREP_ENCODED = $(OUT)/encoded.bin
PREP_TRAIN   = $(OUT)/train.bin
PREP_TEST    = $(OUT)/test.bin
# A validation split cut from train (10%, the same seed), for what watches
# a model while it trains (make plot); the test set is read once, by make
# evaluate, for the final table.
PREP_FIT     = $(OUT)/fit.bin
PREP_VALID   = $(OUT)/valid.bin

$(OUT):
	mkdir -p $@

# The server's models directory and its ratings log (what users rated
# through POST /ratings; serve.mk serves the one and folds in the other).
# The ratings: the data's, or, once that log exists, the data's with the
# log folded in ($(RETRAIN_CSV), made by serve.mk).
SERVE_DIR   = $(OUT)/models
SERVE_LOG   = $(SERVE_DIR)/ratings.log
RETRAIN_CSV = $(OUT)/ratings-with-log.csv
RATINGS_CSV = $(if $(wildcard $(SERVE_LOG)),$(RETRAIN_CSV),$(DATA)/ratings.csv)

$(PREP_RATINGS): $(RATINGS_CSV) $(BIN)/csv2bin | $(OUT)
	$(BIN)/csv2bin -o $@ $<

$(PREP_ENCODED): $(PREP_RATINGS) $(BIN)/encode-ids
	$(BIN)/encode-ids < $< > $@

# One split run writes both files (a grouped target).
$(PREP_TRAIN) $(PREP_TEST) &: $(PREP_ENCODED) $(BIN)/split
	$(BIN)/split --test $(PREP_TEST) --ratio $(RATIO) --seed $(SEED) < $< > $(PREP_TRAIN)

$(PREP_FIT) $(PREP_VALID) &: $(PREP_TRAIN) $(BIN)/split
	$(BIN)/split --test $(PREP_VALID) --ratio 0.1 --seed $(SEED) < $< > $(PREP_FIT)

.PHONY: prep
prep: $(PREP_TRAIN) $(PREP_TEST)
	@printf 'prep: %s -> %s\n' "$(DATA)" "$(OUT)"
	@for f in $(PREP_RATINGS) $(PREP_TRAIN) $(PREP_TEST); do \
		printf '  %-40s ' "$$f"; $(BIN)/bin2csv --list < $$f | head -n 1 | cut -f 1,2 | tr '\t' ' '; \
	done
