-- An uncaught Lua error: lua prints "lua: MESSAGE" on stderr and exits with
-- status 1. In this suite's build the error is raised through
-- lua_errors_fatal.h (no longjmp), so this checks that path.
print("before the error")
local t = nil
print(t.field) -- attempt to index a nil value
print("never printed")
