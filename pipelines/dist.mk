# pipelines/dist.mk - als/ials trained over row shards, on this machine or
# on other hosts through GNU parallel (docs/scaling.md).  Included by the
# top Makefile after train.mk.
#
#   make train-dist [ALGO=als|ials] [SHARDS=2] [HOSTS=h1,h2 | SLF=FILE]
#                   [EPOCHS=10] [RANK=..] [REG=..] [FIT_FLAGS='..']
#                   [DIST_TRAIN=ratings.bin] [DIST_THREADS=1] [DIST_RETRIES=2]
#                   [DIST_RSYNC_OPTS=-rlDRt]
#
# mf-fit --dist-init writes the start into $(DIST); then every
# half-iteration is one target: GNU parallel runs `mf-step solve` for each
# shard (-j SHARDS here, or over the HOSTS' ssh logins) and `mf-step
# merge` joins them; a half-iteration starts only when the one before has
# merged (the target is the barrier).  Over ssh, mf-step, state.bin and
# the fixed side's factors are sent as --basefile, each job's ratings and
# last factors with --transferfile into ~/$(DIST_WD) (rsync: a shard's
# ratings cross once per host), the new factors come back with --return;
# a failed job is retried (--retries) and any failure stops the
# half-iteration (--halt now,fail=1).  mf-fit --dist-model then writes
# $(DIST_MODEL): byte for byte what `mf-fit` trains with the same flags
# (FIT_FLAGS may not hold --valid, --patience, --init; make tune's flags
# are not used).  The hosts must run this machine's binaries.  Each
# half-iteration's jobs are logged in $(DIST)/joblog-SIDE-EPOCH.txt.

SHARDS       ?= 2
HOSTS        ?=
SLF          ?=
DIST_EPOCHS  ?= $(or $(EPOCHS),10)
DIST_TRAIN   ?= $(PREP_TRAIN)
DIST_THREADS ?= 1
DIST_RETRIES ?= 2
DIST         ?= $(OUT)/dist-$(ALGO)
DIST_MODEL   ?= $(OUT)/model-dist-$(ALGO).bin
# The hosts' work directory (under their login's home): one per run directory.
DIST_WD      ?= .cinefilter-dist/$(subst /,_,$(abspath $(DIST)))

dist_flags  = --algo $(ALGO) $(fit_flags) --epochs $(DIST_EPOCHS)
dist_hosts  = $(if $(HOSTS),--sshlogin $(HOSTS))$(if $(SLF),--slf $(SLF))
dist_shards = $(shell seq 0 $$(($(SHARDS) - 1)))
# OpenBLAS picks its kernels by CPU, or by OPENBLAS_CORETYPE and the
# like: the hosts get this machine's OPENBLAS_* settings, so that they run
# the same kernels (and so the same bits).
dist_env    = $(foreach v,$(sort $(filter OPENBLAS_%,$(.VARIABLES))),--env $(v))
# rsync without -z (factors hardly compress; compressing costs more than
# it saves on a LAN), with -t so that a file already there (a shard's
# ratings) is skipped by rsync's size and time check.
DIST_RSYNC_OPTS ?= -rlDRt
dist_par    = PARALLEL_RSYNC_OPTS='$(DIST_RSYNC_OPTS)' parallel --will-cite --halt now,fail=1 --retries $(DIST_RETRIES) \
              $(if $(dist_hosts),$(dist_hosts) $(dist_env) --workdir $(DIST_WD) \
                --basefile bin/mf-step --basefile state.bin,-j $(SHARDS))

.PHONY: train-dist

$(DIST)/flags: FORCE
	@mkdir -p $(DIST)/bin
	@printf '%s\n' '$(dist_flags) --shards $(SHARDS)' | cmp -s - $@ || \
		printf '%s\n' '$(dist_flags) --shards $(SHARDS)' > $@

# The start; mf-step goes in the run's directory, to be sent to the hosts.
$(DIST)/state.bin: $(DIST_TRAIN) $(BIN)/mf-fit $(BIN)/mf-step $(DIST)/flags
	@echo "train-dist: $(ALGO), $(SHARDS) shards, $(DIST_EPOCHS) epochs$(if $(dist_hosts), on $(HOSTS)$(SLF))"
	rm -f $(DIST)/*.fac $(DIST)/*.rows $(DIST)/state.bin
	cp $(BIN)/mf-step $(DIST)/bin/mf-step
	$(BIN)/mf-fit $(dist_flags) -q --dist-init $(DIST) --shards $(SHARDS) < $(DIST_TRAIN)

$(DIST)/users-0.fac: $(DIST)/state.bin ;

# One half-iteration: $(1) the side, $(2) the epoch, $(3) the other side's
# fixed factors, $(4) the epoch of the side's last factors.
define dist_half
$(DIST)/$(1)-$(2).fac: $(DIST)/$(3) $(DIST)/state.bin
	cd $(DIST) && $(dist_par) --joblog joblog-$(1)-$(2).txt $(if $(dist_hosts),--basefile $(3) --transferfile $(1)-{}.rows \
		--transferfile $(1)-$(4).{}.fac --return $(1)-$(2).{}.fac) \
		bin/mf-step -t $(DIST_THREADS) solve $(1) $(2) {} ::: $(dist_shards)
	cd $(DIST) && bin/mf-step merge $(1) $(2)
endef
$(foreach e,$(shell seq 1 $(DIST_EPOCHS)),\
  $(eval $(call dist_half,items,$(e),users-$(shell expr $(e) - 1).fac,$(shell expr $(e) - 1)))\
  $(eval $(call dist_half,users,$(e),items-$(e).fac,$(shell expr $(e) - 1))))

$(DIST_MODEL): $(DIST)/users-$(DIST_EPOCHS).fac
	$(BIN)/mf-fit $(dist_flags) -q --dist-model $(DIST) -o $@ < $(DIST_TRAIN)
	$(if $(dist_hosts),parallel --will-cite --nonall $(dist_hosts) rm -rf $(DIST_WD))

train-dist: $(DIST_MODEL)

# ---- batch top-N over the same hosts ------------------------------------
#   make score-dist [ALGO=als] [SHARDS=2] [HOSTS=.. | SLF=..] [TOP=20]
#                   [SCORE_MODEL=model.bin] [SCORE_OUT=top.bin]
#
# mf-score --all --top TOP --shard S/SHARDS for each shard, run by GNU
# parallel here (-j SHARDS) or on the HOSTS (mf-score and the model sent
# once per host with --basefile, each shard's topk frame back with
# --return), then `cat | topk TOP`: byte for byte the unsharded
# `mf-score --all --top TOP` (tests/e2e/dist.sh).  Any failed shard stops
# it (--halt now,fail=1), with no output.
TOP         ?= 20
SCORE_MODEL ?= $(OUT)/model-$(ALGO).bin
SCORE_OUT   ?= $(OUT)/top$(TOP)-$(ALGO).bin
SCORE_DIST   = $(SCORE_OUT).shards
SCORE_WD    ?= .cinefilter-score/$(subst /,_,$(abspath $(SCORE_DIST)))

.PHONY: score-dist
score-dist: $(SCORE_MODEL) $(BIN)/mf-score $(BIN)/topk
	@echo "score-dist: $(SCORE_MODEL), top $(TOP), $(SHARDS) shards$(if $(dist_hosts), on $(HOSTS)$(SLF))"
	@rm -rf $(SCORE_DIST) && mkdir -p $(SCORE_DIST)/bin
	@cp $(BIN)/mf-score $(SCORE_DIST)/bin/mf-score && cp $(SCORE_MODEL) $(SCORE_DIST)/model.bin
	cd $(SCORE_DIST) && PARALLEL_RSYNC_OPTS='$(DIST_RSYNC_OPTS)' parallel --will-cite \
		--halt now,fail=1 --retries $(DIST_RETRIES) --joblog joblog.txt \
		$(if $(dist_hosts),$(dist_hosts) $(dist_env) --workdir $(SCORE_WD) \
		  --basefile bin/mf-score --basefile model.bin --return top-{}.bin,-j $(SHARDS)) \
		'bin/mf-score --all --top $(TOP) --threads $(DIST_THREADS) --shard {}/$(SHARDS) < model.bin > top-{}.bin' \
		::: $(dist_shards)
	$(if $(dist_hosts),parallel --will-cite --nonall $(dist_hosts) rm -rf $(SCORE_WD))
	cd $(SCORE_DIST) && for s in $(dist_shards); do cat top-$$s.bin; done | $(abspath $(BIN))/topk $(TOP) > $(abspath $(SCORE_OUT)).tmp
	@mv $(SCORE_OUT).tmp $(SCORE_OUT) && rm -rf $(SCORE_DIST)
