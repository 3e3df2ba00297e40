-- ever_trimmed(key, length): whether entries were ever removed from history stream `key` of
-- `length` entries: entries ever added beyond those still there were trimmed or deleted
-- (trimming does not move `max-deleted-entry-id`, only XDEL does). nil when Redis does not
-- say (before Redis 7).
local function ever_trimmed(key, length)
  local info = redis.call('XINFO', 'STREAM', key)
  for i = 1, #info - 1, 2 do
    if info[i] == 'entries-added' then
      return tonumber(info[i + 1]) > length
    end
  end
  return nil
end
