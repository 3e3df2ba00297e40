-- Resumes a paused queue: waiting jobs are fed to the stream again.
-- KEYS: 1 the queue's settings hash
-- ARGV: 1 key prefix
local K = queue_keys(ARGV[1])
redis.call('HDEL', KEYS[1], 'paused')
return feed(K)
