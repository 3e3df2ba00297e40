-- One channel's replay (see replay() above).
-- KEYS: 1 history stream
-- ARGV: 1 first id, 2 most entries, 3 the whole history (0/1)
return replay(KEYS[1], ARGV[1], ARGV[2], ARGV[3])
