-- Records a new stream held by this pod with its first channels: one command for the whole
-- session (see create_session() above).
-- KEYS: 1 session hash, 2 session channel set
-- ARGV: 1-6 as create_session's args, then channel, since pairs
local names, sinces = {}, {}
for i = 7, #ARGV - 1, 2 do
  names[#names + 1] = ARGV[i]
  sinces[#sinces + 1] = ARGV[i + 1]
end
create_session(KEYS[1], KEYS[2], ARGV, names, sinces)
return 1
