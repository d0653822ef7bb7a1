# pipelines/recommend.mk - what people look at: recommendations and similar
# movies with titles and genres, the demo, cross-validation, the plot.
#
#   make recommend USER=18 K=20      # top K for a user (raw userId)
#   make similar ITEM=1 K=10         # movies nearest ITEM (a movieId)
#   make demo [USER=9]               # the user's history and top 20
#   make cv [FOLDS=5] [ALGO=als]     # k-fold RMSE, folds in parallel
#   make plot [ALGO=als]             # train/test RMSE per epoch, PNG
#
# USER is also the login name in the environment; only a USER given on
# the command line (or in the makefile) counts here, else DEMO_USER.

DEMO_USER ?= 9
K         ?= 20
ITEM      ?= 1
FOLDS     ?= 5
JOBS      ?= $(shell nproc 2>/dev/null || echo 2)
MOVIES     = $(DATA)/movies.csv
LINKS      = $(wildcard $(DATA)/links.csv)
rec_user   = $(if $(filter environment undefined,$(origin USER)),$(DEMO_USER),$(USER))
MODEL      = $(OUT)/model-$(ALGO).bin

.PHONY: recommend similar demo cv plot

recommend: $(MODEL) all
	@echo "recommend: user $(rec_user), top $(K), model $(ALGO)"
	@$(BIN)/mf-score --user '$(rec_user)' < $(MODEL) | $(BIN)/topk $(K) | \
		$(BIN)/join-meta --movies $(MOVIES)

similar: $(MODEL) all
	@echo "similar: movies nearest $(ITEM) ($(ALGO) factors, cosine)"
	@$(BIN)/mf-score --similar '$(ITEM)' --top $(K) < $(MODEL) | \
		$(BIN)/join-meta --movies $(MOVIES)

# The reference demo: what user 9 rated, then the 20 movies recommended.
demo: $(MODEL) all
	@echo; echo "demo: user $(rec_user) rated (training set, most recent first):"
	@$(BIN)/join-meta --movies $(MOVIES) --user '$(rec_user)' < $(PREP_TRAIN)
	@echo; echo "demo: the $(K) movies recommended for user $(rec_user) ($(ALGO)):"
	@$(BIN)/mf-score --user '$(rec_user)' < $(MODEL) | $(BIN)/topk $(K) | \
		$(BIN)/join-meta --movies $(MOVIES)

# k-fold cross-validation: each fold split, trained and scored as one GNU
# parallel job (one thread each: the folds are the parallelism).
CV = $(OUT)/cv-$(ALGO)-$(FOLDS)
$(CV).txt: $(PREP_ENCODED) $(BIN)/split $(BIN)/mf-fit $(BIN)/mf-score $(BIN)/metrics \
           $(OUT)/fit-$(ALGO).flags
	@mkdir -p $(CV)
	@echo "cv: $(FOLDS) folds of $(ALGO), $(JOBS) at a time"
	@seq 0 $$(($(FOLDS) - 1)) | parallel --will-cite --halt now,fail=1 -j $(JOBS) \
		'$(BIN)/split --folds $(FOLDS) --fold {} --seed $(SEED) --test $(CV)/test-{}.bin \
			< $(PREP_ENCODED) > $(CV)/train-{}.bin && \
		 $(BIN)/mf-fit --algo $(ALGO) $(fit_flags) --threads 1 --quiet \
			< $(CV)/train-{}.bin > $(CV)/model-{}.bin && \
		 $(BIN)/mf-score --pairs $(CV)/test-{}.bin < $(CV)/model-{}.bin | \
			$(BIN)/metrics --metric rmse > $(CV)/rmse-{}.txt'
	@for i in $$(seq 0 $$(($(FOLDS) - 1))); do cat $(CV)/rmse-$$i.txt; done > $@.tmp
	@mv $@.tmp $@

cv: $(CV).txt
	@awk -v a=$(ALGO) -v f=$(FOLDS) '{ x[NR] = $$1; s += $$1 } END { m = s / NR; \
		for (i = 1; i <= NR; i++) v += (x[i] - m) ^ 2; \
		printf "cv: %s, %d folds: RMSE", a, f; for (i = 1; i <= NR; i++) printf " %.4f", x[i]; \
		printf "\ncv: mean %.4f, sd %.4f\n", m, sqrt(v / (NR - 1)) }' $<

# Train and test RMSE per epoch (the test set is only logged, see train.mk).
$(OUT)/rmse-$(ALGO).png: $(MODEL) pipelines/plot.gp
	gnuplot -e "logfile='$(OUT)/log-$(ALGO).csv'; out='$@'; algo='$(ALGO)'" pipelines/plot.gp

plot: $(OUT)/rmse-$(ALGO).png
	@echo "plot: $<"
