-- A channel's story so far (see story() above).
-- KEYS: 1 history stream
-- ARGV: 1 most entries returned (a longer history counts as not reaching the start)
return story(KEYS[1], ARGV[1])
