-- Records a failed attempt: schedules a retry, or dead-letters the job after its last attempt.
-- Attempts taken over from stopped workers (reclaims) do not count against the retries.
-- KEYS: 1 job hash, 2 stream, 3 counts hash, 4 delayed zset, 5 dead-letter stream
-- ARGV: 1 group, 2 entry id, 3 now (ms), 4 error, 5 ttl (s), 6 permanent (0/1),
--       7 job id, 8 retry due time (ms), 9 error code, 10 key prefix
-- A job whose cancel was requested while it ran ends cancelled here, not retried and not
-- dead-lettered: the cancel is what the caller asked for last.
local K = queue_keys(ARGV[10])
redis.call('XACK', KEYS[2], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[2], ARGV[2])
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= 'active' then
  return {'ignored', 0}
end
local attempts = tonumber(redis.call('HGET', KEYS[1], 'attempts') or '1')
if redis.call('HGET', KEYS[1], 'cancelRequested') == '1' then
  redis.call('HSET', KEYS[1], 'error', ARGV[4], 'errorCode', ARGV[9])
  end_cancelled(K, KEYS[1], 'active', ARGV[3], ARGV[5])
  feed(K)
  return {'cancelled', attempts}
end
release(K, KEYS[1])
feed(K)
local reclaims = tonumber(redis.call('HGET', KEYS[1], 'reclaims') or '0')
local max = tonumber(redis.call('HGET', KEYS[1], 'maxAttempts') or '1')
redis.call('HINCRBY', KEYS[3], 'active', -1)
if ARGV[6] == '0' and attempts - reclaims < max then
  redis.call('HSET', KEYS[1], 'status', 'delayed', 'error', ARGV[4], 'errorCode', ARGV[9],
    'delayUntil', ARGV[8], 'updatedAt', ARGV[3])
  redis.call('ZADD', KEYS[4], ARGV[8], ARGV[7])
  redis.call('HINCRBY', KEYS[3], 'delayed', 1)
  return {'retry', attempts}
end
redis.call('HSET', KEYS[1], 'status', 'failed', 'error', ARGV[4], 'errorCode', ARGV[9],
  'finishedAt', ARGV[3], 'updatedAt', ARGV[3])
dead_letter(K, KEYS[1], ARGV[7], ARGV[4], ARGV[9], attempts)
redis.call('HINCRBY', KEYS[3], 'failed', 1)
redis.call('EXPIRE', KEYS[1], ARGV[5])
return {'dead', attempts}
