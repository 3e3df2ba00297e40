-- Shared by the scripts (prepended to each): the queue's key names from its prefix, and the
-- state changes more than one script makes. `prefix` is `rq:{queue}:`, so every key derived
-- from it is on the slot of the keys the script was given.
--
-- Waiting jobs wait in their organisation's sorted set (`wait:<org>`, score: priority, then
-- insertion). `ring` lists the organisations with jobs there, in turn. `feed` moves jobs from
-- the ring's organisations, one each in turn, into the stream, keeping at most FEED_WINDOW
-- fed and not yet claimed (the set `fed`): which job runs next is decided as late as that.
-- A job fed or running holds a slot of its organisation (`running`, flag `slot` in its hash),
-- which the per-organisation cap limits. `orgs` counts each organisation's waiting jobs
-- (flag `queued` in the job's hash).
local FEED_WINDOW = 16
-- Scores are priority * 2^42 + insertion sequence: exact in a double below 2^53.
local PRIORITY_STEP = 4398046511104

local function queue_keys(prefix)
  return {
    prefix = prefix,
    stream = prefix .. 'stream',
    delayed = prefix .. 'delayed',
    dead = prefix .. 'dead',
    counts = prefix .. 'counts',
    meta = prefix .. 'meta',
    ring = prefix .. 'ring',
    fed = prefix .. 'fed',
    running = prefix .. 'running',
    orgs = prefix .. 'orgs',
  }
end

local function wait_key(K, org)
  return K.prefix .. 'wait:' .. org
end

local function organisation(job)
  local org = redis.call('HGET', job, 'organisationId')
  if (not org) or org == '' then
    return '-'
  end
  return org
end

-- How long a finished job is kept: the workers' JOB_TTL as they last recorded it, else 24 h.
local function job_ttl(K)
  return tonumber(redis.call('HGET', K.meta, 'jobTtl') or '86400')
end

-- Gives back the organisation slot a fed or running job holds.
local function release(K, job)
  if redis.call('HDEL', job, 'slot') == 1 then
    local org = organisation(job)
    if redis.call('HINCRBY', K.running, org, -1) <= 0 then
      redis.call('HDEL', K.running, org)
    end
  end
end

-- Takes a job that leaves the waiting state out of its organisation's waiting count.
local function unqueue(K, job)
  if redis.call('HDEL', job, 'queued') == 1 then
    local org = organisation(job)
    if tonumber(redis.call('ZINCRBY', K.orgs, -1, org)) <= 0 then
      redis.call('ZREM', K.orgs, org)
    end
  end
end

-- Moves waiting jobs into the stream, one organisation after the other, until FEED_WINDOW
-- are fed and not yet claimed. Nothing while the queue is paused; organisations holding
-- `organisationCap` slots are skipped.
local function feed(K)
  if redis.call('HGET', K.meta, 'paused') == '1' then
    return 0
  end
  local cap = redis.call('HGET', K.meta, 'organisationCap')
  cap = cap and tonumber(cap)
  local room = FEED_WINDOW - redis.call('SCARD', K.fed)
  local fed, skipped = 0, 0
  while room > 0 do
    local org = redis.call('LPOP', K.ring)
    if not org then
      break
    end
    local wait = wait_key(K, org)
    if cap and tonumber(redis.call('HGET', K.running, org) or '0') >= cap then
      redis.call('RPUSH', K.ring, org)
      skipped = skipped + 1
      if skipped >= redis.call('LLEN', K.ring) then
        break
      end
    else
      local popped = redis.call('ZPOPMIN', wait)
      if popped[1] then
        local id = popped[1]
        local entry = redis.call('XADD', K.stream, '*', 'jobId', id)
        redis.call('HSET', K.prefix .. 'job:' .. id, 'entryId', entry, 'slot', '1')
        redis.call('SADD', K.fed, id)
        redis.call('HINCRBY', K.running, org, 1)
        room, fed, skipped = room - 1, fed + 1, 0
      end
      if redis.call('ZCARD', wait) > 0 then
        redis.call('RPUSH', K.ring, org)
      end
    end
  end
  return fed
end

-- Drops from the window what no longer belongs there: jobs claimed or ended by scripts that
-- did not keep the window (a worker of the previous version during an upgrade), and jobs
-- whose entry is gone from the stream (those wait again, at their place). Run periodically.
local function repair_fed(K)
  local repaired = 0
  for _, id in ipairs(redis.call('SMEMBERS', K.fed)) do
    local job = K.prefix .. 'job:' .. id
    local status = redis.call('HGET', job, 'status')
    if status ~= 'waiting' then
      redis.call('SREM', K.fed, id)
      if status and status ~= 'active' then
        release(K, job)
      end
      repaired = repaired + 1
    else
      local entry = redis.call('HGET', job, 'entryId')
      if (not entry) or #redis.call('XRANGE', K.stream, entry, entry) == 0 then
        redis.call('SREM', K.fed, id)
        redis.call('HDEL', job, 'entryId')
        release(K, job)
        redis.call('ZADD', wait_key(K, organisation(job)),
          redis.call('HGET', job, 'score') or '0', id)
        local wait = wait_key(K, organisation(job))
        if redis.call('ZCARD', wait) == 1 then
          redis.call('RPUSH', K.ring, organisation(job))
        end
        repaired = repaired + 1
      end
    end
  end
  return repaired
end

-- Makes a job wait to run (its status is already 'waiting'): into its organisation's set,
-- at its place (a retried job keeps the place it had), then feeds.
local function enqueue(K, job, id)
  local org = organisation(job)
  local score = redis.call('HGET', job, 'score')
  if not score then
    local priority = tonumber(redis.call('HGET', job, 'priority') or '0')
    local seq = redis.call('HINCRBY', K.meta, 'seq', 1)
    score = string.format('%.0f', priority * PRIORITY_STEP + seq)
    redis.call('HSET', job, 'score', score)
  end
  local wait = wait_key(K, org)
  redis.call('ZADD', wait, score, id)
  if redis.call('ZCARD', wait) == 1 then
    redis.call('RPUSH', K.ring, org)
  end
  if redis.call('HSETNX', job, 'queued', '1') == 1 then
    redis.call('ZINCRBY', K.orgs, 1, org)
  end
  feed(K)
end

-- Takes a waiting job out of wherever it waits: its organisation's set, or the stream (fed,
-- or an entry from before organisations took turns).
local function leave_waiting(K, job, id)
  local entry = redis.call('HGET', job, 'entryId')
  if entry then
    redis.call('XDEL', K.stream, entry)
  end
  redis.call('SREM', K.fed, id)
  local org = organisation(job)
  local wait = wait_key(K, org)
  if redis.call('ZREM', wait, id) == 1 and redis.call('ZCARD', wait) == 0 then
    redis.call('LREM', K.ring, 0, org)
  end
  release(K, job)
  unqueue(K, job)
end

-- Ends a job as cancelled from state `from` ('waiting', 'delayed' or 'active'), moving the
-- counts; the record expires after `ttl` seconds.
local function end_cancelled(K, job, from, now, ttl)
  redis.call('HINCRBY', K.counts, from, -1)
  redis.call('HINCRBY', K.counts, 'cancelled', 1)
  redis.call('HSET', job, 'status', 'cancelled', 'finishedAt', now, 'updatedAt', now)
  redis.call('EXPIRE', job, ttl)
  release(K, job)
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
