#!/usr/bin/env bash
# End-to-end wall-clock times of the big workloads: the release capjit's JIT
# (`capjit run`, compile time included) against the same sources built natively
# (build.sh --native). Checks on the way that both print the same bytes.
# Wasmtime is not installed here, so there is no Wasmtime column.
#
#   CAPJIT=path/to/capjit (default: target/release/capjit, built if missing)
#   NATIVE_DIR=DIR with NATIVE_PREBUILT=1 to reuse a native build
#   ./bench.sh [FILTER]   (only workloads whose name contains FILTER)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
capjit=${CAPJIT:-${CARGO_TARGET_DIR:-$root/target}/release/capjit}
if [ ! -x "$capjit" ]; then
    (cd "$root" && cargo build --release --locked --bin capjit)
fi
native=${NATIVE_DIR:-$(mktemp -d)}
if [ -z "${NATIVE_PREBUILT:-}" ]; then
    "$here/build.sh" --native "$native" >/dev/null 2>&1
fi
filter=${1:-}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
big=$here/src/sqlite/sqlite3.c # 9.5 MB of C text
"$native/minigzip" < "$big" > "$work/big.gz"
"$native/bzip2" -9 < "$big" > "$work/big.bz2"
cp "$here"/inputs/lua/*.lua "$work/"

now() { date +%s.%N; }
# run NAME STDIN PROGRAM ARGS...: native, then capjit, in $work as the working directory.
run() {
    local name=$1 stdin=$2 program=$3
    shift 3
    case $name in *"$filter"*) ;; *) return ;; esac
    local t0 t1 t2
    t0=$(now)
    (cd "$work" && "$native/$program" "$@" < "$stdin" > "$work/native.out")
    t1=$(now)
    (cd "$work" && "$capjit" run --dir "$work::." "$here/wasm/$program.wasm" "$@" < "$stdin" > "$work/capjit.out")
    t2=$(now)
    local same=same
    cmp -s "$work/native.out" "$work/capjit.out" || same=DIFFERENT
    awk -v n="$name" -v a="$t0" -v b="$t1" -v c="$t2" -v s="$same" \
        'BEGIN { printf "%-26s %9.2f %9.2f %7.2fx  %s\n", n, b - a, c - b, (c - b) / (b - a), s }'
}

# startup NAME PROGRAM ARGS...: a run that stops at once (usage or version), so
# its capjit time is loading, verifying, compiling and linking the module.
startup() {
    local name=$1 program=$2
    shift 2
    case $name in *"$filter"*) ;; *) return ;; esac
    local t0 t1
    t0=$(now)
    "$capjit" run "$here/wasm/$program.wasm" "$@" < /dev/null > /dev/null 2>&1 || true
    t1=$(now)
    awk -v n="$name" -v a="$t0" -v b="$t1" -v k="$(wc -c < "$here/wasm/$program.wasm")" \
        'BEGIN { printf "%-26s %9.2f s   (%d KB of Wasm)\n", n, b - a, k / 1024 }'
}

echo "capjit startup: load, verify, compile, link (the program stops at once)"
startup lua lua -v
startup minigzip minigzip -d
startup bzip2 bzip2 -d
startup dbdriver dbdriver
startup jsontestrunner jsontestrunner
echo
printf '%-26s %9s %9s %8s  %s\n' workload native/s capjit/s ratio output
run lua-fib-32 /dev/null lua fib.lua 32
run lua-nbody-500000 /dev/null lua nbody.lua 500000
run lua-spectralnorm-500 /dev/null lua spectralnorm.lua 500
run lua-binarytrees-15 /dev/null lua binarytrees.lua 15
run lua-fannkuchredux-10 /dev/null lua fannkuchredux.lua 10
run lua-strings-200000 /dev/null lua strings.lua 200000
run sqlite-100000 /dev/null dbdriver big.db 100000
run minigzip-9.5MB "$big" minigzip
run minigzip-d-9.5MB "$work/big.gz" minigzip -d
run bzip2-9-9.5MB "$big" bzip2 -9
run bzip2-d-9.5MB "$work/big.bz2" bzip2 -d
