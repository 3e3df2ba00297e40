-- Writes a stream's position, unless another pod has taken the session over or the session
-- has expired.
-- KEYS: 1 session hash, 2 session channel set
-- ARGV: 1 owner pod, 2 ttl (s), 3 seq, 4 cursors JSON, 5 log JSON, 6 closed (0/1), 7 now (ms)
-- A session that expired stays gone: writing a position must not bring back a session
-- without its subject and channels (its stream resumes as a new one instead).
local owner = redis.call('HGET', KEYS[1], 'owner')
if not owner then
  return 0
end
if owner ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'seq', ARGV[3], 'cursors', ARGV[4], 'log', ARGV[5])
if ARGV[6] == '1' then
  redis.call('HSET', KEYS[1], 'closedAt', ARGV[7])
else
  redis.call('HDEL', KEYS[1], 'closedAt')
end
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[2])
return 1
