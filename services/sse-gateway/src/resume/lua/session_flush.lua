-- Writes a stream's position (see flush_position() above).
-- KEYS: 1 session hash, 2 session channel set
-- ARGV: 1 owner pod, 2 ttl (s), 3 seq, 4 cursors JSON, 5 log JSON, 6 closed (0/1), 7 now (ms)
return flush_position(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6],
  ARGV[7])
