-- A session's hash and channel set, in one command.
-- KEYS: 1 session hash, 2 session channel set
return {redis.call('HGETALL', KEYS[1]), redis.call('SMEMBERS', KEYS[2])}
