# hull's entry points. `make demo` and `make check` are the two commands the
# README gives; everything else is a step of theirs.
#
#   build/        optimised build: the demo and the benchmarks use it
#   build-check/  AddressSanitizer + UndefinedBehaviorSanitizer build: the tests
#   build-fuzz/   clang libFuzzer targets, replayed and fuzzed by `make check`
#
# A build folder is set up when it holds no valid meson build (a first run,
# or one whose set-up failed half-way); meson and ninja keep it current after
# that. The release build needs only `scripts/deps`; the test builds need
# `scripts/deps --test` and insist on it (-Dtests=enabled).

PYTEST := /usr/bin/python3 -m pytest
, := ,
FUZZ_SECONDS ?= 10
PREFIX ?= /usr/local

# setup DIR,MESON-OPTIONS[,ENV]: set DIR up unless it is a valid build.
setup = @if [ ! -f $(1)/meson-private/coredata.dat ] || [ ! -f $(1)/build.ninja ]; then \
	rm -rf $(1) && $(3) meson setup $(1) $(2); fi

.PHONY: all deps test-deps build build-check build-fuzz check format-check unit fuzz integration demo install bench clean platform

all: build

deps:
	scripts/deps

test-deps:
	scripts/deps --test

build: deps
	$(call setup,build,--buildtype=release --prefix=$(PREFIX))
	ninja -C build

build-check: test-deps
	$(call setup,build-check,-Db_sanitize=address$(,)undefined -Db_lundef=false -Dtests=enabled)
	ninja -C build-check

build-fuzz: test-deps
	$(call setup,build-fuzz,-Dfuzz=true -Dtests=enabled,CC=clang)
	ninja -C build-fuzz

# Commands to $(PREFIX)/sbin, hull-supervisor, hull-vmm and the guest tools
# to $(PREFIX)/libexec/hull; DESTDIR is honoured.
install: build
	meson configure build -Dprefix=$(PREFIX)
	DESTDIR="$(DESTDIR)" meson install -C build

# The platform image (docs/hull-platform.md): build-platform/hull-VERSION.iso,
# its .sha256 and pxe/. PLATFORM_VERSION picks the version (default: now).
platform: build
	scripts/deps --platform
	scripts/mkplatform -o $(CURDIR)/build-platform $(if $(PLATFORM_VERSION),-V $(PLATFORM_VERSION))

format-check: test-deps
	scripts/format-check

# A cmocka skip() fails the target too (tests/integration/skips.py).
unit: build-check
	meson test -C build-check --suite unit --print-errorlogs
	/usr/bin/python3 tests/integration/skips.py --check-unit-log \
		build-check/meson-logs/testlog.txt

fuzz: build-fuzz
	scripts/fuzz build-fuzz $(FUZZ_SECONDS)

integration: build-check
	HULL_BUILD=$(CURDIR)/build-check $(PYTEST) -v tests/integration

check: format-check unit fuzz integration

demo: build
	scripts/demo

bench: build test-deps
	bench/run

clean:
	rm -rf build build-check build-fuzz build-platform
