-- Removes a dead-lettered job: its dead-letter entry, its record and its uploaded file. A job
-- that is not failed is left alone (0). A failed job's count stays: it did fail.
-- KEYS: 1 job hash
-- ARGV: 1 key prefix, 2 job id, 3 the job's file key
local K = queue_keys(ARGV[1])
local status = redis.call('HGET', KEYS[1], 'status')
if status and status ~= 'failed' then
  return 0
end
local entry = find_dead(K, KEYS[1], ARGV[2])
if not entry then
  return 0
end
redis.call('XDEL', K.dead, entry)
redis.call('DEL', KEYS[1], ARGV[3])
return 1
