-- Cancels a job: one that waits (or waits for a retry) ends cancelled at once; a running one
-- is marked `cancelRequested` for its worker (repeating that changes nothing).
-- KEYS: 1 job hash
-- ARGV: 1 key prefix, 2 job id, 3 now (ms)
-- Returns {verdict, the job hash as HGETALL}.
local K = queue_keys(ARGV[1])
local job = KEYS[1]
local status = redis.call('HGET', job, 'status')
local verdict
if not status then
  return {'missing', {}}
elseif status == 'cancelled' then
  verdict = 'already'
elseif status == 'completed' or status == 'failed' then
  verdict = 'finished'
elseif status == 'active' then
  redis.call('HSET', job, 'cancelRequested', '1', 'updatedAt', ARGV[3])
  verdict = 'requested'
elseif status == 'waiting' or status == 'delayed' then
  if status == 'waiting' then
    leave_waiting(K, job, ARGV[2])
  else
    redis.call('ZREM', K.delayed, ARGV[2])
    redis.call('HDEL', job, 'delayUntil')
  end
  end_cancelled(K, job, status, ARGV[3], job_ttl(K))
  -- A fed job leaves room in the window.
  feed(K)
  verdict = 'cancelled'
else
  return {'unknown', {}}
end
return {verdict, redis.call('HGETALL', job)}
