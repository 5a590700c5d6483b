#!/usr/bin/env bash
# Rebuild every realworld/wasm/*.wasm from realworld/src with Debian's clang-19
# for wasm32-wasi, default flags (-O2 plus only the defines a program needs to
# build at all). `build.sh --native DIR` builds the same sources with the same
# flags for x86_64 Linux into DIR instead (used by expected.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$here/src

native=
out=$here/wasm
if [ "${1:-}" = --native ]; then
    native=1
    out=$(mkdir -p "$2" && cd "$2" && pwd)
fi

need=()
command -v clang-19 >/dev/null || need+=(clang-19)
if [ -z "$native" ]; then
    command -v wasm-ld-19 >/dev/null || need+=(lld-19)
    [ -e /usr/lib/wasm32-wasi/libc.a ] || need+=(wasi-libc)
    [ -e /usr/lib/llvm-19/lib/clang/19/lib/wasi/libclang_rt.builtins-wasm32.a ] || need+=(libclang-rt-19-dev-wasm32)
    [ -e /usr/lib/wasm32-wasi/libc++.a ] || need+=(libc++-19-dev-wasm32 libc++abi-19-dev-wasm32)
fi
if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi

if [ -n "$native" ]; then
    CC=(clang-19 -O2)
    CXX=(clang++-19 -O2)
    SIGNAL=()
else
    CC=(clang-19 --target=wasm32-wasi -O2)
    CXX=(clang++-19 --target=wasm32-wasi -O2)
    # wasi-libc hides signal() unless asked; the emulation is a library.
    SIGNAL=(-D_WASI_EMULATED_SIGNAL -lwasi-emulated-signal)
fi
mkdir -p "$out"
# Reproducible: no paths of this machine in the output.
CC+=(-ffile-prefix-map="$here"=.)
CXX+=(-ffile-prefix-map="$here"=.)

echo "lua (Lua 5.4.9 from lua-src, lua.c from Debian lua5.4 5.4.4)"
lua_files=()
for f in "$src"/lua/*.c; do
    case $(basename "$f") in luac.c) ;; *) lua_files+=("$f") ;; esac
done
"${CC[@]}" -I"$src/lua/wasi-shim" -include "$src/lua/lua_errors_fatal.h" "${SIGNAL[@]}" \
    "${lua_files[@]}" -lm -o "$out/lua${native:+}"$([ -z "$native" ] && echo .wasm)

echo "minigzip (zlib from libz-sys, test/minigzip.c from Debian zlib 1.2.13)"
# Z_HAVE_UNISTD_H: what zlib's own ./configure sets on any Unix (zconf.h then includes unistd.h).
"${CC[@]}" -DZ_HAVE_UNISTD_H -I"$src/zlib" "$src"/zlib/*.c "$src"/zlib-test/minigzip.c -o "$out/minigzip"$([ -z "$native" ] && echo .wasm)

echo "zlib-example (zlib from libz-sys, test/example.c from Debian zlib 1.2.13: zlib's own API test)"
"${CC[@]}" -DZ_HAVE_UNISTD_H -I"$src/zlib" "$src"/zlib/*.c "$src"/zlib-test/example.c -o "$out/zlib-example"$([ -z "$native" ] && echo .wasm)

echo "bzip2 (bzip2 1.0.8 from bzip2-sys)"
# _FILE_OFFSET_BITS=64 as bzip2's Makefile. On WASI: bzip2.c includes
# <sys/times.h> (never calls times()), which wasi-libc guards behind the clock
# emulation; WASI has no file modes or owners, so the two calls that copy them
# to an output file (never reached for stdin/stdout) become no-ops.
BZIP2_WASI=()
[ -z "$native" ] && BZIP2_WASI=(-D_WASI_EMULATED_PROCESS_CLOCKS -lwasi-emulated-process-clocks
    '-Dfchmod(fd,mode)=0' '-Dfchown(fd,uid,gid)=0')
"${CC[@]}" -D_FILE_OFFSET_BITS=64 "${SIGNAL[@]}" "${BZIP2_WASI[@]}" "$src"/bzip2/*.c -o "$out/bzip2"$([ -z "$native" ] && echo .wasm)

echo "dbdriver (SQLite 3.54.1 amalgamation from libsqlite3-sys, driver written for this suite)"
# No defines: sqlite3.c itself turns off threads and extension loading for __wasi__.
"${CC[@]}" "$src"/sqlite/sqlite3.c "$src"/sqlite/dbdriver.c -lm -o "$out/dbdriver"$([ -z "$native" ] && echo .wasm)

echo "jsontestrunner (jsoncpp 1.9.5 from Debian libjsoncpp, C++ with libc++)"
# JSON_USE_EXCEPTION=0: jsoncpp's own option (include/json/config.h) for builds
# without C++ exceptions, which wasm32-wasi's libc++abi lacks (no __cxa_throw):
# an error then prints its message and aborts instead of throwing. The throws
# left (libc++'s own error paths) link to wasi-shim/cxa_throw_aborts.c, which
# aborts: see that file.
CXX_WASI=()
[ -z "$native" ] && CXX_WASI=(-x c "$src/jsoncpp/wasi-shim/cxa_throw_aborts.c") # last input: -x c applies to it alone
"${CXX[@]}" -DJSON_USE_EXCEPTION=0 -I"$src/jsoncpp/include" "$src"/jsoncpp/src/lib_json/*.cpp \
    "$src"/jsoncpp/src/jsontestrunner/main.cpp "${CXX_WASI[@]}" -o "$out/jsontestrunner"$([ -z "$native" ] && echo .wasm)
