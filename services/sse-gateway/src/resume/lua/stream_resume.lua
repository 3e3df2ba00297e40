-- A resume's take-over and what it missed, in one command, where every key is on one node:
-- the session becomes this pod's (see take_over() above), then each channel's replay (see
-- replay() above).
-- KEYS: 1 session hash, 2 session channel set, then the history stream of each channel
-- ARGV: 1 owner pod, 2 ttl (s), 3 most entries per channel, then per channel its first id and
--       whether it is the whole history (0/1)
-- Returns each channel's replay, in order.
take_over(KEYS[1], KEYS[2], ARGV[1], ARGV[2])
local replays = {}
for i = 3, #KEYS do
  local at = 4 + (i - 3) * 2
  replays[#replays + 1] = replay(KEYS[i], ARGV[at], ARGV[3], ARGV[at + 1])
end
return replays
