# pipelines/recommend.mk - what people look at: recommendations and similar
# movies with titles and genres, the demo, cross-validation, the plot.
#
#   make recommend USER=18 K=20      # top K for a user (raw userId)
#   make similar ITEM=1 K=10         # movies nearest ITEM (a movieId)
#   make demo [USER=9]               # the user's history and top 20
#   make cv [FOLDS=5] [ALGO=als]     # k-fold CV, folds in parallel: RMSE and
#                                    # MAE (als sgd baseline), NDCG and recall
#                                    # at TOPK (ials popular: they only rank)
#   make plot [ALGO=als]             # train/validation RMSE per epoch, PNG
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
# parallel job (one thread each: the folds are the parallelism).  What a
# fold is scored on depends on what ALGO's scores are, as in `make
# evaluate`: the rating models (RATING_ALGOS, from evaluate.mk: als sgd
# baseline) predict ratings, scored on RMSE and MAE of `mf-score --pairs`
# on the held-out fold; every other algorithm (ials, popular) only ranks
# (its scores are not ratings, so an RMSE of them means nothing), scored on
# NDCG and recall at TOPK of `mf-score --all --top TOPK` against the
# held-out fold (every held-out rating relevant, the fold's train set given
# for the catalogue, as evaluate does).  Each fold writes one line of its
# two figures; the table is rebuilt when this recipe changes too.
cv_rates = $(filter $(ALGO),$(RATING_ALGOS))
cv_names = $(if $(cv_rates),RMSE MAE,NDCG@$(TOPK) recall@$(TOPK))
CV = $(OUT)/cv-$(ALGO)-$(FOLDS)$(if $(cv_rates),,-top$(TOPK))
cv_fold = $(CV)/test-{}.bin
ifneq ($(cv_rates),)
cv_score = $(BIN)/mf-score --pairs $(cv_fold) < $(CV)/model-{}.bin > $(CV)/pairs-{}.bin && \
	a=$$($(BIN)/metrics --metric rmse < $(CV)/pairs-{}.bin) && \
	b=$$($(BIN)/metrics --metric mae < $(CV)/pairs-{}.bin)
else
cv_rank  = $(BIN)/metrics --truth $(cv_fold) --train $(CV)/train-{}.bin --k $(TOPK)
cv_score = $(BIN)/mf-score --all --top $(TOPK) --threads 1 < $(CV)/model-{}.bin > $(CV)/top-{}.bin && \
	a=$$($(cv_rank) --metric ndcg < $(CV)/top-{}.bin) && \
	b=$$($(cv_rank) --metric recall < $(CV)/top-{}.bin)
endif

# A fold's model.  The blend's weights need a validation split inside the
# fold: each of BLEND_PARTS is trained twice, on the fold's train set (the
# parts blended) and on that set less a 10% cut of it (the parts whose
# scores of the cut fit the weights), as make evaluate does on the whole
# train set; the fold's held-out part is read only by cv_score.
ifeq ($(ALGO),blend)
cv_part  = $(BIN)/mf-fit --algo $$p $$([ $$p != fm ] || echo --items $(DATA)/movies.csv) \
		--threads 1 --quiet
cv_train = $(BIN)/split --ratio 0.1 --seed $(SEED) --test $(CV)/valid-{}.bin \
		< $(CV)/train-{}.bin > $(CV)/fit-{}.bin && \
	for p in $(BLEND_PARTS); do \
		$(cv_part) < $(CV)/train-{}.bin > $(CV)/part-$$p-{}.bin && \
		$(cv_part) < $(CV)/fit-{}.bin > $(CV)/fitpart-$$p-{}.bin || exit 1; done && \
	$(BIN)/blend --valid $(CV)/valid-{}.bin \
		--fit $(subst $(space),$(comma),$(BLEND_PARTS:%=$(CV)/fitpart-%-{}.bin)) \
		-o $(CV)/model-{}.bin $(BLEND_PARTS:%=$(CV)/part-%-{}.bin) 2> $(CV)/blend-{}.log
else
cv_train = $(BIN)/mf-fit --algo $(ALGO) $(call algo_flags,$(ALGO)) $(fit_flags) --threads 1 --quiet \
		< $(CV)/train-{}.bin > $(CV)/model-{}.bin
endif

$(CV).txt: $(PREP_ENCODED) $(BIN)/split $(BIN)/mf-fit $(BIN)/mf-score $(BIN)/metrics \
           $(OUT)/fit-$(ALGO).flags pipelines/recommend.mk
	@mkdir -p $(CV)
	@echo "cv: $(FOLDS) folds of $(ALGO), $(JOBS) at a time"
	@rm -f $(CV)/fold-*.txt
	@# On a terminal, a line rewritten in place as folds finish (each job
	@# writes it to the terminal: parallel holds the jobs' own stderr).
	@t0=$$(date +%s); CF_TTY=$$([ -t 2 ] && echo 1) T0=$$t0; export CF_TTY T0; \
	[ -z "$$CF_TTY" ] || printf 'cv: 0/%d folds done' $(FOLDS) > /dev/tty; \
	seq 0 $$(($(FOLDS) - 1)) | parallel --will-cite \
		--halt now,fail=1 -j $(JOBS) \
		'$(BIN)/split --folds $(FOLDS) --fold {} --seed $(SEED) --test $(cv_fold) \
			< $(PREP_ENCODED) > $(CV)/train-{}.bin && \
		 $(cv_train) && \
		 $(cv_score) && echo "$$a $$b" > $(CV)/fold-{}.txt && \
		 { [ -z "$$CF_TTY" ] || { d=$$(ls $(CV)/fold-*.txt | wc -l); e=$$(($$(date +%s) - T0)); \
		   printf "\rcv: %d/%d folds done, %d s, ETA %d s\033[K" $$d $(FOLDS) $$e \
			$$((e * ($(FOLDS) - d) / d)) > /dev/tty; }; }'; \
	st=$$?; [ -z "$$CF_TTY" ] || printf '\r\033[K' > /dev/tty; exit $$st
	@for i in $$(seq 0 $$(($(FOLDS) - 1))); do cat $(CV)/fold-$$i.txt; done > $@.tmp
	@mv $@.tmp $@

cv: $(CV).txt
	@echo "cv: $(ALGO) $(if $(cv_rates),predicts ratings: RMSE and MAE of each held-out fold,ranks (its scores are not ratings): NDCG@$(TOPK) and recall@$(TOPK) of each user's top $(TOPK) against the held-out fold)"
	@awk -v a=$(ALGO) -v f=$(FOLDS) -v names='$(cv_names)' \
		'BEGIN { nc = split(names, name, " ") } \
		{ for (c = 1; c <= nc; c++) { x[c, NR] = $$c; s[c] += $$c } } \
		END { for (c = 1; c <= nc; c++) { m = s[c] / NR; v = 0; \
			for (i = 1; i <= NR; i++) v += (x[c, i] - m) ^ 2; \
			printf "cv: %s, %d folds: %s", a, f, name[c]; \
			for (i = 1; i <= NR; i++) printf " %.4f", x[c, i]; \
			printf "\ncv: %s mean %.4f, sd %.4f\n", name[c], m, (NR > 1 ? sqrt(v / (NR - 1)) : 0) } }' $<

# Train and test RMSE per epoch (the test set is only logged, see train.mk).
# The plotted run: ALGO with the pipeline's flags on train less a
# validation split cut from it, that split's RMSE logged every epoch.
$(OUT)/plotlog-%.csv: $(PREP_FIT) $(PREP_VALID) $(BIN)/mf-fit $(OUT)/fit-%.flags
	$(BIN)/mf-fit -q --algo $* $(call algo_flags,$*) $(train_flags) --valid $(PREP_VALID) --log $@ \
		-o $(OUT)/plotmodel-$*.bin < $(PREP_FIT)

$(OUT)/rmse-$(ALGO).png: $(OUT)/plotlog-$(ALGO).csv pipelines/plot.gp
	gnuplot -e "logfile='$<'; out='$@'; algo='$(ALGO)'" pipelines/plot.gp

plot: $(OUT)/rmse-$(ALGO).png
	@echo "plot: $<"
