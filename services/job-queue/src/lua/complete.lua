-- Stores a job's result once: a second completion (the job ran twice) changes nothing. When a
-- cancel was requested before this runs, the job ends cancelled instead: whichever of the
-- two scripts runs first decides the one outcome.
-- KEYS: 1 job hash, 2 stream, 3 counts hash, 4 delayed zset
-- ARGV: 1 group, 2 entry id, 3 now (ms), 4 result JSON, 5 ttl (s), 6 job id,
--       7 the summary JSON the completed event carried ('' for none), 8 key prefix
-- Returns 1 stored, 0 already finished, 2 cancelled.
local K = queue_keys(ARGV[8])
redis.call('XACK', KEYS[2], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[2], ARGV[2])
local status = redis.call('HGET', KEYS[1], 'status')
if status == 'cancelled' then
  return 2
end
if (not status) or status == 'completed' or status == 'failed' then
  return 0
end
if status == 'active' and redis.call('HGET', KEYS[1], 'cancelRequested') == '1' then
  end_cancelled(K, KEYS[1], 'active', ARGV[3], ARGV[5])
  feed(K)
  return 2
end
if status == 'active' then
  release(K, KEYS[1])
  redis.call('HINCRBY', KEYS[3], 'active', -1)
elseif status == 'delayed' then
  redis.call('ZREM', KEYS[4], ARGV[6])
  redis.call('HINCRBY', KEYS[3], 'delayed', -1)
elseif status == 'waiting' then
  leave_waiting(K, KEYS[1], ARGV[6])
  redis.call('HINCRBY', KEYS[3], 'waiting', -1)
end
redis.call('HSET', KEYS[1], 'status', 'completed', 'result', ARGV[4], 'progress', '100',
  'finishedAt', ARGV[3], 'updatedAt', ARGV[3])
if ARGV[7] and ARGV[7] ~= '' then
  redis.call('HSET', KEYS[1], 'summary', ARGV[7])
end
redis.call('HINCRBY', KEYS[3], 'completed', 1)
redis.call('EXPIRE', KEYS[1], ARGV[5])
feed(K)
return 1
