#!/bin/sh
# Regenerate the build system (configure, Makefile.in, libtool files).
set -e
cd "$(dirname "$0")"
autoreconf -fi
