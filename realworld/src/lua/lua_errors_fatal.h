/*
 * capjit realworld suite, not part of Lua: passed to every Lua file with
 * `-include lua_errors_fatal.h`.
 *
 * Lua raises errors with longjmp (ldo.c, LUAI_THROW / LUAI_TRY), which plain
 * WASI lacks. ldo.c lets a build replace both macros (it only defines them
 * `#if !defined(LUAI_THROW)`); here a "try" just runs its block and a "throw"
 * prints the error and exits with status 1, as lua.c does for an uncaught
 * error. What is lost: pcall/xpcall cannot catch an error (the program stops
 * instead), and coroutine.yield from Lua code (a throw of LUA_YIELD) stops the
 * program too. Programs that neither catch errors nor use coroutines run
 * exactly as with a normal build.
 */
#ifndef LUA_ERRORS_FATAL_H
#define LUA_ERRORS_FATAL_H

struct lua_State;
void luai_fatal_throw(struct lua_State *L, int status) __attribute__((noreturn));

#define LUAI_THROW(L, c) luai_fatal_throw(L, (c)->status)
#define LUAI_TRY(L, c, a) { a }
#define luai_jmpbuf int /* unused */

#endif
