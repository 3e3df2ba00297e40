-- create_session(hash, set, args, names, sinces): records a new stream held by this pod with
-- its first channels, each with where its history stood when it was subscribed (see
-- `Session::since`).
-- args: 1 owner pod, 2 createdAt (ms), 3 ttl (s), 4 has a subject (0/1), 5 subject,
--       6 several channels (0/1)
local function create_session(hash, set, args, names, sinces)
  local fields = {'owner', args[1], 'createdAt', args[2], 'seq', '0'}
  if args[4] == '1' then
    fields[#fields + 1] = 'subject'
    fields[#fields + 1] = args[5]
  end
  if args[6] == '1' then
    fields[#fields + 1] = 'multi'
    fields[#fields + 1] = '1'
  end
  for i = 1, #names do
    fields[#fields + 1] = 'since:' .. names[i]
    fields[#fields + 1] = sinces[i]
  end
  redis.call('HSET', hash, unpack(fields))
  redis.call('EXPIRE', hash, args[3])
  if #names > 0 then
    redis.call('SADD', set, unpack(names))
    redis.call('EXPIRE', set, args[3])
  end
end
