# Thin wrapper over CMake: deps, build, test, run, bench, fuzz.
# The README's two commands are `make run` and `make test`.

JOBS      ?= $(shell nproc 2>/dev/null || echo 2)
BUILD     ?= build
ASAN_DIR  ?= build-asan
FUZZ_DIR  ?= build-fuzz
FUZZ_SECS ?= 10
# make test fuzzes every target for this long (make fuzz for FUZZ_SECS).
TEST_FUZZ_SECS ?= 4
# ctest runs two more tests than cores: the e2e shards (started first) mostly wait
# on servers and clocks, and the unit tests run beside them.
TEST_JOBS ?= $(shell echo $$(( $(JOBS) + 2 )))
DEMO      ?= var/demo
PY        := /usr/bin/python3

# Debian 12 packages the project builds, tests and benchmarks with.
DEB_PKGS := build-essential cmake pkg-config libssl-dev openssl libuv1-dev \
  libmsgpack-dev liblmdb-dev lmdb-utils libhttp-parser-dev libjansson-dev \
  libinih-dev libcmocka-dev clang libclang-rt-14-dev wrk nginx-light \
  python3 python3-pytest python3-msgpack python3-cryptography \
  postgresql libpq-dev \
  debhelper dpkg-dev help2man systemd chromium chromium-driver python3-selenium \
  openjdk-17-jdk-headless junit5 libservlet-api-java softhsm2 opensc libp11-kit-dev

CMAKE_FLAGS := -DLIC_WERROR=ON

PREFIX    ?= /usr/local
DESTDIR   ?=
DEB_OUT   ?= .
DEB_WORK  ?= $(BUILD)/deb

.PHONY: all deps build test unit asan fuzz fuzz-long run bench lint clean install deb

all: build

deps:
	@missing=$$(for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; \
	done); \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
	  echo "installing: $$missing"; \
	  (apt-get update -qq || true) && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	else \
	  echo "missing Debian packages; run:"; \
	  echo "  sudo apt-get install -y $$missing"; exit 1; \
	fi

# The tools land side by side in $(BUILD)/bin/ (licgen, licctl, licsrv).
build: deps
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)
	@echo "built: $(BUILD)/bin/licgen $(BUILD)/bin/licctl $(BUILD)/bin/licsrv"

# Unit + end-to-end in the normal tree, again under ASan+UBSan, then every fuzz
# target for a bounded time, and the banned-function check. The ASan tree
# builds at nice 19 while the normal tree's tests run: they mostly wait on
# servers and clocks (about 1.2 of 2 cores busy), and the build takes what
# they leave.
test: build lint
	cmake -S . -B $(ASAN_DIR) $(CMAKE_FLAGS) -DLIC_ASAN=ON -DLIC_UBSAN=ON \
	  -DCMAKE_BUILD_TYPE=Debug >/dev/null
	@(nice -n 19 cmake --build $(ASAN_DIR) -j $(JOBS) >$(ASAN_DIR)/build.log 2>&1; \
	  echo $$? >$(ASAN_DIR)/build.rc) & bg=$$!; \
	  (cd $(BUILD) && ctest --output-on-failure -j $(TEST_JOBS)); rc=$$?; \
	  wait $$bg; if [ "$$(cat $(ASAN_DIR)/build.rc)" != 0 ]; then \
	    tail -40 $(ASAN_DIR)/build.log; echo "the ASan+UBSan build failed"; exit 1; fi; \
	  exit $$rc
	cmake --build $(ASAN_DIR) -j $(JOBS)
	cd $(ASAN_DIR) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j $(TEST_JOBS)
	$(MAKE) --no-print-directory fuzz FUZZ_SECS=$(TEST_FUZZ_SECS)

unit: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) -E e2e

fuzz: deps
	CC=clang cmake -S . -B $(FUZZ_DIR) -DLIC_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
	cmake --build $(FUZZ_DIR) -j $(JOBS) --target \
	  $$(cd tests/fuzz && ls fuzz_*.c | sed 's/\.c$$//')
	@ls -d $(FUZZ_DIR)/tests/fuzz_* | xargs -n 1 -P $(JOBS) sh tests/fuzz/run_one.sh $(FUZZ_SECS)

fuzz-long:
	$(MAKE) fuzz FUZZ_SECS=600

# Banned in new code (STYLE.md §7).
lint:
	@if grep -nE '\b(strcpy|strcat|sprintf|vsprintf|gets|atoi|atol|rand)\s*\(' \
	    $$(git ls-files '*.c' '*.h' 2>/dev/null || find common licgen licsrv tests -name '*.[ch]') \
	    | grep -v 'snprintf\|vsnprintf'; then \
	  echo "lint: banned function (STYLE.md §7)"; exit 1; fi

# CMake's install rules (packaging/install.cmake) under PREFIX, staged in DESTDIR.
install: build
	cmake -S . -B $(BUILD) -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)
	DESTDIR="$(DESTDIR)" cmake --install $(BUILD)

# The Debian package, built the Debian way (debian/, debhelper) from a copy of
# the tree (what git tracks plus new files) so nothing lands beside it;
# licsrv_VERSION_ARCH.deb is copied to DEB_OUT.
deb: deps
	rm -rf $(DEB_WORK) && mkdir -p $(DEB_WORK)/src
	@if git rev-parse --git-dir >/dev/null 2>&1; then \
	  git ls-files -co --exclude-standard | while IFS= read -r f; do [ -e "$$f" ] && printf '%s\n' "$$f"; done; \
	else find . -path './build*' -prune -o -path './var' -prune -o -type f -print; fi \
	  | tar -cf - -T - | tar -xf - -C $(DEB_WORK)/src
	cd $(DEB_WORK)/src && DEB_BUILD_OPTIONS="nocheck noddebs parallel=$(JOBS)" \
	  dpkg-buildpackage -us -uc -b >../build.log 2>&1 || { tail -40 $(DEB_WORK)/build.log; exit 1; }
	cp $(DEB_WORK)/licsrv_*.deb $(DEB_OUT)/
	@ls $(DEB_OUT)/licsrv_*.deb

# make run PORT=8470 ADMIN_PORT=8471 when 7470/7471 are taken.
PORT       ?= 7470
ADMIN_PORT ?= 7471
run: build
	@PORT=$(PORT) ADMIN_PORT=$(ADMIN_PORT) sh tests/demo.sh "$(BUILD)" "$(DEMO)"

bench: build
	@sh tests/bench/run.sh "$(BUILD)"

clean:
	rm -rf $(BUILD) $(ASAN_DIR) $(FUZZ_DIR)
