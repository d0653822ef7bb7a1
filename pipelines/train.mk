# pipelines/train.mk - training: one model per algorithm from the split's
# train set.  Included by the top Makefile after prep.mk.
#
#   make train [ALGO=als] [RANK=64] [EPOCHS=15] [REG=...] [FIT_FLAGS='...']
#
# A model is rebuilt when the train set, mf-fit, or its flags change: the
# flags are kept in a stamp file that is rewritten only when they differ.
# RANK is the number of factors (mf-fit -k); K is the number of
# recommendations (see recommend.mk).

ALGO     ?= als
ALGOS    ?= als sgd ials baseline popular fm ease rp3b blend
RANK     ?=
EPOCHS   ?=
REG      ?=
FIT_FLAGS ?=

fit_flags = $(if $(RANK),-k $(RANK)) $(if $(EPOCHS),--epochs $(EPOCHS)) \
            $(if $(REG),--reg $(REG)) $(FIT_FLAGS)

# fm also reads the items' genres and years: the data's movies.csv
# (mf-fit --items), wherever an fm model is trained (train, cv, plot).
algo_flags = $(if $(filter fm,$(1)),--items $(DATA)/movies.csv)

.PHONY: FORCE train
FORCE:

# `make tune ALGO=A` leaves its best flags in $(OUT)/tune-A/best.flags
# (pipelines/tune.mk); training A then starts from them, and the flags
# given here (RANK, EPOCHS, REG, FIT_FLAGS) come after, so they win.
tuned_file  = $(wildcard $(OUT)/tune-$*/best.flags)
train_flags = $(if $(tuned_file),$(shell cat $(tuned_file))) $(fit_flags)

$(OUT)/fit-%.flags: FORCE | $(OUT)
	@printf '%s\n' '$(train_flags)' | cmp -s - $@ || printf '%s\n' '$(train_flags)' > $@

# The model sees train alone: the test set is read once, by make evaluate
# (make plot watches a run on a validation split cut from train).
$(OUT)/model-%.bin: $(PREP_TRAIN) $(BIN)/mf-fit $(OUT)/fit-%.flags
	@echo "train: $* on $(PREP_TRAIN)$(if $(tuned_file), (flags from make tune: $(tuned_file)))"
	$(BIN)/mf-fit --algo $* $(call algo_flags,$*) $(train_flags) --log $(OUT)/log-$*.csv \
		-o $@ < $(PREP_TRAIN)

$(OUT)/model-fm.bin: $(DATA)/movies.csv

train: $(OUT)/model-$(ALGO).bin
