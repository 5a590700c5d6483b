#!/usr/bin/env bash
# Capture expected/ from native builds: build every program from the same
# sources with the same flags for x86_64 Linux (build.sh --native), run each
# workload of workloads.tsv as tests/realworld.rs runs it under capjit (fresh
# scratch directory as the working directory, its files copied in, stdin from
# inputs/), and write its standard output to expected/NAME.out and each file
# it must write to expected/NAME.FILE. Checks the exit status against the
# manifest. Also writes inputs/zlib/sample2.ref.gz (the decompression input)
# with the native minigzip.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# NATIVE_DIR=DIR: build into DIR (kept); NATIVE_PREBUILT=1: DIR already holds the build.
bin=${NATIVE_DIR:-$(mktemp -d)}
if [ -z "${NATIVE_PREBUILT:-}" ]; then
    "$here/build.sh" --native "$bin" >/dev/null 2>&1 || "$here/build.sh" --native "$bin"
fi

mkdir -p "$here/inputs/zlib" "$here/expected"
"$bin/minigzip" < "$here/inputs/bzip2/sample2.ref" > "$here/inputs/zlib/sample2.ref.gz"
"$bin/minigzip" -d < "$here/inputs/zlib/sample2.ref.gz" | cmp - "$here/inputs/bzip2/sample2.ref"
rm -f "$here"/expected/*

while IFS=$'\t' read -r name program jit interp code stdin files outfiles args; do
    case $name in '#'*|'') continue ;; esac
    scratch=$(mktemp -d)
    if [ "$files" != - ]; then
        IFS=, read -ra fs <<<"$files"
        for f in "${fs[@]}"; do cp "$here/inputs/$f" "$scratch/"; done
    fi
    in=/dev/null
    [ "$stdin" != - ] && in=$here/inputs/$stdin
    read -ra argv <<<"$args"
    set +e
    (cd "$scratch" && "$bin/$program" "${argv[@]}" < "$in" > "$here/expected/$name.out")
    status=$?
    set -e
    if [ "$status" != "$code" ]; then
        echo "$name: exit status $status, manifest says $code" >&2
        exit 1
    fi
    if [ "$name" = zlib-example ]; then
        # The one line of any workload that differs by design: zlib's example
        # prints zlibCompileFlags(), whose low byte encodes the sizes of uInt,
        # uLong, pointers and z_off_t (2 bits each): 0xa9 on x86_64 (64-bit
        # uLong and pointers), 0x95 on wasm32 (32-bit). Expect wasm32's.
        sed -i 's/^\(zlib version .*, compile flags = \)0xa9$/\10x95/' "$here/expected/$name.out"
        grep -q 'compile flags = 0x95$' "$here/expected/$name.out"
    fi
    if [ "$outfiles" != - ]; then
        IFS=, read -ra fs <<<"$outfiles"
        for f in "${fs[@]}"; do cp "$scratch/$f" "$here/expected/$name.$f"; done
    fi
    rm -rf "$scratch"
    echo "$name: $(wc -c < "$here/expected/$name.out") bytes, exit $status"
done < "$here/workloads.tsv"
