# pipelines/tune.mk - hyper-parameter search on the split's train set
# (never its test set): tune(1) draws TRIALS configurations of ALGO and
# cross-checks them on a validation split cut from train, JOBS trials at
# a time (GNU parallel).  Included by the top Makefile after train.mk.
#
#   make tune [ALGO=sgd] [TRIALS=50] [JOBS=2] [TUNE_FLAGS='--folds 5 ...']
#
# The result, $(OUT)/tune-ALGO/best.flags, is what `make train` and
# `make pipeline` then train ALGO with (they say so); delete the
# directory to go back to the defaults.  A search is redone when the
# train set, the programs or TRIALS/TUNE_FLAGS change; an interrupted one
# goes on where it stopped (tune --resume).

TRIALS     ?= 50
TUNE_FLAGS ?=
tune_args   = --trials $(TRIALS) $(TUNE_FLAGS)

$(OUT)/tune-%.args: FORCE | $(OUT)
	@printf '%s\n' '$(tune_args)' | cmp -s - $@ || printf '%s\n' '$(tune_args)' > $@

$(OUT)/tune-%/best.flags: $(PREP_TRAIN) $(BIN)/tune $(BIN)/split $(BIN)/mf-fit \
		$(BIN)/mf-score $(BIN)/metrics $(OUT)/tune-%.args
	@set -e; d=$(OUT)/tune-$*; \
	if [ -d $$d/res ] && cmp -s $(OUT)/tune-$*.args $$d/args 2>/dev/null && \
	   [ $$d/args -nt $(PREP_TRAIN) ]; then resume=--resume; else rm -rf $$d; resume=; fi; \
	mkdir -p $$d; cp $(OUT)/tune-$*.args $$d/args; \
	$(BIN)/tune --algo $* $(tune_args) -j $(JOBS) -o $$d $$resume < $(PREP_TRAIN)

.PHONY: tune
tune: $(OUT)/tune-$(ALGO)/best.flags
