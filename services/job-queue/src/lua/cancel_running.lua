-- Ends a running job as cancelled (its worker stopped it). Nothing changes, and 0 is
-- returned, when it is no longer running (it finished another way first).
-- KEYS: 1 job hash
-- ARGV: 1 key prefix, 2 group, 3 entry id, 4 now (ms), 5 ttl (s), 6 job id
local K = queue_keys(ARGV[1])
redis.call('XACK', K.stream, ARGV[2], ARGV[3])
redis.call('XDEL', K.stream, ARGV[3])
if redis.call('HGET', KEYS[1], 'status') ~= 'active' then
  return 0
end
end_cancelled(K, KEYS[1], 'active', ARGV[4], ARGV[5])
feed(K)
return 1
