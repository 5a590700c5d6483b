/*
 * capjit realworld suite, not part of jsoncpp: linked into the wasm32-wasi
 * build only.
 *
 * clang++ for wasm32-wasi compiles C++ with exceptions on by default (a `throw`
 * becomes a call to __cxa_allocate_exception and __cxa_throw; `catch` blocks
 * are dropped), but Debian's libc++abi for wasm32-wasi is built without them,
 * so any program whose code or libc++ headers can throw fails to link. With
 * jsoncpp built as JSON_USE_EXCEPTION=0 the throws left are libc++'s own error
 * paths (std::length_error, std::bad_alloc, ...), never taken by a run that
 * succeeds; here they stop the program as an uncaught exception would.
 */
#include <stdio.h>
#include <stdlib.h>

void *__cxa_allocate_exception(unsigned long size) {
  (void)size;
  fputs("terminate called: C++ exception thrown (no exception support in this wasm32-wasi build)\n", stderr);
  abort();
}

void __cxa_throw(void *thrown, void *type, void (*destructor)(void *)) {
  (void)thrown, (void)type, (void)destructor;
  abort();
}
