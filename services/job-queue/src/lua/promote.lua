-- Moves due delayed jobs back to their organisations' waiting sets, repairs the feed window
-- and feeds. Run periodically by every worker; safe to run from many at once.
-- KEYS: 1 delayed zset, 2 stream, 3 counts hash
-- ARGV: 1 now (ms), 2 limit, 3 job key prefix (same hash tag as the keys), 4 key prefix
local K = queue_keys(ARGV[4])
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local moved = 0
for _, id in ipairs(due) do
  redis.call('ZREM', KEYS[1], id)
  local key = ARGV[3] .. id
  if redis.call('HGET', key, 'status') == 'delayed' then
    redis.call('HSET', key, 'status', 'waiting', 'updatedAt', ARGV[1])
    redis.call('HDEL', key, 'delayUntil')
    enqueue(K, key, id)
    redis.call('HINCRBY', KEYS[3], 'delayed', -1)
    redis.call('HINCRBY', KEYS[3], 'waiting', 1)
    moved = moved + 1
  end
end
if redis.call('SCARD', K.fed) >= FEED_WINDOW then
  repair_fed(K)
end
feed(K)
return moved
