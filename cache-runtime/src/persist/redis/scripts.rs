//! The Lua scripts of the Redis tier. Each names every key it touches in
//! `KEYS`, all with the function's hash tag, so each runs in one slot of a
//! cluster.

use std::sync::LazyLock;

use redis::Script;

/// Writes the record only if the generations are those the computation
/// started under, then releases the lock if this computation holds it.
/// KEYS: record, function generation, key generation, lock.
/// ARGV: value ('' and has_record = 0 to only release), ttl ms (0: none),
/// the two generations, lock token, has_record.
pub(super) static FINISH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local function generation(key)
    local value = redis.pcall('GET', key)
    if type(value) == 'table' then return '0' end
    return value or '0'
end
local stored = 0
if ARGV[6] == '1'
    and generation(KEYS[2]) == ARGV[3]
    and generation(KEYS[3]) == ARGV[4] then
    if ARGV[2] ~= '0' then
        redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
    else
        redis.call('SET', KEYS[1], ARGV[1])
    end
    stored = 1
end
if ARGV[5] ~= '' and redis.call('GET', KEYS[4]) == ARGV[5] then
    redis.call('DEL', KEYS[4])
end
return stored
",
    )
});

/// Tries to win the computation lock `KEYS[1]` (token `ARGV[1]`, expiring
/// after `ARGV[2]` ms), and reads the generations (function `KEYS[2]`, key
/// `KEYS[3]`) the computation starts under, unless the record `KEYS[4]` is
/// there: then it returns it and takes no lock, so no computation starts
/// after another one stored its value (between a caller's read and its
/// lock, or while it waited for the holder). First makes sure the
/// function's counter exists, so that a clear of everything, which finds
/// the functions by their counters, bumps this one and so fences this
/// computation. A lock without expiry is not one of ours (every lock this
/// crate takes has one: another program's key, or left by a bug) and would
/// make every miss wait `lock_wait` for nothing: it is removed.
/// Returns `{status, function generation, key generation, record}`, status
/// 1 (won), 2 (won after removing such a key) or 0 (another holds it, or
/// the record is there); `record` is `false` (nil) but in the last case. A
/// key of another type where the record goes is no record (the computation
/// overwrites it).
pub(super) static LOCK: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local function generation(key)
    local value = redis.pcall('GET', key)
    if type(value) == 'table' then return '0' end
    return value or '0'
end
if redis.call('EXISTS', KEYS[2]) == 0 then
    redis.call('SET', KEYS[2], '0')
end
local record = redis.pcall('GET', KEYS[4])
if type(record) == 'string' then
    return {0, generation(KEYS[2]), generation(KEYS[3]), record}
end
local status = 0
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
    status = 1
elseif redis.call('PTTL', KEYS[1]) == -1 then
    redis.call('DEL', KEYS[1])
    redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2])
    status = 2
end
return {status, generation(KEYS[2]), generation(KEYS[3]), false}
",
    )
});

/// Bumps the generation counter `KEYS[1]` (and sets its expiry to
/// `ARGV[2]` ms, if not `0`). A counter that is not one (another program's
/// key, a corrupted value) is replaced by `ARGV[1]`, a number no computation
/// can have read: a clear must never fail on bad data, or the records it
/// should remove would stay.
pub(super) static BUMP: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local bumped = redis.pcall('INCR', KEYS[1])
if type(bumped) == 'table' then
    redis.call('DEL', KEYS[1])
    redis.call('SET', KEYS[1], ARGV[1])
end
if ARGV[2] ~= '0' then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 1
",
    )
});
