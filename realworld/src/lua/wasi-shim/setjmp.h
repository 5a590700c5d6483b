/*
 * Empty stand-in for <setjmp.h> (capjit realworld suite, not part of Lua).
 *
 * Debian bookworm's wasi-libc (0.0~git20220510) ships no <setjmp.h>: plain
 * WASI has no way to unwind the Wasm stack. Lua's ldo.c includes it
 * unconditionally, but with lua_errors_fatal.h (passed with -include) Lua no
 * longer calls setjmp or longjmp, so the include only has to succeed.
 */
