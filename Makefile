# devcloud housekeeping functions: one static `bootstrap` per function.
#
#   make            build/<fn>/bootstrap and build/<fn>.zip for every functions/<fn>
#   make test       install what is missing, build everything, run every test
#   make demo       one night of housekeeping on a small emulated dev cloud
#   make fuzz       every libFuzzer target for FUZZ_SECONDS (180) each
#   make bench      the scaler's day-of-CI simulator (bench/scaler_sim), then ours vs. a
#                   Python + boto3 reference (bench/run.py: writes bench/RESULTS.md, README)
#   make deps       fetch and build third-party code: a trimmed static OpenSSL, libcurl,
#                   cJSON (scripts/deps.sh; run automatically)
#   make clean      remove build/ (keeps nothing)

CC       ?= gcc
# V=1 shows every command
V        ?= 0
ifeq ($(V),1)
Q :=
say = @true
else
Q := @
say = @printf '  %-7s %s\n' $(1) $(2)
endif
CLANG    ?= clang
PYTHON   := /usr/bin/python3
BUILD    := build
DEPS     := $(BUILD)/deps
PREFIX   := $(DEPS)/prefix
STAMP    := $(DEPS)/.stamp
VERSION  := $(shell git describe --always --dirty 2>/dev/null || echo dev)

# the version is compiled into runtime/lambda.c only; the file changes when it does
VERSION_FILE := $(BUILD)/version.txt
$(shell mkdir -p $(BUILD); echo '$(VERSION)' | cmp -s - $(VERSION_FILE) 2>/dev/null || echo '$(VERSION)' > $(VERSION_FILE))

WARN     := -Wall -Wextra -Werror -Wmissing-prototypes -Wstrict-prototypes -Wvla \
            -Wwrite-strings -fno-common
CPPFLAGS := -D_GNU_SOURCE -DDEVCLOUD_VERSION='"$(VERSION)"' -Icommon -Iruntime -I$(PREFIX)/include
CFLAGS   := -std=c17 -O2 -ffunction-sections -fdata-sections $(WARN)
# cJSON is third-party code: built without our -Werror policy
CJSON_CFLAGS := -std=c17 -O2 -ffunction-sections -fdata-sections -w
# OpenSSL: the static bootstraps (and every other -static link) take the trimmed
# libssl.a/libcrypto.a scripts/deps.sh builds, by path; the ASan, fuzz and dyn builds
# link Debian's dynamic libssl/libcrypto (-lssl -lcrypto, no -L to the prefix). Every
# build compiles against the trimmed headers in $(PREFIX)/include.
LIBS     := $(PREFIX)/lib/libcurl.a -lcares -lssl -lcrypto -lexpat -lz -lpthread -lm
STATIC_LIBS := $(PREFIX)/lib/libcurl.a -lcares $(PREFIX)/lib/libssl.a $(PREFIX)/lib/libcrypto.a \
            -lexpat -lz -lpthread -lm
STATIC_LDFLAGS := -static -s -Wl,--gc-sections
NSS_TRAP := $(foreach f,getaddrinfo gethostbyname gethostbyname_r getservbyname getservbyname_r \
            getservbyport getservbyport_r getpwnam getpwnam_r getpwuid getpwuid_r dlopen dlsym,-Wl,--wrap=$(f))
ASAN     := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all -g -O1

# a function is a folder with a main.c (a folder without one holds code its
# function will use, built into the unit tests until its main.c lands)
FUNCTIONS  := $(patsubst functions/%/main.c,%,$(wildcard functions/*/main.c))
COMMON_SRC := $(wildcard common/*.c) $(wildcard runtime/*.c)
FN_LIB_SRC := $(filter-out %/main.c,$(wildcard functions/*/*.c))
HEADERS    := $(wildcard common/*.h runtime/*.h functions/*/*.h)
UNIT_TESTS := $(patsubst tests/unit/%.c,%,$(wildcard tests/unit/test_*.c))
UNIT_HELPERS := $(filter-out tests/unit/test_%.c,$(wildcard tests/unit/*.c))
TOOLS      := $(patsubst tests/tools/%.c,%,$(wildcard tests/tools/*.c))
FUZZERS    := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))

OBJ      := $(BUILD)/obj
ASAN_OBJ := $(BUILD)/asan/obj
COMMON_OBJ      := $(patsubst %.c,$(OBJ)/%.o,$(COMMON_SRC)) $(OBJ)/cJSON.o
DYN_OBJ  := $(BUILD)/dyn/obj
DYN_COMMON_OBJ  := $(patsubst %.c,$(DYN_OBJ)/%.o,$(COMMON_SRC)) $(DYN_OBJ)/cJSON.o
ASAN_COMMON_OBJ := $(patsubst %.c,$(ASAN_OBJ)/%.o,$(COMMON_SRC) $(FN_LIB_SRC)) $(ASAN_OBJ)/cJSON.o

BOOTSTRAPS := $(foreach f,$(FUNCTIONS),$(BUILD)/$(f)/bootstrap)
ZIPS       := $(foreach f,$(FUNCTIONS),$(BUILD)/$(f).zip)

.PHONY: all deps test unit demo bench bench-deps clean tools asan nss-trap dyn fuzz format check-static
.DELETE_ON_ERROR:
.SECONDARY:

all: $(BOOTSTRAPS) $(ZIPS)

deps: $(STAMP)

$(STAMP): scripts/deps.sh
	$(Q)scripts/deps.sh $(DEPS)
	$(Q)touch $@

# ---- static objects and binaries ----

$(OBJ)/runtime/lambda.o $(ASAN_OBJ)/runtime/lambda.o $(DYN_OBJ)/runtime/lambda.o: $(VERSION_FILE)

$(OBJ)/cJSON.o: $(STAMP)
	@mkdir -p $(dir $@)
	$(call say,CC,$@)
	$(Q)$(CC) $(CJSON_CFLAGS) -I$(PREFIX)/include -c -o $@ $(PREFIX)/src/cJSON.c

$(OBJ)/%.o: %.c $(HEADERS) $(STAMP)
	@mkdir -p $(dir $@)
	$(call say,CC,$@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

define function_rules
$(BUILD)/$(1)/bootstrap: $(patsubst %.c,$(OBJ)/%.o,$(wildcard functions/$(1)/*.c)) $(COMMON_OBJ)
	@mkdir -p $$(dir $$@)
	$(call say,LD,$$@)
	$(Q)$(CC) $(STATIC_LDFLAGS) -o $$@ $$^ $(STATIC_LIBS) 2> $$@.link.log || { cat $$@.link.log; exit 1; }
	@grep -v -e 'statically linked applications requires at runtime' -e 'in function' $$@.link.log | sed 's/^/    /' || true

# the same binary with glibc's NSS and dlopen trapped (see tests/support/nss_trap.c)
$(BUILD)/nss-trap/$(1)/bootstrap: $(patsubst %.c,$(OBJ)/%.o,$(wildcard functions/$(1)/*.c)) $(COMMON_OBJ) $(OBJ)/tests/support/nss_trap.o
	@mkdir -p $$(dir $$@)
	$(call say,LD,$$@)
	$(Q)$(CC) $(STATIC_LDFLAGS) $(NSS_TRAP) -o $$@ $$^ $(STATIC_LIBS) 2> $$@.link.log || { cat $$@.link.log; exit 1; }

$(BUILD)/$(1).zip: $(BUILD)/$(1)/bootstrap scripts/zip.py
	$(call say,ZIP,$$@)
	$(Q)$(PYTHON) scripts/zip.py $$@ $$<

# dynamically linked, -O1 -g, not stripped: valgrind sees glibc's malloc (tests/integration/test_memory.py)
$(BUILD)/dyn/$(1)/bootstrap: $(patsubst %.c,$(DYN_OBJ)/%.o,$(wildcard functions/$(1)/*.c)) $(DYN_COMMON_OBJ)
	@mkdir -p $$(dir $$@)
	$(call say,LD,$$@)
	$(Q)$(CC) -o $$@ $$^ $(LIBS)

$(BUILD)/asan/$(1)/bootstrap: $(patsubst %.c,$(ASAN_OBJ)/%.o,$(wildcard functions/$(1)/*.c)) $(ASAN_COMMON_OBJ)
	@mkdir -p $$(dir $$@)
	$(call say,LD,$$@)
	$(Q)$(CC) $(ASAN) -o $$@ $$(filter-out $(patsubst %.c,$(ASAN_OBJ)/%.o,$(filter-out functions/$(1)/%,$(FN_LIB_SRC))),$$^) $(LIBS)
endef
$(foreach f,$(FUNCTIONS),$(eval $(call function_rules,$(f))))

# ---- the dynamic build valgrind runs ----

DYN_CFLAGS := -std=c17 -O1 -g $(WARN)

$(DYN_OBJ)/cJSON.o: $(STAMP)
	@mkdir -p $(dir $@)
	$(call say,CC,$@)
	$(Q)$(CC) -std=c17 -O1 -g -w -I$(PREFIX)/include -c -o $@ $(PREFIX)/src/cJSON.c

$(DYN_OBJ)/%.o: %.c $(HEADERS) $(STAMP)
	@mkdir -p $(dir $@)
	$(call say,CC,$@)
	$(Q)$(CC) $(CPPFLAGS) $(DYN_CFLAGS) -c -o $@ $<

# ---- sanitizer builds, unit tests and test tools ----

$(ASAN_OBJ)/cJSON.o: $(STAMP)
	@mkdir -p $(dir $@)
	$(call say,CC,$@)
	$(Q)$(CC) $(ASAN) $(CJSON_CFLAGS) -I$(PREFIX)/include -c -o $@ $(PREFIX)/src/cJSON.c

$(ASAN_OBJ)/%.o: %.c $(HEADERS) $(STAMP)
	@mkdir -p $(dir $@)
	$(call say,CC,$@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(ASAN) -c -o $@ $<

$(BUILD)/asan/tests/%: tests/unit/%.c $(UNIT_HELPERS) $(wildcard tests/unit/*.h) $(ASAN_COMMON_OBJ)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(ASAN) -Wno-missing-prototypes -Ifunctions -Itests/unit -o $@ \
		$(filter %.c %.o,$^) -lcmocka $(LIBS)

$(BUILD)/tools/%: tests/tools/%.c $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -Ifunctions $(STATIC_LDFLAGS) -o $@ $^ $(STATIC_LIBS) 2> $@.link.log || { cat $@.link.log; exit 1; }

$(BUILD)/asan/tools/%: tests/tools/%.c $(ASAN_COMMON_OBJ)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(ASAN) -Ifunctions -o $@ $^ $(LIBS)

$(BUILD)/fuzz/%: tests/fuzz/%.c $(wildcard tests/fuzz/*.h) $(COMMON_SRC) $(FN_LIB_SRC) $(HEADERS) $(STAMP)
	@mkdir -p $(dir $@)
	$(call say,FUZZ,$@)
	$(Q)$(CLANG) $(CPPFLAGS) -std=c17 -g -O1 -Ifunctions -fsanitize=fuzzer,address,undefined \
		-o $@ $< $(COMMON_SRC) $(FN_LIB_SRC) $(PREFIX)/src/cJSON.c $(LIBS)

# ---- benchmarks ----

SIM_OBJ := $(OBJ)/functions/scaler/scaler_plan.o $(OBJ)/common/buf.o $(OBJ)/common/idlist.o $(OBJ)/cJSON.o

$(BUILD)/bench/scaler_sim: bench/scaler_sim/scaler_sim.c $(SIM_OBJ) $(HEADERS)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -Ifunctions -o $@ $< $(SIM_OBJ) -lm

# unstripped twins of the bootstraps, for callgrind's function names
BENCH_FUNCTIONS := stopper terminator image_pruner
define bench_rules
$(BUILD)/bench/$(1)/bootstrap: $(patsubst %.c,$(OBJ)/%.o,$(wildcard functions/$(1)/*.c)) $(COMMON_OBJ)
	@mkdir -p $$(dir $$@)
	$(call say,LD,$$@)
	$(Q)$(CC) -static -Wl,--gc-sections -o $$@ $$^ $(STATIC_LIBS) 2> $$@.link.log || { cat $$@.link.log; exit 1; }
endef
$(foreach f,$(BENCH_FUNCTIONS),$(eval $(call bench_rules,$(f))))
# the bench's floor: the least a runtime can do, to measure the apparatus itself
$(BUILD)/bench/floor: bench/floor.c
	@mkdir -p $(dir $@)
	$(call say,CC,$@)
	$(Q)$(CC) -std=c17 -O2 -D_GNU_SOURCE $(WARN) -static -o $@ $<

# what bench/run.py needs besides our binaries: boto3 (the reference) and valgrind
bench-deps:
	$(Q)$(PYTHON) -c 'import boto3' 2>/dev/null && command -v valgrind >/dev/null || \
		{ apt-get update -qq && apt-get install -y -qq --no-install-recommends python3-boto3 valgrind; }

tools: $(foreach t,$(TOOLS),$(BUILD)/tools/$(t) $(BUILD)/asan/tools/$(t))
asan: $(foreach f,$(FUNCTIONS),$(BUILD)/asan/$(f)/bootstrap)
nss-trap: $(foreach f,$(FUNCTIONS),$(BUILD)/nss-trap/$(f)/bootstrap)
dyn: $(foreach f,$(FUNCTIONS),$(BUILD)/dyn/$(f)/bootstrap)
unit: $(foreach t,$(UNIT_TESTS),$(BUILD)/asan/tests/$(t))
FUZZ_BINS := $(foreach z,$(FUZZERS),$(BUILD)/fuzz/$(z))
# every fuzz target for FUZZ_SECONDS each (make test runs each for 10 s)
FUZZ_SECONDS ?= 180
fuzz: $(FUZZ_BINS)
	tests/fuzz/run.sh -s $(FUZZ_SECONDS) $(BUILD)

# the HCL parser of the terraform/ checks (npm @cdktf/hcl2json, pinned by package-lock.json)
HCL2JSON := tests/terraform/node_modules/@cdktf/hcl2json/package.json
$(HCL2JSON): tests/terraform/package.json tests/terraform/package-lock.json
	$(Q)command -v npm >/dev/null || { apt-get update -qq && apt-get install -y -qq --no-install-recommends nodejs npm; }
	$(call say,NPM,tests/terraform)
	$(Q)npm ci --no-audit --no-fund --silent --prefix tests/terraform
	@touch $@

# memcheck for tests/integration/test_memory.py (not in scripts/deps.sh: changing
# that file rebuilds every dependency)
VALGRIND := /usr/bin/valgrind
$(VALGRIND):
	$(call say,APT,valgrind)
	$(Q)apt-get update -qq && apt-get install -y -qq --no-install-recommends valgrind

test: all tools asan nss-trap dyn unit $(FUZZ_BINS) $(BUILD)/bench/scaler_sim $(HCL2JSON) $(VALGRIND)
	tests/run.sh $(BUILD)

demo: all
	$(PYTHON) tests/demo/demo.py --build $(BUILD)

bench: $(BUILD)/bench/scaler_sim $(BUILD)/bench/floor $(foreach f,$(BENCH_FUNCTIONS),$(BUILD)/$(f)/bootstrap $(BUILD)/$(f).zip $(BUILD)/bench/$(f)/bootstrap) bench-deps
	$(BUILD)/bench/scaler_sim --check
	$(PYTHON) bench/run.py --build $(BUILD)

# the smoke test of bench/run.py (tests/integration/test_bench.py) runs the reference
test: bench-deps $(BUILD)/bench/floor $(foreach f,$(BENCH_FUNCTIONS),$(BUILD)/bench/$(f)/bootstrap)

check-static: all
	@for b in $(BOOTSTRAPS); do ldd $$b 2>&1 | grep -q 'not a dynamic executable' || { echo "$$b is not static"; exit 1; }; done

format:
	clang-format -i $(COMMON_SRC) $(HEADERS) $(wildcard functions/*/*.c tests/unit/*.c tests/tools/*.c)

clean:
	rm -rf $(BUILD)/obj $(BUILD)/asan $(BUILD)/dyn $(BUILD)/tools $(BUILD)/fuzz $(BUILD)/nss-trap $(BUILD)/bench $(BOOTSTRAPS) $(ZIPS)
