dnl Build glue for `phpize && ./configure && make && make install` (what PIE
dnl runs in this directory). The extension is Rust: make runs cargo (which
dnl needs libclang for ext-php-rs' bindgen) against the PHP that phpize was
dnl run for, and puts the result in modules/tessera.so.

PHP_ARG_ENABLE([tessera],
  [whether to enable the tessera extension],
  [AS_HELP_STRING([--enable-tessera], [Enable tessera (built with cargo)])],
  [yes])

if test "$PHP_TESSERA" != "no"; then
  AC_PATH_PROG([CARGO], [cargo], [no], [$PATH:$HOME/.cargo/bin])
  if test "$CARGO" = "no"; then
    AC_MSG_ERROR([tessera is written in Rust: install cargo (https://rustup.rs or your distribution's package)])
  fi
  dnl The php-config given to configure (--with-php-config), as an absolute
  dnl path for ext-php-rs' build script.
  TESSERA_PHP_CONFIG=`command -v "$PHP_CONFIG" 2>/dev/null || echo "$PHP_CONFIG"`
  PHP_SUBST([CARGO])
  PHP_SUBST([TESSERA_PHP_CONFIG])
  dnl No C sources, so no PHP_NEW_EXTENSION: name the fragment explicitly.
  tessera_dir=`pwd`
  PHP_ADD_MAKEFILE_FRAGMENT([$tessera_dir/Makefile.frag], [$tessera_dir], [$tessera_dir])
fi
