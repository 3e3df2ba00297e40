-- flush_position(hash, set, owner, ttl, seq, cursors, log, closed, now): writes a stream's
-- position, unless another pod has taken the session over or the session has expired
-- (writing a position must not bring back a session without its subject and channels: its
-- stream resumes as a new one instead). Returns 1 when written, else 0.
-- ttl in s, cursors and log as JSON, closed '1' or '0', now in ms.
local function flush_position(hash, set, owner, ttl, seq, cursors, log, closed, now)
  local holder = redis.call('HGET', hash, 'owner')
  if not holder or holder ~= owner then
    return 0
  end
  redis.call('HSET', hash, 'owner', owner, 'seq', seq, 'cursors', cursors, 'log', log)
  if closed == '1' then
    redis.call('HSET', hash, 'closedAt', now)
  else
    redis.call('HDEL', hash, 'closedAt')
  end
  redis.call('EXPIRE', hash, ttl)
  redis.call('EXPIRE', set, ttl)
  return 1
end
