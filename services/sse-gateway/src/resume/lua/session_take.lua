-- Makes this pod the owner of a session (see take_over() above).
-- KEYS: 1 session hash, 2 session channel set
-- ARGV: 1 owner pod, 2 ttl (s)
take_over(KEYS[1], KEYS[2], ARGV[1], ARGV[2])
return 1
