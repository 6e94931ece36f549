# bpfvm -- one non-recursive Makefile.  Targets: all test check-layers asan tsan valgrind demo bench fuzz install uninstall
# clean.
# Source files are found by wildcard: a new file in src/<part>/ needs no edit here.

CC      ?= cc
CLANG   ?= clang
BUILD   ?= build
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wvla \
           -Wimplicit-fallthrough
CFLAGS  ?= -O2 -g
ALLCFLAGS = -std=gnu11 $(WARN) $(CFLAGS) -fPIC -Iinclude -D_GNU_SOURCE $(EXTRA_CFLAGS)
LDLIBS  := -lpcap -lpthread -lm

# The version lives in include/bpfvm.h only; the shared library's SONAME follows its major number.
VERSION   := $(shell sed -n 's/^\#define BPFVM_VERSION "\(.*\)"$$/\1/p' include/bpfvm.h)
SOMAJOR   := $(firstword $(subst ., ,$(VERSION)))
SONAME    := libbpfvm.so.$(SOMAJOR)

# make install PREFIX=/usr/local DESTDIR=/tmp/stage (every directory below can be overridden too)
PREFIX    ?= /usr/local
BINDIR    ?= $(PREFIX)/bin
LIBDIR    ?= $(PREFIX)/lib
INCLUDEDIR?= $(PREFIX)/include
MANDIR    ?= $(PREFIX)/share/man
DOCDIR    ?= $(PREFIX)/share/doc/bpfvm
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig

LIB_SRCS  := $(wildcard src/*.c src/*/*.c)
LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
TOOL_SRCS := $(wildcard tools/*.c)
TOOL_OBJS := $(TOOL_SRCS:%.c=$(BUILD)/obj/%.o)
TEST_SRCS := $(wildcard tests/unit/test_*.c)
TEST_BINS := $(TEST_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
BENCH_SRCS:= $(wildcard bench/bench_*.c)
BENCH_BINS:= $(BENCH_SRCS:bench/%.c=$(BUILD)/bench/%)
EX_SRCS   := $(wildcard examples/*.bpf.c)
EX_OBJS   := $(EX_SRCS:examples/%.bpf.c=$(BUILD)/examples/%.bpf.o)
# Old-style programs (samples/bpf conventions: SEC("maps") bpf_map_def, section-name types, LD_ABS)
EX_LEGACY_SRCS := $(wildcard examples/legacy/*_kern.c)
EX_LEGACY_OBJS := $(EX_LEGACY_SRCS:examples/legacy/%.c=$(BUILD)/examples/legacy/%.o)
FUZZ_SRCS := $(wildcard fuzz/fuzz_*.c)
FUZZ_REPLAY := $(FUZZ_SRCS:fuzz/%.c=$(BUILD)/fuzz/%-replay)

.PHONY: install uninstall
.PHONY: all deps test check check-layers asan asan-build tsan tsan-build valgrind demo bench fuzz fuzz-build clean examples
all: $(BUILD)/bpfvm $(BUILD)/libbpfvm.a $(BUILD)/libbpfvm.so $(BUILD)/$(SONAME) examples

deps:
	@scripts/deps.sh

# deps is order-only so that `make -j` installs packages before the first compile, not beside it.
$(BUILD)/obj/%.o: %.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libbpfvm.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

# The shared library exports the public API only (src/libbpfvm.map: bpfvm_*), under a SONAME, with the
# usual links: libbpfvm.so (for -lbpfvm) and libbpfvm.so.MAJOR (what programs load) -> libbpfvm.so.X.Y.Z.
$(BUILD)/libbpfvm.so.$(VERSION): $(LIB_OBJS) src/libbpfvm.map
	$(CC) -shared -Wl,-soname,$(SONAME) -Wl,--version-script=src/libbpfvm.map -o $@ $(LIB_OBJS) $(LDLIBS)

$(BUILD)/libbpfvm.so $(BUILD)/$(SONAME): $(BUILD)/libbpfvm.so.$(VERSION)
	ln -sf $(notdir $<) $@

$(BUILD)/bpfvm: $(TOOL_OBJS) $(BUILD)/libbpfvm.a
	$(CC) $(ALLCFLAGS) -o $@ $(TOOL_OBJS) $(BUILD)/libbpfvm.a $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c tests/unit/test.h tests/unit/test_util.h $(BUILD)/libbpfvm.a
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -Isrc -o $@ $< $(BUILD)/libbpfvm.a $(LDLIBS)

# libseccomp builds the policies test_seccomp runs (scripts/deps.sh installs libseccomp-dev).
$(BUILD)/tests/test_seccomp: LDLIBS += -lseccomp
# libbpf loads the objects into the kernel for test_kernel_verdicts (the kernel side of the comparison).
$(BUILD)/tests/test_kernel_verdicts: LDLIBS += -lbpf

$(BUILD)/bench/%: bench/%.c tests/unit/test_util.h $(BUILD)/libbpfvm.a
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -Isrc -o $@ $< $(BUILD)/libbpfvm.a $(LDLIBS)

# Fuzz targets double as corpus replayers (fuzz/replay.c provides main) so `make test` runs them.
$(BUILD)/fuzz/%-replay: fuzz/%.c fuzz/replay.c tests/unit/test_util.h $(BUILD)/libbpfvm.a
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -Isrc -o $@ $< fuzz/replay.c $(BUILD)/libbpfvm.a $(LDLIBS)

# BPF examples, compiled against libbpf's headers exactly as for the kernel.
BPF_CFLAGS := -O2 -g -target bpf -mcpu=v3 -I/usr/include/$(shell uname -m)-linux-gnu -Wall -Werror
$(BUILD)/examples/%.bpf.o: examples/%.bpf.c $(wildcard examples/*.h) | deps
	@mkdir -p $(dir $@)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@
# The old-style examples, with the same flags (tests/unit/test_examples.c strips their BTF and retypes
# their function symbols to imitate old clang).
$(BUILD)/examples/legacy/%.o: examples/legacy/%.c $(wildcard examples/legacy/*.h) | deps
	@mkdir -p $(dir $@)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@
examples: $(EX_OBJS) $(EX_LEGACY_OBJS) $(BUILD)/examples/hook_example $(BUILD)/examples/embed

# Host programs embedding bpfvm: a host-defined hook (runs $(BUILD)/examples/hook_prog.bpf.o), and the
# map/test-run shorthands on the firewall (tests/unit/test_install.c builds it again against an install).
$(BUILD)/examples/hook_example $(BUILD)/examples/embed: $(BUILD)/examples/%: examples/%.c $(BUILD)/libbpfvm.a
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -o $@ $< $(BUILD)/libbpfvm.a $(LDLIBS)

# Includes between folders follow the matrix in src/README.md (scripts/check-layers.sh).
check-layers:
	@scripts/check-layers.sh

test: check-layers deps all $(TEST_BINS) $(FUZZ_REPLAY)
	@$(MAKE) --no-print-directory asan-build
	@$(MAKE) --no-print-directory tsan-build
	@$(TSAN_ENV) tests/run_all.sh $(BUILD) build-asan build-tsan

# test_install checks what `make install` puts from the normal build; the sanitizer build adds nothing.
ASAN_TESTS := $(filter-out $(BUILD)/tests/test_install,$(TEST_BINS))
asan-build:
	@$(MAKE) --no-print-directory BUILD=build-asan CC=clang \
		CFLAGS="-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -DBPFVM_CHECKED" \
		build-asan/bpfvm $(ASAN_TESTS:$(BUILD)/%=build-asan/%) $(FUZZ_REPLAY:$(BUILD)/%=build-asan/%)

# The sanitizer build of every test and corpus replayer, run on its own.  It is also the checked build
# (-DBPFVM_CHECKED): the interpreter asserts its invariants (r10 unchanged, every access inside the run's
# memory) at each instruction, and so does the fuzz build.
asan: deps
	@$(MAKE) --no-print-directory asan-build
	@tests/run_all.sh build-asan

# ThreadSanitizer: the library, the CLI and every test that runs threads (its own or the library's
# bpf_timer thread), in build-tsan/.  A report fails the test binary (exitcode); tests/tsan.supp lists
# the races BPF semantics allow, each with its reason.  Build and run take about 30 s, so `make test`
# runs it too.
TSAN_TESTS := test_errmsg test_helpers test_lifetime test_live test_lpm test_maps test_objtab test_timers test_vm test_sandbox test_progarray
TSAN_ENV := TSAN_OPTIONS="halt_on_error=0 exitcode=66 second_deadlock_stack=1 suppressions=$(CURDIR)/tests/tsan.supp"
tsan: deps
	@$(MAKE) --no-print-directory tsan-build
	@$(TSAN_ENV) tests/run_all.sh build-tsan

tsan-build:
	@$(MAKE) --no-print-directory BUILD=build-tsan CC=clang \
		CFLAGS="-O1 -g -fsanitize=thread -fno-omit-frame-pointer" build-tsan/bpfvm $(TSAN_TESTS:%=build-tsan/tests/%)

# Every test binary and corpus replayer of the normal build under valgrind memcheck (tests/run_all.sh
# with VALGRIND set).  Children are traced too (the bpfvm CLI, through sh), except the programs in
# VALGRIND_SKIP, none of them ours.  tests/valgrind.supp: false reports on the kernel bpf() calls of the
# oracle tests.
VALGRIND_SKIP := clang* llvm-* ip tc script bpftool tcpdump python3* rm mkdir cp mv cat cmp diff grep sed head tail \
	sort wc tr od xxd uname timeout env make cc gcc ld install ln find pkg-config pkgconf readelf nm groff \
	troff grotty
comma := ,
empty :=
space := $(empty) $(empty)
VALGRIND_CMD := valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
	--suppressions=$(CURDIR)/tests/valgrind.supp --trace-children=yes --trace-children-skip=$(subst $(space),$(comma),$(strip $(foreach p,$(VALGRIND_SKIP),*/$(p) $(p))))
valgrind: deps all $(TEST_BINS) $(FUZZ_REPLAY)
	@VALGRIND="$(VALGRIND_CMD)" tests/run_all.sh $(BUILD)

# libFuzzer: the library instrumented (coverage + ASan + UBSan) in build-fuzz/, then each fuzz_<t> runs for
# FUZZ_SECONDS, seeded from fuzz/corpus/<t>; what it finds goes to build-fuzz/corpus/<t>, a crash to
# build-fuzz/crash-<t>-* (minimise it with -minimize_crash=1 and add it to fuzz/corpus/<t>).
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS := -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer \
	-DBPFVM_CHECKED
FUZZ_TARGETS := $(FUZZ_SRCS:fuzz/fuzz_%.c=%)
fuzz:
	@$(MAKE) --no-print-directory BUILD=build-fuzz CC=clang CFLAGS="$(FUZZ_CFLAGS)" fuzz-build
	@for t in $(FUZZ_TARGETS); do \
		mkdir -p build-fuzz/corpus/$$t; \
		echo "fuzz_$$t: $(FUZZ_SECONDS) s"; \
		build-fuzz/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			-artifact_prefix=build-fuzz/crash-$$t- build-fuzz/corpus/$$t fuzz/corpus/$$t || exit 1; \
	done

fuzz-build: $(FUZZ_TARGETS:%=$(BUILD)/fuzz/fuzz_%)

$(BUILD)/fuzz/fuzz_%: fuzz/fuzz_%.c tests/unit/test_util.h $(BUILD)/libbpfvm.a
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -fsanitize=fuzzer -Isrc -o $@ $< $(BUILD)/libbpfvm.a $(LDLIBS)

# Installs what was built (building it first): the CLI, the header, the static and shared library with
# its links, bpfvm.pc for pkg-config, the man pages and the license.  DESTDIR stages the tree elsewhere
# (packaging, tests/unit/test_install.c); the .pc file names the final PREFIX paths.
install: $(BUILD)/bpfvm $(BUILD)/libbpfvm.a $(BUILD)/libbpfvm.so.$(VERSION)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR) \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man3 $(DESTDIR)$(DOCDIR)
	install -m 755 $(BUILD)/bpfvm $(DESTDIR)$(BINDIR)/bpfvm
	install -m 644 include/bpfvm.h $(DESTDIR)$(INCLUDEDIR)/bpfvm.h
	install -m 644 $(BUILD)/libbpfvm.a $(DESTDIR)$(LIBDIR)/libbpfvm.a
	install -m 755 $(BUILD)/libbpfvm.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libbpfvm.so.$(VERSION)
	ln -sf libbpfvm.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf libbpfvm.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libbpfvm.so
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
		-e 's|@VERSION@|$(VERSION)|' bpfvm.pc.in >$(DESTDIR)$(PKGCONFIGDIR)/bpfvm.pc
	install -m 644 man/*.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 644 man/*.3 $(DESTDIR)$(MANDIR)/man3/
	install -m 644 LICENSE README.md $(DESTDIR)$(DOCDIR)/

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/bpfvm $(DESTDIR)$(INCLUDEDIR)/bpfvm.h $(DESTDIR)$(LIBDIR)/libbpfvm.a \
		$(DESTDIR)$(LIBDIR)/libbpfvm.so $(DESTDIR)$(LIBDIR)/$(SONAME) $(DESTDIR)$(LIBDIR)/libbpfvm.so.$(VERSION) \
		$(DESTDIR)$(PKGCONFIGDIR)/bpfvm.pc $(addprefix $(DESTDIR)$(MANDIR)/man1/,$(notdir $(wildcard man/*.1))) \
		$(addprefix $(DESTDIR)$(MANDIR)/man3/,$(notdir $(wildcard man/*.3)))
	rm -rf $(DESTDIR)$(DOCDIR)

demo: deps all
	@scripts/demo.sh $(BUILD)

bench: deps all $(BENCH_BINS)
	@for b in $(BENCH_BINS); do $$b || exit 1; done

clean:
	rm -rf build build-asan build-fuzz build-tsan

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
