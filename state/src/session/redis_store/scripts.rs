//! The store's Lua scripts. Each one touches the keys of one shard (one hash
//! tag, so one cluster slot) only, except [`RENAME`] across shards, which only
//! a single server runs.

use std::sync::LazyLock;

use redis::Script;

/// Writes one field if the current value matches (`ARGV[6]`: `any`, `absent` or
/// `equal` to `ARGV[7]`) and the session stays within `ARGV[3]` bytes; refreshes
/// the idle timer (and, when `ARGV[8]` is a deadline, the session `ARGV[9]`'s
/// entry in its shard's deadlines `KEYS[2]`). Returns -1 on success, -2 on a
/// conflict, or the size that was too large.
pub(super) static WRITE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local current = redis.call('HGET', KEYS[1], ARGV[1])
if ARGV[6] == 'absent' and current then return -2 end
if ARGV[6] == 'equal' and current ~= ARGV[7] then return -2 end
local total = #ARGV[1] + #ARGV[2]
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local field = all[i]
  if field ~= ARGV[1] and field ~= ARGV[5] then total = total + #field + #all[i + 1] end
end
if total > tonumber(ARGV[3]) then return total end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2], ARGV[5], '1')
redis.call('PEXPIRE', KEYS[1], ARGV[4])
if ARGV[8] ~= '' then redis.pcall('ZADD', KEYS[2], ARGV[8], ARGV[9]) end
return -1
",
    )
});

/// Removes one field of an existing session and returns its old value.
pub(super) static REMOVE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old then redis.call('HDEL', KEYS[1], ARGV[1]) end
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  if ARGV[3] ~= '' then redis.pcall('ZADD', KEYS[2], ARGV[3], ARGV[4]) end
end
return old
",
    )
});

/// Empties an existing session, keeping it alive.
pub(super) static CLEAR: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], ARGV[1], '1')
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  if ARGV[3] ~= '' then redis.pcall('ZADD', KEYS[2], ARGV[3], ARGV[4]) end
end
return 0
",
    )
});

/// Moves an existing session `KEYS[1]` to a new id (`ARGV[1]` to `ARGV[2]`,
/// key `KEYS[2]`), and its entry in the deadlines of the old id's shard
/// `KEYS[3]` to the new one's `KEYS[4]` (one key when the ids share a shard),
/// with the deadline `ARGV[3]`, or its own when `0`. Across shards, a
/// single server's script only: on a cluster they are different slots.
pub(super) static RENAME: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('RENAME', KEYS[1], KEYS[2])
  local score = redis.pcall('ZSCORE', KEYS[3], ARGV[1])
  if type(score) == 'string' then
    redis.call('ZREM', KEYS[3], ARGV[1])
    if ARGV[3] ~= '0' then score = ARGV[3] end
    redis.pcall('ZADD', KEYS[4], score, ARGV[2])
  end
end
return 0
",
    )
});

/// The first half of a move across cluster slots: reads session `KEYS[1]`
/// (id `ARGV[1]`) as `{its PTTL, its score in the deadlines KEYS[2] or '',
/// {field, value, …}}`, or nil when it does not exist.
pub(super) static MOVE_READ: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local ttl = redis.call('PTTL', KEYS[1])
if ttl == -2 then return false end
local fields = redis.call('HGETALL', KEYS[1])
local score = redis.pcall('ZSCORE', KEYS[2], ARGV[1])
if type(score) ~= 'string' then score = '' end
return {ttl, score, fields}
",
    )
});

/// The second half of a move across cluster slots: writes what
/// [`MOVE_READ`] read as session `KEYS[1]` (id `ARGV[3]`), the fields
/// `ARGV[4..]` (name, value, …) with the PTTL `ARGV[1]` (none when
/// negative), and its deadline `ARGV[2]` (unless `''`) in its shard's
/// deadlines `KEYS[2]`.
pub(super) static MOVE_WRITE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
redis.call('DEL', KEYS[1])
for i = 4, #ARGV - 1, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
local ttl = tonumber(ARGV[1])
if ttl >= 0 then redis.call('PEXPIRE', KEYS[1], math.max(ttl, 1)) end
if ARGV[2] ~= '' then redis.pcall('ZADD', KEYS[2], ARGV[2], ARGV[3]) end
return 0
",
    )
});
