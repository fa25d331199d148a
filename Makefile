# edgehubd: the two entry points are `make demo` and `make test` (see README.md).
SHELL := /bin/bash
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
PREFIX ?= /usr/local
CMAKE_COMMON := -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo

.PHONY: demo test build install clean deps package

deps:
	@scripts/install-deps.sh

build: deps
	cmake -S . -B $(BUILD_DIR)/release $(CMAKE_COMMON) -DCMAKE_INSTALL_PREFIX=$(PREFIX)
	cmake --build $(BUILD_DIR)/release -j $(JOBS)

demo: build
	@scripts/demo.sh $(BUILD_DIR)/release

test: deps
	@scripts/test.sh $(BUILD_DIR)

install: build
	cmake --install $(BUILD_DIR)/release

# The .deb (cmake/EdgehubPackaging.cmake), from a build without tests and benchmarks.
package: deps
	cmake -S . -B $(BUILD_DIR)/package $(CMAKE_COMMON) -DEDGEHUB_TESTS=OFF -DEDGEHUB_BENCH=OFF
	cmake --build $(BUILD_DIR)/package -j $(JOBS) --target package
	@ls -l $(BUILD_DIR)/package/*.deb

clean:
	rm -rf $(BUILD_DIR) demo
