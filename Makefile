# cinefilter - one pattern rule builds every program in src/ against the
# small library in src/lib/ (serve adds its own objects, from src/serve/).
# `make`, `make test`, `make bench`,
# `make pipeline`, `make install PREFIX=... DESTDIR=...`.

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
           metrics join-meta serve
LIB_SRC  = $(wildcard src/lib/*.c src/lib/train/*.c)
LIB_HDR  = $(wildcard src/lib/*.h src/lib/train/*.h)
LIB_OBJ  = $(LIB_SRC:src/lib/%.c=$(BUILD)/lib/%.o)
LIBA     = $(BUILD)/libcinefilter.a

.PHONY: all test unit asan test-asan bench install uninstall clean deps
.DELETE_ON_ERROR:
# Pipeline files made by chains of pattern rules are results, not
# intermediates to delete: keep them all.
.SECONDARY:

all: $(PROGS:%=$(BIN)/%)

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

$(BIN)/serve: src/serve.c $(SERVE_OBJ) $(BUILD)/serve/page.o $(LIBA) $(SERVE_HDR) $(LIB_HDR) | $(BIN)
	$(CC) $(SERVE_CFLAGS) -o $@ src/serve.c $(SERVE_OBJ) $(BUILD)/serve/page.o $(LIBA) $(LDLIBS)

$(BUILD)/serve:
	mkdir -p $@

$(BIN) $(BUILD)/lib $(BUILD)/tests:
	mkdir -p $@

# ---- workflows (pipelines/*.mk) ----------------------------------------
include pipelines/prep.mk pipelines/train.mk pipelines/evaluate.mk pipelines/recommend.mk \
        pipelines/serve.mk pipelines/tune.mk pipelines/dist.mk

# README's main command: data-prep -> train -> evaluate -> recommend.
.PHONY: pipeline
pipeline: all
	@$(MAKE) -s --no-print-directory prep
	@$(MAKE) -s --no-print-directory evaluate
	@$(MAKE) -s --no-print-directory demo

# ---- tests ------------------------------------------------------------
CHECK_CFLAGS := $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS   := $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lsubunit -lrt)
UNIT_SRC = $(wildcard tests/unit/*.c)

# test_serve.c tests serve's modules: the serve objects are linked in.
$(BUILD)/tests/unit: $(UNIT_SRC) $(SERVE_OBJ) $(LIBA) $(SERVE_HDR) $(LIB_HDR) | $(BUILD)/tests
	$(CC) $(SERVE_CFLAGS) $(CHECK_CFLAGS) -o $@ $(UNIT_SRC) $(SERVE_OBJ) $(LIBA) $(CHECK_LIBS) $(LDLIBS)

unit: $(BUILD)/tests/unit
	CK_FORK=no $(BUILD)/tests/unit

# The fuzz targets (tests/fuzz/fuzz_*.c) linked with a replay driver
# instead of libFuzzer: their corpora run as regression tests.
FUZZ_SRC    = $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_REPLAY = $(FUZZ_SRC:tests/fuzz/fuzz_%.c=$(BUILD)/fuzz/replay-%)

$(BUILD)/fuzz/replay-%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c tests/fuzz/fuzz.h $(LIBA) $(LIB_HDR)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Itests/fuzz -o $@ $< tests/fuzz/replay.c $(LIBA) $(LDLIBS)

# `make test` runs the unit tests and every end-to-end test and ends with
# one summary line: "tests: N passed, M failed".
test: all $(BUILD)/tests/unit $(FUZZ_REPLAY)
	@BUILD=$(BUILD) sh tests/run.sh $(BUILD)/tests/unit $(BIN)

# The same tests under AddressSanitizer + UndefinedBehaviorSanitizer, in a
# separate build tree so the normal binaries are untouched.
SAN = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
test-asan asan:
	$(MAKE) BUILD=build/asan BIN=build/asan/bin CFLAGS="$(SAN)" test

# ---- benchmarks -------------------------------------------------------
bench: all
	@sh bench/run.sh $(BIN)

# ---- install ----------------------------------------------------------
install: all
	mkdir -p $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/doc/cinefilter
	for p in $(PROGS); do install -m 755 $(BIN)/$$p $(DESTDIR)$(PREFIX)/bin/$$p; done
	install -m 644 README.md docs/frame-format.md $(DESTDIR)$(PREFIX)/share/doc/cinefilter/

uninstall:
	for p in $(PROGS); do rm -f $(DESTDIR)$(PREFIX)/bin/$$p; done
	rm -rf $(DESTDIR)$(PREFIX)/share/doc/cinefilter

# Installs the Debian packages the build, tests and pipelines need.
deps:
	@sh tools/deps.sh

clean:
	rm -rf build $(BIN)
