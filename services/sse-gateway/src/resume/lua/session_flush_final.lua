-- Writes the final positions of streams that closed, in one command (see flush_position()
-- above), where every key is on one node.
-- KEYS: per stream its session hash and session channel set
-- ARGV: 1 owner pod, 2 ttl (s), 3 now (ms), then per stream seq, cursors JSON, log JSON
-- Returns how many were written.
local written = 0
for i = 1, #KEYS / 2 do
  local at = 4 + (i - 1) * 3
  written = written + flush_position(KEYS[2 * i - 1], KEYS[2 * i], ARGV[1], ARGV[2],
    ARGV[at], ARGV[at + 1], ARGV[at + 2], '1', ARGV[3])
end
return written
