-- Marks a delivered stream entry's job as active, counting the attempt.
-- KEYS: 1 job hash, 2 stream, 3 counts hash, 4 dead-letter stream
-- ARGV: 1 group, 2 entry id, 3 consumer, 4 now (ms), 5 job id, 6 ttl (s), 7 max reclaims,
--       8 key prefix
local K = queue_keys(ARGV[8])
local status = redis.call('HGET', KEYS[1], 'status')
if (not status) or status == 'completed' or status == 'failed' or status == 'cancelled' then
  -- Finished, cancelled (or expired) already: a duplicate or withdrawn delivery. Drop it.
  redis.call('XACK', KEYS[2], ARGV[1], ARGV[2])
  redis.call('XDEL', KEYS[2], ARGV[2])
  return {'skip', 0}
end
if status == 'active' and redis.call('HGET', KEYS[1], 'cancelRequested') == '1' then
  -- Taken over from a worker that stopped after a cancel was requested: it ends here.
  redis.call('XACK', KEYS[2], ARGV[1], ARGV[2])
  redis.call('XDEL', KEYS[2], ARGV[2])
  end_cancelled(K, KEYS[1], 'active', ARGV[4], ARGV[6])
  return {'cancelled', 0}
end
local attempts = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
if status == 'waiting' then
  redis.call('HINCRBY', KEYS[3], 'waiting', -1)
  redis.call('HINCRBY', KEYS[3], 'active', 1)
end
-- status 'active' here means the entry was reclaimed from a worker that stopped. A reclaim
-- is counted apart from failed attempts: it does not use up the job's retries.
if status == 'active' then
  local reclaims = redis.call('HINCRBY', KEYS[1], 'reclaims', 1)
  if reclaims > tonumber(ARGV[7]) then
    local message = 'the workers running the job stopped ' .. reclaims .. ' times without finishing it'
    redis.call('HSET', KEYS[1], 'status', 'failed', 'error', message, 'errorCode', 'worker_lost',
      'finishedAt', ARGV[4], 'updatedAt', ARGV[4])
    redis.call('XADD', KEYS[4], '*', 'jobId', ARGV[5], 'error', message, 'code', 'worker_lost',
      'attempts', attempts - 1)
    redis.call('HINCRBY', KEYS[3], 'active', -1)
    redis.call('HINCRBY', KEYS[3], 'failed', 1)
    redis.call('XACK', KEYS[2], ARGV[1], ARGV[2])
    redis.call('XDEL', KEYS[2], ARGV[2])
    redis.call('EXPIRE', KEYS[1], ARGV[6])
    return {'dead', attempts - 1}
  end
end
redis.call('HSET', KEYS[1], 'status', 'active', 'worker', ARGV[3], 'startedAt', ARGV[4],
  'updatedAt', ARGV[4], 'entryId', ARGV[2])
return {'run', attempts}
