-- wrk: sends the pre-signed request paths in $WRK_PATHS, each once; thread k of n takes
-- every n-th line starting at k, so no two requests share a nonce.
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  paths = {}
  local n, i = #threads, 0
  local total = tonumber(os.getenv("WRK_THREADS") or "2")
  for line in io.lines(os.getenv("WRK_PATHS")) do
    if i % total == id then paths[#paths + 1] = line end
    i = i + 1
  end
  next_path = 1
end

function request()
  local p = paths[next_path]
  next_path = next_path + 1
  if p == nil then p = paths[1] end
  return wrk.format("GET", p)
end
