-- replay(key, start, max, all): what a resuming stream missed on one channel, in one call.
-- start: the first id returned ('(' before an id leaves that id out); max: most entries;
-- all ('1'): the whole history, and whether any of it was ever trimmed (unknown counts as
-- trimmed, so a client refetches rather than misses something).
-- Returns {oldest id in the history ('' when there is none), entries, ever trimmed (0/1)}.
local function replay(key, start, max, all)
  if all == '1' then
    local entries = redis.call('XRANGE', key, '-', '+', 'COUNT', max)
    if #entries == 0 then
      return {'', {}, 0}
    end
    local trimmed = 1
    if ever_trimmed(key, redis.call('XLEN', key)) == false then
      trimmed = 0
    end
    return {entries[1][1], entries, trimmed}
  end
  local oldest = redis.call('XRANGE', key, '-', '+', 'COUNT', 1)[1]
  if not oldest then
    return {'', {}, 0}
  end
  return {oldest[1], redis.call('XRANGE', key, start, '+', 'COUNT', max), 0}
end
