-- take_over(hash, set, owner, ttl): makes pod `owner` the owner of a session (a reconnect
-- landed there) and restarts its expiry.
local function take_over(hash, set, owner, ttl)
  redis.call('HSET', hash, 'owner', owner)
  redis.call('HDEL', hash, 'closedAt')
  redis.call('EXPIRE', hash, ttl)
  redis.call('EXPIRE', set, ttl)
end
