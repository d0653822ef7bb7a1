# pipelines/evaluate.mk - every model in ALGOS scored on the held-out test
# set, one table: RMSE/MAE (rating models) and the ranking metrics at TOPK.
#
#   make evaluate [ALGOS='als sgd ials baseline popular fm'] [TOPK=10]
#
# Ranking: every held-out rating is relevant, candidates are all items the
# user has not rated in train (mf-score --all excludes them).

TOPK ?= 10
# Models whose scores are ratings; the others (ials, popular) only rank.
RATING_ALGOS = als sgd baseline fm

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
