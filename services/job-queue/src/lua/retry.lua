-- Runs a failed (dead-lettered) or cancelled job again: attempts and takeovers start over, its
-- dead-letter entry goes, it waits again under its organisation and no longer expires. A job
-- whose uploaded file is gone (deleted when it failed for good, or expired) is refused: it
-- could only fail again.
-- KEYS: 1 job hash
-- ARGV: 1 key prefix, 2 job id, 3 now (ms), 4 the job's file key
-- Returns {verdict, the job hash as HGETALL}.
local K = queue_keys(ARGV[1])
local job = KEYS[1]
local status = redis.call('HGET', job, 'status')
if not status then
  return {'missing', {}}
end
if status ~= 'failed' and status ~= 'cancelled' then
  return {'not_retryable', redis.call('HGETALL', job)}
end
local ok, data = pcall(cjson.decode, redis.call('HGET', job, 'data') or 'null')
if ok and type(data) == 'table' and data['uploaded'] == true
    and redis.call('EXISTS', ARGV[4]) == 0 then
  return {'file_gone', redis.call('HGETALL', job)}
end
if status == 'failed' then
  local entry = find_dead(K, job, ARGV[2])
  if entry then
    redis.call('XDEL', K.dead, entry)
  end
end
redis.call('HDEL', job, 'deadId', 'cancelRequested', 'error', 'errorCode', 'stage', 'result',
  'summary', 'finishedAt', 'startedAt', 'worker', 'delayUntil', 'entryId')
redis.call('HSET', job, 'status', 'waiting', 'attempts', '0', 'reclaims', '0', 'progress', '0',
  'updatedAt', ARGV[3])
redis.call('PERSIST', job)
redis.call('HINCRBY', K.counts, status, -1)
redis.call('HINCRBY', K.counts, 'waiting', 1)
enqueue(K, job, ARGV[2])
return {'requeued', redis.call('HGETALL', job)}
