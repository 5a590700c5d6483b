/* capjit realworld suite, not part of Lua: see lua_errors_fatal.h. */
#include <stdio.h>
#include <stdlib.h>

#include "lua.h"

void luai_fatal_throw(lua_State *L, int status) {
  const char *msg;
  if (status == LUA_YIELD)
    msg = "coroutine.yield is unavailable in this build (no longjmp)";
  else if ((msg = lua_tostring(L, -1)) == NULL)
    msg = "(error object is not a string)";
  fflush(stdout);
  fprintf(stderr, "lua: %s\n", msg);
  fflush(stderr);
  exit(EXIT_FAILURE);
}
