-- Shared by the scripts (prepended to each): the queue's key names from its prefix, and the
-- state changes more than one script makes. `prefix` is `rq:{queue}:`, so every key derived
-- from it is on the slot of the keys the script was given.
local function queue_keys(prefix)
  return {
    prefix = prefix,
    stream = prefix .. 'stream',
    delayed = prefix .. 'delayed',
    counts = prefix .. 'counts',
    meta = prefix .. 'meta',
  }
end

-- How long a finished job is kept: the workers' JOB_TTL as they last recorded it, else 24 h.
local function job_ttl(K)
  return tonumber(redis.call('HGET', K.meta, 'jobTtl') or '86400')
end

-- Takes a waiting job out of wherever it waits.
local function leave_waiting(K, job, id)
  local entry = redis.call('HGET', job, 'entryId')
  if entry then
    redis.call('XDEL', K.stream, entry)
  end
end

-- Ends a job as cancelled from state `from` ('waiting', 'delayed' or 'active'), moving the
-- counts; the record expires after `ttl` seconds.
local function end_cancelled(K, job, from, now, ttl)
  redis.call('HINCRBY', K.counts, from, -1)
  redis.call('HINCRBY', K.counts, 'cancelled', 1)
  redis.call('HSET', job, 'status', 'cancelled', 'finishedAt', now, 'updatedAt', now)
  redis.call('EXPIRE', job, ttl)
end
