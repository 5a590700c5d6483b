-- Files through Lua's io and os libraries (fopen, fwrite, fseek, fread,
-- rename, remove in wasi-libc): write a file, append to it, read it back by
-- lines and by bytes, seek, rename, write a second file that stays.
-- Written for this suite.
local f = assert(io.open("numbers.txt", "w"))
for i = 1, 100 do f:write(i, " squared is ", i * i, "\n") end
f:close()

f = assert(io.open("numbers.txt", "a"))
f:write("end\n")
f:close()

local lines, sum = 0, 0
for line in io.lines("numbers.txt") do
  lines = lines + 1
  local sq = line:match("squared is (%d+)")
  if sq then sum = sum + tonumber(sq) end
end
print("lines", lines, "sum of squares", sum)

f = assert(io.open("numbers.txt", "rb"))
local size = f:seek("end")
f:seek("set", 14)
print("size", size, "at 14:", f:read(10))
f:close()

assert(os.rename("numbers.txt", "renamed.txt"))
print("old name opens:", io.open("numbers.txt", "r") ~= nil)
local g = assert(io.open("renamed.txt", "r"))
print("first line:", g:read("l"))
g:close()
assert(os.remove("renamed.txt"))
print("removed:", io.open("renamed.txt", "r") == nil)

local out = assert(io.open("report.txt", "w"))
out:write(string.format("%d lines, sum %d\n", lines, sum))
out:close()
