-- Keeps an uploaded file unless its organisation's uploads still waiting for analysis would
-- exceed the cap. Files leave by themselves (deleted once analysed or failed for good, or
-- expired): entries whose file is gone are dropped from the usage hash here.
-- KEYS: 1 file key, 2 organisation's usage hash (job id -> bytes)
-- ARGV: 1 job id, 2 ttl (s), 3 cap (bytes), 4 file key prefix, 5 the file
local size = string.len(ARGV[5])
local pending = 0
local entries = redis.call('HGETALL', KEYS[2])
for i = 1, #entries, 2 do
  if redis.call('EXISTS', ARGV[4] .. entries[i]) == 1 then
    pending = pending + tonumber(entries[i + 1])
  else
    redis.call('HDEL', KEYS[2], entries[i])
  end
end
if pending + size > tonumber(ARGV[3]) then
  return {0, pending}
end
redis.call('SET', KEYS[1], ARGV[5], 'EX', ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], size)
redis.call('EXPIRE', KEYS[2], ARGV[2])
return {1, pending + size}
