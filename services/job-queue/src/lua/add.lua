-- Adds a job unless one with the same id exists (idempotent add).
-- KEYS: 1 job hash, 2 stream, 3 delayed zset, 4 counts hash,
--       5 listing index, 6 (optional) the organisation's listing index
-- ARGV: 1 job id, 2 due time (ms), 3 now (ms), 4 key prefix, 5.. field/value pairs
local K = queue_keys(ARGV[4])
if redis.call('EXISTS', KEYS[1]) == 1 then
  return {0, redis.call('HGET', KEYS[1], 'status') or 'unknown'}
end
-- Listing indexes (listing.rs): the job by creation time; the 3 oldest entries are dropped
-- when their job has expired, so an index does not grow with finished jobs.
local job_prefix = string.sub(KEYS[1], 1, #KEYS[1] - #ARGV[1])
for i = 5, math.min(#KEYS, 6) do
  redis.call('ZADD', KEYS[i], ARGV[3], ARGV[1])
  for _, old in ipairs(redis.call('ZRANGE', KEYS[i], 0, 2)) do
    if old ~= ARGV[1] and redis.call('EXISTS', job_prefix .. old) == 0 then
      redis.call('ZREM', KEYS[i], old)
    end
  end
end
local fields = {}
for i = 5, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
if tonumber(ARGV[2]) > tonumber(ARGV[3]) then
  redis.call('HSET', KEYS[1], 'status', 'delayed', 'delayUntil', ARGV[2])
  redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
  redis.call('HINCRBY', KEYS[4], 'delayed', 1)
  return {1, 'delayed'}
end
redis.call('HSET', KEYS[1], 'status', 'waiting')
enqueue(K, KEYS[1], ARGV[1])
redis.call('HINCRBY', KEYS[4], 'waiting', 1)
return {1, 'waiting'}
