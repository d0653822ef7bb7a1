# cinefilter - one pattern rule builds every program in src/ against the
# small library in src/lib/ (serve adds its own objects, from src/serve/).
# `make`, `make test`, `make bench`,
# `make pipeline`, `make install PREFIX=... DESTDIR=...`.

# This file's directory ("" in the checkout): an installed copy
# (PREFIX/share/cinefilter/Makefile, `make -f` from anywhere) finds its
# pipelines there, and its installed.mk, which points BIN at the
# installed programs.
SELF   := $(lastword $(MAKEFILE_LIST))
TOPDIR := $(filter-out ./,$(dir $(SELF)))
-include $(TOPDIR)installed.mk

PREFIX  ?= /usr/local
DESTDIR ?=
CC      ?= cc
CFLAGS  ?= -O2 -g
BUILD   ?= build
BIN     ?= bin

STD      = -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
WARN     = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes
PKGS     = zlib openblas jansson libmicrohttpd
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lz -lopenblas -ljansson -lmicrohttpd)
ALL_CFLAGS = $(STD) $(WARN) $(CFLAGS) -Isrc/lib $(PKG_CFLAGS) -pthread
LDLIBS   = $(PKG_LIBS) -lm -pthread

PROGS    = csv2bin bin2csv encode-ids split gen-ratings mf-fit mf-step mf-score topk tune \
           metrics join-meta serve blend
LIB_SRC  = $(wildcard src/lib/*.c src/lib/train/*.c)
LIB_HDR  = $(wildcard src/lib/*.h src/lib/train/*.h)
LIB_OBJ  = $(LIB_SRC:src/lib/%.c=$(BUILD)/lib/%.o)
LIBA     = $(BUILD)/libcinefilter.a

.PHONY: all test unit asan test-asan bench install uninstall clean deps
.DELETE_ON_ERROR:
# Pipeline files made by chains of pattern rules are results, not
# intermediates to delete: keep them all.
.SECONDARY:

# (An installed copy of this file has its programs and man pages made.)
all: $(PROGS:%=$(BIN)/%) $(if $(INSTALLED),,man)

$(BUILD)/lib/%.o: src/lib/%.c $(LIB_HDR)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(LIBA): $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

# The one rule for every program: src/NAME.c -> bin/NAME (but serve, below).
$(BIN)/%: src/%.c $(LIBA) $(LIB_HDR) | $(BIN)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LIBA) $(LDLIBS)

# serve: its main src/serve.c, the server in src/serve/ (objects in
# $(BUILD)/serve/, also linked into the unit tests) and the web page
# src/serve/page.html compiled in as a C array (od and sed: no xxd needed).
SERVE_SRC    = $(wildcard src/serve/*.c)
SERVE_HDR    = $(wildcard src/serve/*.h)
SERVE_OBJ    = $(SERVE_SRC:src/serve/%.c=$(BUILD)/serve/%.o)
SERVE_CFLAGS = $(ALL_CFLAGS) -Isrc/serve

$(BUILD)/serve/%.o: src/serve/%.c $(SERVE_HDR) $(LIB_HDR) | $(BUILD)/serve
	$(CC) $(SERVE_CFLAGS) -c -o $@ $<

$(BUILD)/serve/page.c: src/serve/page.html | $(BUILD)/serve
	@{ echo '/* Generated from src/serve/page.html by the Makefile. */'; \
	   echo 'const unsigned char cf_serve_page[] = {'; \
	   od -An -v -tx1 $< | sed -e 's/\([0-9a-f][0-9a-f]\)/0x\1,/g'; \
	   echo '};'; \
	   echo 'const unsigned long cf_serve_page_len = sizeof cf_serve_page;'; } > $@.tmp
	@mv $@.tmp $@

$(BUILD)/serve/page.o: $(BUILD)/serve/page.c
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# (Not in an installed copy, which has serve built and no sources.)
ifndef INSTALLED
$(BIN)/serve: src/serve.c $(SERVE_OBJ) $(BUILD)/serve/page.o $(LIBA) $(SERVE_HDR) $(LIB_HDR) | $(BIN)
	$(CC) $(SERVE_CFLAGS) -o $@ src/serve.c $(SERVE_OBJ) $(BUILD)/serve/page.o $(LIBA) $(LDLIBS)
endif

$(BUILD)/serve:
	mkdir -p $@

$(BIN) $(BUILD)/lib $(BUILD)/tests:
	mkdir -p $@

# ---- workflows (pipelines/*.mk) ----------------------------------------
include $(addprefix $(TOPDIR)pipelines/,prep.mk train.mk evaluate.mk recommend.mk \
        serve.mk tune.mk dist.mk)

# README's main command: data-prep -> train -> evaluate -> recommend.  Its
# first line says what it does and roughly how long it takes from
# scratch: PIPELINE_S_PER_100K seconds per 100,000 ratings for the nine
# default models, as measured on a 2-core box (23 s for ml-latest-small,
# most of it ease's X'X inverse, fitted twice for the blend); scaled by
# the ratings and the number of models, a rough guide only.
PIPELINE_S_PER_100K = 22
.PHONY: pipeline
pipeline: all
	@n=$$(($$(wc -l < $(DATA)/ratings.csv) - 1)); \
	 printf 'pipeline: %s (%s ratings): split %s/%s (seed %s), train %s, evaluate them on the test set, recommend for user %s; from scratch about %s s on 2 cores\n' \
		'$(DATA)' $$n '$(shell echo '100 - $(RATIO) * 100' | bc | sed 's/\.0*$$//')' \
		'$(shell echo '$(RATIO) * 100' | bc | sed 's/\.0*$$//')' '$(SEED)' '$(ALGOS)' '$(rec_user)' \
		$$(awk -v n=$$n -v a='$(words $(ALGOS))' -v c=$(PIPELINE_S_PER_100K) \
			'BEGIN { s = c * n / 100000 * a / 9; printf "%.0f", s < 1 ? 1 : s }')
	@$(MAKE) -f $(SELF) -s --no-print-directory prep
	@$(MAKE) -f $(SELF) -s --no-print-directory evaluate
	@$(MAKE) -f $(SELF) -s --no-print-directory demo

# ---- tests ------------------------------------------------------------
CHECK_CFLAGS := $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS   := $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lsubunit -lrt)
UNIT_SRC = $(wildcard tests/unit/*.c)

# test_serve.c tests serve's modules: the serve objects are linked in.
$(BUILD)/tests/unit: $(UNIT_SRC) $(SERVE_OBJ) $(LIBA) $(SERVE_HDR) $(LIB_HDR) | $(BUILD)/tests
	$(CC) $(SERVE_CFLAGS) $(CHECK_CFLAGS) -o $@ $(UNIT_SRC) $(SERVE_OBJ) $(LIBA) $(CHECK_LIBS) $(LDLIBS)

unit: $(BUILD)/tests/unit
	CK_FORK=no $(BUILD)/tests/unit

# Test helpers in C (tests/tools/*.c), for the e2e tests: $(BUILD)/tests/NAME.
TOOL_BIN = $(BUILD)/tests/cfcopy

$(BUILD)/tests/%: tests/tools/%.c $(LIBA) $(LIB_HDR) | $(BUILD)/tests
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LIBA) $(LDLIBS)

# The fuzz targets (tests/fuzz/fuzz_*.c) linked with a replay driver
# instead of libFuzzer: their corpora run as regression tests.
FUZZ_SRC    = $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_REPLAY = $(FUZZ_SRC:tests/fuzz/fuzz_%.c=$(BUILD)/fuzz/replay-%)

$(BUILD)/fuzz/replay-%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c tests/fuzz/fuzz.h $(LIBA) $(LIB_HDR)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Itests/fuzz -o $@ $< tests/fuzz/replay.c $(LIBA) $(LDLIBS)

# `make test` runs the unit tests and every end-to-end test and ends with
# one summary line: "tests: N passed, M failed".
test: all $(BUILD)/tests/unit $(FUZZ_REPLAY) $(TOOL_BIN)
	@BUILD=$(BUILD) sh tests/run.sh $(BUILD)/tests/unit $(BIN)

# The same tests under AddressSanitizer + UndefinedBehaviorSanitizer, in a
# separate build tree so the normal binaries are untouched.
SAN = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
test-asan asan:
	$(MAKE) BUILD=build/asan BIN=build/asan/bin CFLAGS="$(SAN)" test

# ---- benchmarks -------------------------------------------------------
bench: all
	@sh bench/run.sh $(BIN)

# ---- man pages --------------------------------------------------------
# One per program, made from its --help and --version by help2man; the
# NAME line from MAN_NAME_prog.  split's is cf-split's (see install).
CF_VERSION := $(shell sed -n 's/^\#define CF_VERSION "\(.*\)"/\1/p' src/lib/util.h 2>/dev/null)
MAN_NAME_csv2bin     = delimited text (MovieLens CSV and others) to a frame stream
MAN_NAME_bin2csv     = a frame stream to CSV
MAN_NAME_encode-ids  = raw user and item ids to dense indices
MAN_NAME_split       = train/test splits of a ratings stream
MAN_NAME_gen-ratings = synthetic MovieLens-shaped ratings from a known model
MAN_NAME_mf-fit      = train a recommender model on ratings
MAN_NAME_mf-score    = score users and items with a trained model
MAN_NAME_topk        = keep the N best-scored items of each user
MAN_NAME_tune        = hyper-parameter search for mf-fit
MAN_NAME_metrics     = evaluate predictions and top-N lists
MAN_NAME_join-meta   = join item ids with movie titles, genres and links
MAN_NAME_serve       = the recommendation API over HTTP, and a web page
MAN_NAME_blend       = blend ranking models, weights fitted on a validation split
MAN_NAME_mf-step     = one step of a distributed als or ials run
# Programs named as a command a system already has (coreutils' split):
# installed as cf-NAME (see install).
CLASH    ?= split
cmd_name = $(if $(filter $(1),$(CLASH)),cf-$(1),$(1))
MANS = $(foreach p,$(PROGS),$(BUILD)/man/$(call cmd_name,$(p)).1)

.PHONY: man
man: $(MANS)

# help2man runs a wrapper named as the installed command, which gives it
# the usage line the way it reads a synopsis (tools/help2man-wrap.sh).
define man_rule
$(BUILD)/man/$(call cmd_name,$(1)).1: $(BIN)/$(1) tools/help2man-wrap.sh Makefile
	@sh tools/help2man-wrap.sh $(abspath $(BIN)/$(1)) $(call cmd_name,$(1)) $(BUILD)/man/wrap
	help2man -N -s 1 -m cinefilter -S 'cinefilter $(CF_VERSION)' -n '$(MAN_NAME_$(1))' \
		--version-string='$(CF_VERSION)' -o $$@.tmp $(BUILD)/man/wrap/$(call cmd_name,$(1)) && \
	mv $$@.tmp $$@
endef
$(foreach p,$(PROGS),$(eval $(call man_rule,$(p))))

# ---- install ----------------------------------------------------------
# The programs go to LIBEXECDIR under their own names (what the make
# workflows and tune run); PREFIX/bin gets a link to each, but for the
# names in CLASH, commands a system has already (coreutils' split), which
# are linked as cf-NAME: installing never changes what a command already
# on PATH means.  `cat r.bin | mf-fit | mf-score --user 18 | topk 20`
# works after install; `PATH=LIBEXECDIR:$PATH` gives split its own name.
# The workflows: PREFIX/share/cinefilter/Makefile (make -f it, DATA=dir).
LIBEXECDIR ?= $(PREFIX)/libexec/cinefilter
SHAREDIR   ?= $(PREFIX)/share/cinefilter
MANDIR     ?= $(PREFIX)/share/man/man1
# Where Debian's python3 looks under PREFIX (/usr/local: sys.path has it).
PYVER      := $(shell /usr/bin/python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
PYTHONDIR  ?= $(PREFIX)/lib/python$(PYVER)/dist-packages
install: all
	mkdir -p $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(MANDIR) \
		$(DESTDIR)$(SHAREDIR)/pipelines $(DESTDIR)$(SHAREDIR)/data/ml-latest-small \
		$(DESTDIR)$(PREFIX)/share/doc/cinefilter $(DESTDIR)$(PYTHONDIR)
	for p in $(PROGS); do \
		install -m 755 $(BIN)/$$p $(DESTDIR)$(LIBEXECDIR)/$$p; \
		c=$$p; case " $(CLASH) " in *" $$p "*) c=cf-$$p ;; esac; \
		ln -sf $(LIBEXECDIR)/$$p $(DESTDIR)$(PREFIX)/bin/$$c; \
		install -m 644 $(BUILD)/man/$$c.1 $(DESTDIR)$(MANDIR)/$$c.1; \
	done
	install -m 644 Makefile $(DESTDIR)$(SHAREDIR)/Makefile
	install -m 644 pipelines/*.mk $(DESTDIR)$(SHAREDIR)/pipelines/
	install -m 644 data/ml-latest-small/* $(DESTDIR)$(SHAREDIR)/data/ml-latest-small/
	printf '%s\n' '# Written by make install: the installed programs, the shipped data.' \
		'INSTALLED = 1' 'BIN = $(LIBEXECDIR)' 'DATA ?= $(SHAREDIR)/data/ml-latest-small' \
		> $(DESTDIR)$(SHAREDIR)/installed.mk
	install -m 644 python/cinefilter.py $(DESTDIR)$(PYTHONDIR)/cinefilter.py
	install -m 644 README.md docs/frame-format.md $(DESTDIR)$(PREFIX)/share/doc/cinefilter/

uninstall:
	for p in $(PROGS); do \
		c=$$p; case " $(CLASH) " in *" $$p "*) c=cf-$$p ;; esac; \
		rm -f $(DESTDIR)$(PREFIX)/bin/$$c $(DESTDIR)$(MANDIR)/$$c.1; \
	done
	rm -rf $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(SHAREDIR) $(DESTDIR)$(PREFIX)/share/doc/cinefilter
	rm -f $(DESTDIR)$(PYTHONDIR)/cinefilter.py

# Installs the Debian packages the build, tests and pipelines need.
deps:
	@sh tools/deps.sh

clean:
	rm -rf build $(BIN)
