-- Makes this pod the owner of a session (a reconnect landed here) and restarts its expiry:
-- one command instead of four.
-- KEYS: 1 session hash, 2 session channel set
-- ARGV: 1 owner pod, 2 ttl (s)
redis.call('HSET', KEYS[1], 'owner', ARGV[1])
redis.call('HDEL', KEYS[1], 'closedAt')
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[2])
return 1
