-- A channel's story so far, for a new subscriber: its history from the start, and whether
-- that history still reaches the start (no entry was ever trimmed or deleted).
-- KEYS: 1 history stream
-- ARGV: 1 most entries returned (a longer history counts as not reaching the start)
-- Returns {exists (0/1), reaches the start (0/1), entries}; when the history does not reach
-- the start, entries holds only the newest one.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {0, 1, {}}
end
local complete = 1
local length = redis.call('XLEN', KEYS[1])
if length > tonumber(ARGV[1]) then
  complete = 0
else
  -- Entries ever added beyond those still there were trimmed or deleted (Redis 7).
  local info = redis.call('XINFO', 'STREAM', KEYS[1])
  for i = 1, #info - 1, 2 do
    if info[i] == 'entries-added' then
      if tonumber(info[i + 1]) > length then
        complete = 0
      end
      break
    end
  end
end
if complete == 0 then
  return {1, 0, redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)}
end
return {1, 1, redis.call('XRANGE', KEYS[1], '-', '+')}
