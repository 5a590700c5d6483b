#!/usr/bin/env bash
# Seed the fuzz corpora from the project's own programs:
#   corpus/parse_text/     the text of tests/programs, tests/attacks and examples
#   corpus/decode_binary/  their binary encodings (those that parse), via `capjit encode`
#   corpus/verify_structured/  random blobs: its input is generator choices, not a
#                          file format, and a few KiB of them make a whole module
#                          (libFuzzer would otherwise start from tiny inputs)
#   corpus/wasm_diff/      random blobs too: wasm-smith's choices
#   corpus/jit_vs_interp/  random blobs of 0.5 to 4 KiB: the differential generator's
#                          choices (a program uses a few hundred bytes to ~1.5 KiB of
#                          them; the rest leaves libFuzzer room to grow it)
# Corpora are not committed (.gitignore); CI runs this script.
set -euo pipefail
cd "$(dirname "$0")"

text=corpus/parse_text
bin=corpus/decode_binary
mkdir -p "$text" "$bin" corpus/verify_structured corpus/wasm_diff corpus/jit_vs_interp

# One build of the CLI, then one process per file (no cargo start-up per file).
# CAPJIT=path/to/capjit uses an already built CLI instead.
if [ -z "${CAPJIT:-}" ]; then
    (cd .. && cargo build -q --locked --bin capjit)
    target="${CARGO_TARGET_DIR:-target}"
    case "$target" in
        /*) ;;
        *) target="$(cd .. && pwd)/$target" ;;
    esac
    CAPJIT="$target/debug/capjit"
fi
capjit="$CAPJIT"

n_text=0
n_bin=0
for dir in ../tests/programs ../tests/attacks ../examples; do
    prefix=$(basename "$dir")
    for f in "$dir"/*.cir; do
        [ -e "$f" ] || continue
        name="${prefix}_$(basename "$f" .cir)"
        cp "$f" "$text/$name.cir"
        n_text=$((n_text + 1))
        # Attack files that do not parse have no encoding; skip them.
        if "$capjit" encode "$f" -o "$bin/$name.cirb" 2>/dev/null; then
            n_bin=$((n_bin + 1))
        else
            rm -f "$bin/$name.cirb"
        fi
    done
done
n_gen=0
for i in $(seq 1 64); do
    f=corpus/verify_structured/random_$i
    [ -e "$f" ] || head -c 4096 /dev/urandom > "$f"
    n_gen=$((n_gen + 1))
done
for i in $(seq 1 64); do
    f=corpus/wasm_diff/random_$i
    [ -e "$f" ] || head -c 4096 /dev/urandom > "$f"
    n_gen=$((n_gen + 1))
done
for i in $(seq 1 48); do
    f=corpus/jit_vs_interp/random_$i
    [ -e "$f" ] || head -c $((512 * (1 + i % 8))) /dev/urandom > "$f"
    n_gen=$((n_gen + 1))
done
echo "seeded $n_text text inputs, $n_bin binary inputs, $n_gen generator inputs"
