-- Publishes an event with history: appends it to the channel's capped history stream, then
-- publishes it carrying the stream id as "eventId", so a reconnecting client can resume
-- from it. Publishers that talk to Redis directly can use this script as it is.
-- KEYS: 1 history stream (sse:hist:{<channel>})
-- ARGV: 1 channel, 2 event JSON object, 3 max length, 4 ttl seconds,
--       5 (optional) "sharded" to publish with SPUBLISH (Redis Cluster), else PUBLISH
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', 'e', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[4])
local body = ARGV[2]
local rest = string.match(body, '^%s*{%s*(.*)$')
if rest == nil then
  return redis.error_reply('event must be a JSON object')
end
local tagged
if string.sub(rest, 1, 1) == '}' then
  tagged = '{"eventId":"' .. id .. '"}'
else
  tagged = '{"eventId":"' .. id .. '",' .. rest
end
local command = 'PUBLISH'
if ARGV[5] == 'sharded' then
  command = 'SPUBLISH'
end
local receivers = redis.call(command, ARGV[1], tagged)
return {id, receivers}
