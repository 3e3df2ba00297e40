-- story(key, max): a channel's story so far, for a new subscriber: its history from the start,
-- and whether that history still reaches the start (no entry was ever trimmed or deleted).
-- A history longer than `max` entries counts as not reaching the start.
-- Returns {exists (0/1), reaches the start (0/1), entries}; when the history does not reach
-- the start, entries holds only the newest one.
local function story(key, max)
  if redis.call('EXISTS', key) == 0 then
    return {0, 1, {}}
  end
  local length = redis.call('XLEN', key)
  local complete = 1
  if length > tonumber(max) then
    complete = 0
  elseif ever_trimmed(key, length) then
    complete = 0
  end
  if complete == 0 then
    return {1, 0, redis.call('XREVRANGE', key, '+', '-', 'COUNT', 1)}
  end
  return {1, 1, redis.call('XRANGE', key, '-', '+')}
end
