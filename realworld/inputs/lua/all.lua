-- Runs every benchmark of this directory once with a small size: the Lua
-- workload of `cargo test` (one run of the interpreter instead of six).
-- Usage: lua all.lua   (in a directory holding the benchmark files)
local runs = {
  { "fib.lua", 24 },
  { "nbody.lua", 1000 },
  { "spectralnorm.lua", 40 },
  { "binarytrees.lua", 8 },
  { "fannkuchredux.lua", 7 },
  { "strings.lua", 2000 },
}
for _, r in ipairs(runs) do
  print("== " .. r[1] .. " " .. r[2])
  arg = { [0] = r[1], tostring(r[2]) }
  dofile(r[1])
end
