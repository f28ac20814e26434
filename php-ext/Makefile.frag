# Appended by phpize's configure (see config.m4). `all` and `install` of the
# generated Makefile pick up modules/tessera.so.
TESSERA_TARGET = $(builddir)/target-pie

all: modules/tessera.so
build-modules: modules/tessera.so

# Always asks cargo, which rebuilds only what changed (in this crate or the core).
.PHONY: modules/tessera.so
modules/tessera.so:
	cd $(srcdir) && PHP="$(PHP_EXECUTABLE)" PHP_CONFIG="$(TESSERA_PHP_CONFIG)" CARGO_TARGET_DIR="$(TESSERA_TARGET)" $(CARGO) build --release -p tessera-php
	mkdir -p modules
	cp $(TESSERA_TARGET)/release/libtessera.so modules/tessera.so

clean-tessera:
	rm -rf modules/tessera.so $(TESSERA_TARGET)

clean: clean-tessera
