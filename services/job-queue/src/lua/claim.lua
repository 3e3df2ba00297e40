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
  feed(K)
  return {'cancelled', 0}
end
if status == 'waiting' then
  redis.call('SREM', K.fed, ARGV[5])
  if redis.call('HGET', K.meta, 'paused') == '1' then
    -- Delivered while the queue is paused: back to its organisation's set, at its place.
    redis.call('XACK', KEYS[2], ARGV[1], ARGV[2])
    redis.call('XDEL', KEYS[2], ARGV[2])
    redis.call('HDEL', KEYS[1], 'entryId')
    release(K, KEYS[1])
    enqueue(K, KEYS[1], ARGV[5])
    return {'skip', 0}
  end
  -- Out of its organisation's set too, should it be there; an entry from before
  -- organisations took turns holds its organisation's slot from now on.
  local org = organisation(KEYS[1])
  local wait = wait_key(K, org)
  if redis.call('ZREM', wait, ARGV[5]) == 1 and redis.call('ZCARD', wait) == 0 then
    redis.call('LREM', K.ring, 0, org)
  end
  unqueue(K, KEYS[1])
  if redis.call('HSETNX', KEYS[1], 'slot', '1') == 1 then
    redis.call('HINCRBY', K.running, org, 1)
  end
  redis.call('HINCRBY', KEYS[3], 'waiting', -1)
  redis.call('HINCRBY', KEYS[3], 'active', 1)
  -- One fed entry fewer: the next one goes in now, so a blocked worker wakes.
  feed(K)
end
local attempts = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
-- status 'active' here means the entry was reclaimed from a worker that stopped. A reclaim
-- is counted apart from failed attempts: it does not use up the job's retries.
if status == 'active' then
  local reclaims = redis.call('HINCRBY', KEYS[1], 'reclaims', 1)
  if reclaims > tonumber(ARGV[7]) then
    local message = 'the workers running the job stopped ' .. reclaims .. ' times without finishing it'
    redis.call('HSET', KEYS[1], 'status', 'failed', 'error', message, 'errorCode', 'worker_lost',
      'finishedAt', ARGV[4], 'updatedAt', ARGV[4])
    dead_letter(K, KEYS[1], ARGV[5], message, 'worker_lost', attempts - 1)
    redis.call('HINCRBY', KEYS[3], 'active', -1)
    redis.call('HINCRBY', KEYS[3], 'failed', 1)
    redis.call('XACK', KEYS[2], ARGV[1], ARGV[2])
    redis.call('XDEL', KEYS[2], ARGV[2])
    redis.call('EXPIRE', KEYS[1], ARGV[6])
    release(K, KEYS[1])
    feed(K)
    return {'dead', attempts - 1}
  end
end
redis.call('HSET', KEYS[1], 'status', 'active', 'worker', ARGV[3], 'startedAt', ARGV[4],
  'updatedAt', ARGV[4], 'entryId', ARGV[2])
return {'run', attempts}
