# pipelines/evaluate.mk - every model in ALGOS scored on the held-out test
# set, one table: RMSE/MAE (rating models) and the ranking metrics at TOPK.
#
#   make evaluate [ALGOS='als sgd ials baseline popular fm ease rp3b blend'] [TOPK=10]
#                 [BLEND_PARTS='ease rp3b ials']
#
# Ranking: every held-out rating is relevant, candidates are all items the
# user has not rated in train (mf-score --all excludes them).

TOPK ?= 10
# Models whose scores are ratings; the others (ials, popular, ease, rp3b,
# blend) only rank.
RATING_ALGOS = als sgd baseline fm

# The blend (bin/blend): the models of BLEND_PARTS, its weights fitted on
# the validation split cut from train (valid.bin) by the same algorithms
# trained on train less that split (fitmodel-A.bin), so the test set is
# still read once, by the evaluation, and no weight was chosen on it.
# ease + rp3b + ials: the best of the blends tried on that validation split
# (README), and the best top-N model of the table.
BLEND_PARTS ?= ease rp3b ials
comma := ,
empty :=
space := $(empty) $(empty)
$(OUT)/fitmodel-%.bin: $(PREP_FIT) $(BIN)/mf-fit $(OUT)/fit-%.flags
	$(BIN)/mf-fit -q --algo $* $(train_flags) -o $@ < $(PREP_FIT)

$(OUT)/model-blend.bin: $(BLEND_PARTS:%=$(OUT)/model-%.bin) $(BLEND_PARTS:%=$(OUT)/fitmodel-%.bin) \
                        $(PREP_VALID) $(BIN)/blend
	@echo "train: blend of $(BLEND_PARTS), weights fitted on $(PREP_VALID)"
	$(BIN)/blend --valid $(PREP_VALID) \
		--fit $(subst $(space),$(comma),$(BLEND_PARTS:%=$(OUT)/fitmodel-%.bin)) \
		-o $@ $(BLEND_PARTS:%=$(OUT)/model-%.bin)

$(OUT)/pairs-%.bin: $(OUT)/model-%.bin $(PREP_TEST) $(BIN)/mf-score
	$(BIN)/mf-score --pairs $(PREP_TEST) < $< > $@

$(OUT)/top$(TOPK)-%.bin: $(OUT)/model-%.bin $(BIN)/mf-score
	$(BIN)/mf-score --all --top $(TOPK) < $< > $@

$(OUT)/eval$(TOPK)-%.txt: $(OUT)/top$(TOPK)-%.bin $(PREP_TEST) $(PREP_TRAIN) $(BIN)/metrics
	@set -e; \
	if echo ' $(RATING_ALGOS) ' | grep -q ' $* '; then \
		rmse=$$($(BIN)/metrics --metric rmse < $(OUT)/pairs-$*.bin); \
		mae=$$($(BIN)/metrics --metric mae < $(OUT)/pairs-$*.bin); \
	else rmse=-; mae=-; fi; \
	set -- $$(for m in precision recall ndcg map hit_rate mrr coverage; do \
		$(BIN)/metrics --truth $(PREP_TEST) --train $(PREP_TRAIN) --k $(TOPK) \
			--metric $$m < $<; done); \
	printf '%s %s %s %s %s %s %s %s %s %s\n' $* $$rmse $$mae "$$@" > $@

# The rating models' figures also need their pairs file.
$(foreach a,$(RATING_ALGOS),$(eval $(OUT)/eval$(TOPK)-$(a).txt: $(OUT)/pairs-$(a).bin))

.PHONY: evaluate
evaluate: $(ALGOS:%=$(OUT)/eval$(TOPK)-%.txt)
	@echo "evaluate: $(DATA), test set $(PREP_TEST), top $(TOPK)"
	@{ echo "model rmse mae precision@$(TOPK) recall@$(TOPK) ndcg@$(TOPK) map@$(TOPK) hit_rate@$(TOPK) mrr coverage"; \
	  cat $^; } | awk '{ printf "%-9s", $$1; \
		for (i = 2; i <= NF; i++) printf (NR == 1 || $$i == "-") ? " %13s" : " %13.4f", $$i; \
		printf "\n" }'
