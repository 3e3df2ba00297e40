-- A new stream's first step in one command, where every key is on one node: for each of its
-- channels what a new subscriber gets first (the story so far, or, live only, the newest
-- entry), the job's record when that story does not reach the job's start, and then the
-- session, each channel with where it resumes until a position is flushed: the start of a
-- story that reaches it, else the newest entry (as `Plan::from_story` says).
-- KEYS: 1 session hash, 2 session channel set, then per channel its history stream followed
--       by the job's record in each queue (ARGV[9] of them, in the queues' order)
-- ARGV: 1-6 as create_session's args, 7 most story entries, 8 replay (0/1), 9 queues per
--       channel, then the channel names
-- Returns per channel {exists, reaches the start, entries, record (HGETALL, or empty),
-- index of the queue holding it (0: none)}; live only, {0, 0, newest entry or none, {}, 0}.
local queues = tonumber(ARGV[9])
local names, sinces, told = {}, {}, {}
local key = 3
for i = 10, #ARGV do
  local history = KEYS[key]
  local first
  if ARGV[8] == '1' then
    first = story(history, ARGV[7])
  else
    first = {0, 0, redis.call('XREVRANGE', history, '+', '-', 'COUNT', 1)}
  end
  local since, record, holder = '0-0', {}, 0
  if first[1] ~= 1 or first[2] ~= 1 then
    local newest = first[3][#first[3]]
    if newest then
      since = newest[1]
    end
    for q = 1, queues do
      record = redis.call('HGETALL', KEYS[key + q])
      if #record > 0 then
        holder = q
        break
      end
    end
  end
  first[4] = record
  first[5] = holder
  names[#names + 1] = ARGV[i]
  sinces[#sinces + 1] = since
  told[#told + 1] = first
  key = key + 1 + queues
end
create_session(KEYS[1], KEYS[2], ARGV, names, sinces)
return told
