#!/usr/bin/env bash
# Builds the corpus objects from their C sources, with the recorded compiler:
# clang-14 --version: Debian clang version 14.0.6
#
# usage: bash build.sh [OUTPUT_DIR]     (default: this directory)
#
# For each X.c writes X.o and X.dis (llvm-objdump's symbol table, disassembly and
# relocations: an independent record of which symbol each lddw and call is relocated
# against). Deterministic: sources are compiled from this directory by relative path and
# the DWARF compilation directory is ".", so the objects do not depend on where the
# repository or the output directory is.
set -euo pipefail

CLANG_VERSION="Debian clang version 14.0.6"
CLANG=${CLANG:-clang-14}
OBJDUMP=${OBJDUMP:-llvm-objdump-14}
if ! command -v "$OBJDUMP" >/dev/null 2>&1; then
	OBJDUMP=/usr/lib/llvm-14/bin/llvm-objdump
fi

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${1:-$here}
mkdir -p "$out"
out=$(cd "$out" && pwd)

actual=$("$CLANG" --version | head -n 1)
echo "$actual"
if [ "$actual" != "$CLANG_VERSION" ]; then
	echo "warning: recorded compiler is '$CLANG_VERSION'; objects will differ" >&2
fi

cd "$here"
for src in *.c; do
	obj=${src%.c}.o
	"$CLANG" -target bpf -O2 -g -fdebug-compilation-dir=. -c "$src" -o "$out/$obj"
	(cd "$out" && "$OBJDUMP" -t -dr --no-show-raw-insn "$obj" >"${src%.c}.dis")
	echo "built $obj"
done
