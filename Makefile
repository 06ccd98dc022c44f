# hull's entry points. `make demo` and `make check` are the two commands the
# README gives; everything else is a step of theirs.
#
#   build/        optimised build: the demo and the benchmarks use it
#   build-check/  AddressSanitizer + UndefinedBehaviorSanitizer build: the tests
#   build-fuzz/   clang libFuzzer targets, replayed and fuzzed by `make check`

PYTEST := /usr/bin/python3 -m pytest
FUZZ_SECONDS ?= 10

.PHONY: all deps test-deps build build-check build-fuzz check format-check unit fuzz integration demo bench clean

all: build

deps:
	scripts/deps

test-deps:
	scripts/deps --test

build: deps
	@[ -d build ] || meson setup build --buildtype=release
	meson setup --reconfigure build >/dev/null
	ninja -C build

build-check: test-deps
	@[ -d build-check ] || meson setup build-check -Db_sanitize=address,undefined -Db_lundef=false
	meson setup --reconfigure build-check >/dev/null
	ninja -C build-check

build-fuzz: test-deps
	@[ -d build-fuzz ] || CC=clang meson setup build-fuzz -Dfuzz=true
	CC=clang meson setup --reconfigure build-fuzz >/dev/null
	ninja -C build-fuzz

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
	rm -rf build build-check build-fuzz
