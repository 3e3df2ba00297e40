-- Records a new stream held by this pod with its first channels, each with where its history
-- stood when it was subscribed (see `Session::since`): one command for the whole session.
-- KEYS: 1 session hash, 2 session channel set
-- ARGV: 1 owner pod, 2 createdAt (ms), 3 ttl (s), 4 has a subject (0/1), 5 subject,
--       6 several channels (0/1), then channel, since pairs
local fields = {'owner', ARGV[1], 'createdAt', ARGV[2], 'seq', '0'}
if ARGV[4] == '1' then
  fields[#fields + 1] = 'subject'
  fields[#fields + 1] = ARGV[5]
end
if ARGV[6] == '1' then
  fields[#fields + 1] = 'multi'
  fields[#fields + 1] = '1'
end
local names = {}
for i = 7, #ARGV - 1, 2 do
  names[#names + 1] = ARGV[i]
  fields[#fields + 1] = 'since:' .. ARGV[i]
  fields[#fields + 1] = ARGV[i + 1]
end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('EXPIRE', KEYS[1], ARGV[3])
if #names > 0 then
  redis.call('SADD', KEYS[2], unpack(names))
  redis.call('EXPIRE', KEYS[2], ARGV[3])
end
return 1
