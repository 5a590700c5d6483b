-- String building and the string library: concatenation through tables,
-- string.format, string.rep, gsub with patterns and captures, find, byte/char,
-- sorting strings. Deterministic (no pairs() order, no addresses, no time).
-- Written for this suite.
-- Usage: lua - N < strings.lua
local N = tonumber(arg and arg[1]) or 2000

local words = {}
local seed = 12345
local function rand(m)            -- Park-Miller LCG, integer arithmetic only
  seed = (seed * 16807) % 2147483647
  return seed % m
end
local letters = "abcdefghijklmnopqrstuvwxyz"
for i = 1, N do
  local len = 3 + rand(8)
  local t = {}
  for k = 1, len do
    local c = 1 + rand(26)
    t[k] = letters:sub(c, c)
  end
  words[i] = table.concat(t)
end

-- Build one long text through a buffer table.
local buf = {}
for i, w in ipairs(words) do
  buf[#buf + 1] = string.format("%05d:%s", i, w)
end
local text = table.concat(buf, " ")
print("text length", #text)

-- Pattern work: count vowels, upper-case words that start with a vowel.
local _, vowels = text:gsub("[aeiou]", "")
print("vowels", vowels)
local shouted = text:gsub("(%d+):([aeiou]%a*)", function(n, w) return n .. ":" .. w:upper() end)
local _, upper = shouted:gsub("%u+", "")
print("shouted words", upper)

-- Byte-level checksum of the transformed text.
local h = 0
for i = 1, #shouted do
  h = (h * 31 + shouted:byte(i)) % 1000000007
end
print("checksum", h)

-- Sort, deduplicate, and report a few.
table.sort(words)
local uniq, last = {}, nil
for _, w in ipairs(words) do
  if w ~= last then uniq[#uniq + 1] = w; last = w end
end
print("unique words", #uniq)
print("first", uniq[1], "last", uniq[#uniq])

-- Repetition and reversal, find with plain text.
local rep = string.rep("ab", N, ",")
print("rep length", #rep, "reversed head", rep:reverse():sub(1, 9))
local pos = text:find(words[1], 1, true)
print("first sorted word found at", pos)

-- Number formatting.
local parts = {}
for i = 1, 10 do
  parts[i] = string.format("%d|%5.2f|%x|%-6s|", i * i, i / 8, i * 255, words[i])
end
print(table.concat(parts))
print(string.format("%g %g %.3f %q", 1e300 * 10, 0.1 + 0.2, 2 / 3, "a\nb"))
