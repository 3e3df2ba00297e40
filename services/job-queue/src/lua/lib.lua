-- Shared by the scripts (prepended to each): the queue's key names from its prefix, and the
-- state changes more than one script makes. `prefix` is `rq:{queue}:`, so every key derived
-- from it is on the slot of the keys the script was given.
local function queue_keys(prefix)
  return {
    prefix = prefix,
    stream = prefix .. 'stream',
    delayed = prefix .. 'delayed',
    dead = prefix .. 'dead',
    counts = prefix .. 'counts',
    meta = prefix .. 'meta',
  }
end

-- How long a finished job is kept: the workers' JOB_TTL as they last recorded it, else 24 h.
local function job_ttl(K)
  return tonumber(redis.call('HGET', K.meta, 'jobTtl') or '86400')
end

-- Makes a job wait to run (its status is already 'waiting').
local function enqueue(K, job, id)
  local entry = redis.call('XADD', K.stream, '*', 'jobId', id)
  redis.call('HSET', job, 'entryId', entry)
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

-- Records a job that failed for good in the dead-letter stream, and where, so that a retry
-- or a delete finds its entry by job id.
local function dead_letter(K, job, id, error, code, attempts)
  local fields = redis.call('HMGET', job, 'name', 'organisationId')
  local entry = redis.call('XADD', K.dead, '*', 'jobId', id, 'error', error, 'code', code,
    'attempts', attempts, 'name', fields[1] or '', 'organisationId', fields[2] or '')
  redis.call('HSET', job, 'deadId', entry)
end

-- The dead-letter entry of job `id`: the one its record names, else (a record from before
-- entries were recorded, or one that expired) the newest of the last 10,000 entries naming it.
local function find_dead(K, job, id)
  local recorded = redis.call('HGET', job, 'deadId')
  if recorded then
    return recorded
  end
  local entries = redis.call('XREVRANGE', K.dead, '+', '-', 'COUNT', 10000)
  for _, e in ipairs(entries) do
    local fields = e[2]
    for i = 1, #fields, 2 do
      if fields[i] == 'jobId' and fields[i + 1] == id then
        return e[1]
      end
    end
  end
  return nil
end
