//! [`Session`]: the per-request handle and axum extractor.

use std::fmt;
use std::sync::{Arc, PoisonError};

use axum::extract::FromRequestParts;
use http::request::Parts;
use tokio::sync::Mutex;

use super::error::{MissingSessionLayer, SessionError};
use super::id::SessionId;
use super::key::{StateKey, StateValue};
use super::shared::{Shared, end_cached};
use super::store::{EndReason, Record};

/// The session of the current request: typed access to its state.
///
/// Extract it in a handler (`async fn page(session: Session)`) under a
/// [`SessionLayer`](super::SessionLayer). It is `Clone + Send + Sync`; clones
/// share one handle, so it can be moved into tasks spawned during the request.
///
/// # Loading and writing
///
/// * **Lazy**: nothing is read from the store until the first method call, and a
///   handler that never uses the session costs no store round trip. The first
///   call loads the whole record once; later reads are served from that
///   snapshot plus this request's own writes ([`reload`](Self::reload) refreshes it).
/// * **Write-through, per key**: [`set`](Self::set), [`update`](Self::update),
///   [`remove`](Self::remove) and [`clear`](Self::clear) go to the store at once
///   and touch only their key, so two concurrent requests writing different
///   keys both keep their writes, and errors reach the handler.
/// * [`update`](Self::update) is an atomic read-modify-write in the store: N
///   concurrent increments from N requests end at exactly N.
/// * A new session (no cookie, or an unknown, expired, malformed or forged one)
///   is created in the store, with a fresh random id, on its first write. A
///   session that is only read is never created, and gets no cookie — unless
///   the request calls a `scope = "session"` cached function, whose entries
///   need a session to belong to (see [`SessionLayer`](super::SessionLayer)).
///
/// # Decoding
///
/// A stored value that no longer decodes as the key's type (the type changed
/// between deployments) reads as the key's default and is logged at `warn`;
/// the next write replaces it.
///
/// # Known limitations
///
/// * The cookie is decided when the handler's response passes back through the
///   layer. A task that outlives the response can still read and write an
///   existing session, but a session it *creates* reaches no browser.
/// * Operations of one request on one session are serialised (the handle holds
///   a lock across each store call); different requests run in parallel.
/// * A session that expires in the store between this request's load and its
///   write is re-created under the same id by the write.
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    state: Mutex<State>,
    /// The id the request's cookie named (as `State::incoming` starts).
    cookie_id: Option<SessionId>,
    /// Ids minted and ended in this request (a plain lock: the cache scope
    /// reads it synchronously).
    minted: std::sync::Mutex<Minted>,
}

#[derive(Debug, Default)]
struct Minted {
    /// The id a new session gets: minted by its first write, or by the
    /// first session-scoped cached call, whichever comes first, so both
    /// name the same session.
    fresh: Option<SessionId>,
    /// Sessions [`Session::end`] ended in this request.
    ended: Vec<SessionId>,
}

#[derive(Debug)]
struct State {
    /// The id the request's cookie named, if it was well-formed (and authentic).
    incoming: Option<SessionId>,
    /// `None` until the first operation loads the record.
    loaded: Option<Loaded>,
    cookie: CookieChange,
}

#[derive(Debug)]
struct Loaded {
    /// The session's id once it exists in the store.
    id: Option<SessionId>,
    values: Record,
}

/// What the layer should do with the cookie once the handler returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CookieChange {
    Keep,
    Set(SessionId),
    Remove,
}

impl Session {
    pub(crate) fn new(shared: Arc<Shared>, incoming: Option<SessionId>) -> Self {
        let state = State {
            incoming,
            loaded: None,
            cookie: CookieChange::Keep,
        };
        Self {
            inner: Arc::new(Inner {
                shared,
                state: Mutex::new(state),
                cookie_id: incoming,
                minted: std::sync::Mutex::default(),
            }),
        }
    }

    /// The id session-scoped cached calls of this request key their entries
    /// by, chosen without a store round trip (they are synchronous): the
    /// cookie's id, or the id a new session will get. The layer checks it
    /// against the store when the response passes (see
    /// [`Session::settle_cache_scope`]).
    pub(crate) fn cache_scope_id(&self) -> SessionId {
        self.inner.cookie_id.unwrap_or_else(|| self.fresh_id())
    }

    /// The id this request gives a new session, minted on first use.
    fn fresh_id(&self) -> SessionId {
        *self.minted().fresh.get_or_insert_with(SessionId::random)
    }

    fn minted(&self) -> std::sync::MutexGuard<'_, Minted> {
        self.inner
            .minted
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// After a request whose session-scoped cached calls used `used` (see
    /// [`Session::cache_scope_id`]): makes sure that id names a session in
    /// the store, so the entries stay reachable and end with it. A new
    /// session is created (its cookie set on this response, the start hook
    /// run); entries made under a cookie's id the store does not know (expired,
    /// forged) are dropped, since that id is never adopted.
    pub(crate) async fn settle_cache_scope(&self, used: SessionId) {
        let shared = &self.inner.shared;
        let mut state = self.inner.state.lock().await;
        if self.minted().ended.contains(&used) {
            // Cached into after `end` in this request: gone with it.
            drop(state);
            end_cached(used);
            return;
        }
        let known = match self.loaded(&mut state).await {
            Ok(loaded) => loaded.id,
            Err(error) => {
                tracing::error!(%error, "session load failed; dropping this request's session-scoped cache entries");
                drop(state);
                end_cached(used);
                return;
            }
        };
        if known == Some(used) {
            return;
        }
        if Some(used) == self.inner.cookie_id {
            // Never adopted: what was cached under it must not outlive the request.
            drop(state);
            end_cached(used);
            return;
        }
        // A new session that nothing was written to: create it now.
        let created = shared
            .store
            .set(
                used,
                CREATED_KEY,
                unix_seconds().to_string(),
                shared.limits.max_session_bytes,
            )
            .await;
        match created {
            Ok(()) => self.written(&mut state, used, true),
            Err(error) => {
                tracing::error!(%error, "could not create the session of a session-scoped cache call; dropping its entries");
                drop(state);
                end_cached(used);
            }
        }
    }

    pub(crate) async fn cookie_change(&self) -> CookieChange {
        self.inner.state.lock().await.cookie
    }

    /// The value of `key`, or its default when unset.
    ///
    /// If the store cannot be reached, this logs the error and returns the
    /// default; use [`try_get`](Self::try_get) to see the error instead.
    pub async fn get<T: StateValue>(&self, key: &StateKey<T>) -> T {
        match self.try_get(key).await {
            Ok(value) => value,
            Err(error) => {
                tracing::error!(key = key.name(), %error, "session read failed; using the key's default");
                key.default_value()
            }
        }
    }

    /// The value of `key`, or its default when unset.
    ///
    /// # Errors
    ///
    /// [`SessionError::Store`] when the record cannot be loaded, and
    /// [`SessionError::DuplicateKeyName`] for a key whose stored name another key uses.
    pub async fn try_get<T: StateValue>(&self, key: &StateKey<T>) -> Result<T, SessionError> {
        key.check()?;
        let mut state = self.inner.state.lock().await;
        let loaded = self.loaded(&mut state).await?;
        Ok(decode(
            key,
            loaded.values.get(key.name()).map(String::as_str),
        ))
    }

    /// Whether `key` is set in this session (a key set to its default counts as set).
    ///
    /// Logs and returns `false` when the store cannot be reached.
    pub async fn contains<T: StateValue>(&self, key: &StateKey<T>) -> bool {
        self.read(|values| values.contains_key(key.name()))
            .await
            .unwrap_or(false)
    }

    /// The stored names of the keys that are set, sorted.
    ///
    /// Logs and returns an empty list when the store cannot be reached.
    pub async fn keys(&self) -> Vec<String> {
        let mut keys = self
            .read(|values| {
                values
                    .keys()
                    .filter(|name| !is_reserved(name))
                    .cloned()
                    .collect::<Vec<_>>()
            })
            .await
            .unwrap_or_default();
        keys.sort_unstable();
        keys
    }

    /// The whole state as a JSON object (stored name → value), for dashboards
    /// and logs. Keys are sorted; a value that is not valid JSON is shown as a string.
    ///
    /// Logs and returns an empty object when the store cannot be reached.
    pub async fn to_json(&self) -> serde_json::Value {
        let map = self
            .read(|values| {
                let mut pairs: Vec<_> = values
                    .iter()
                    .filter(|(name, _)| !is_reserved(name))
                    .collect();
                pairs.sort_unstable_by_key(|(name, _)| name.as_str());
                pairs
                    .into_iter()
                    .map(|(name, json)| {
                        let value = serde_json::from_str(json)
                            .unwrap_or_else(|_| serde_json::Value::String(json.clone()));
                        (name.clone(), value)
                    })
                    .collect::<serde_json::Map<_, _>>()
            })
            .await
            .unwrap_or_default();
        serde_json::Value::Object(map)
    }

    /// Stores `value` under `key`.
    ///
    /// # Errors
    ///
    /// [`SessionError::ValueTooLarge`] / [`SessionError::SessionTooLarge`] when a
    /// size limit would be exceeded (nothing is changed),
    /// [`SessionError::Encode`], [`SessionError::DuplicateKeyName`] and
    /// [`SessionError::Store`].
    pub async fn set<T: StateValue>(
        &self,
        key: &StateKey<T>,
        value: T,
    ) -> Result<(), SessionError> {
        key.check()?;
        let json = self.encode(key, &value)?;
        let shared = &self.inner.shared;
        let mut state = self.inner.state.lock().await;
        let (id, new) = self.id_for_write(&mut state).await?;
        shared
            .store
            .set(
                id,
                key.name(),
                json.clone(),
                shared.limits.max_session_bytes,
            )
            .await?;
        self.written(&mut state, id, new);
        loaded_mut(&mut state)
            .values
            .insert(key.name().to_owned(), json);
        Ok(())
    }

    /// Atomically changes the value of `key` in the store with `f`, starting from
    /// the stored value (or the default), and returns the new value.
    ///
    /// The read-modify-write happens in the store, not on this request's
    /// snapshot, so concurrent updates from several requests or replicas are
    /// never lost.
    ///
    /// ```
    /// # use state::{state_keys, Session};
    /// # state_keys! { VISITS: u64 = 0; }
    /// # async fn page(session: Session) -> Result<String, state::SessionError> {
    /// let visits = session.update(&VISITS, |v| *v += 1).await?;
    /// # Ok(visits.to_string()) }
    /// ```
    ///
    /// # Errors
    ///
    /// As for [`set`](Self::set), plus [`SessionError::Contention`] when an
    /// optimistic store gave up after too many conflicting writes.
    ///
    /// # Known limitations
    ///
    /// `f` may run more than once: the Redis store retries it when another
    /// writer changed the key in between. Keep it free of side effects.
    pub async fn update<T, F>(&self, key: &StateKey<T>, mut f: F) -> Result<T, SessionError>
    where
        T: StateValue,
        F: FnMut(&mut T) + Send,
    {
        key.check()?;
        let shared = &self.inner.shared;
        let mut state = self.inner.state.lock().await;
        let (id, new) = self.id_for_write(&mut state).await?;
        let mut result: Option<(T, String)> = None;
        let mut step = |current: Option<&str>| {
            let mut value = decode(key, current);
            f(&mut value);
            let json = self.encode(key, &value)?;
            result = Some((value, json.clone()));
            Ok(json)
        };
        shared
            .store
            .update(id, key.name(), shared.limits.max_session_bytes, &mut step)
            .await?;
        let (value, json) = result.expect("a successful update ran its step");
        self.written(&mut state, id, new);
        loaded_mut(&mut state)
            .values
            .insert(key.name().to_owned(), json);
        Ok(value)
    }

    /// Removes `key` and returns its previous value (`None` when it was unset or
    /// no longer decodes as `T`).
    ///
    /// # Errors
    ///
    /// [`SessionError::DuplicateKeyName`] and [`SessionError::Store`].
    pub async fn remove<T: StateValue>(
        &self,
        key: &StateKey<T>,
    ) -> Result<Option<T>, SessionError> {
        key.check()?;
        let mut state = self.inner.state.lock().await;
        let Some(id) = self.loaded(&mut state).await?.id else {
            return Ok(None);
        };
        let old = self.inner.shared.store.remove(id, key.name()).await?;
        loaded_mut(&mut state).values.remove(key.name());
        Ok(old.and_then(|json| match serde_json::from_str(&json) {
            Ok(value) => Some(value),
            Err(error) => {
                warn_undecodable(key, &error);
                None
            }
        }))
    }

    /// Removes every key; the session itself (and its id) lives on.
    ///
    /// # Errors
    ///
    /// [`SessionError::Store`].
    pub async fn clear(&self) -> Result<(), SessionError> {
        let mut state = self.inner.state.lock().await;
        let Some(id) = self.loaded(&mut state).await?.id else {
            return Ok(());
        };
        self.inner.shared.store.clear(id).await?;
        loaded_mut(&mut state).values.clear();
        Ok(())
    }

    /// The session's id, or `None` while the session does not exist in the store
    /// (nothing written yet, or ended). Loads the session if needed.
    ///
    /// # Errors
    ///
    /// [`SessionError::Store`].
    pub async fn id(&self) -> Result<Option<SessionId>, SessionError> {
        let mut state = self.inner.state.lock().await;
        Ok(self.loaded(&mut state).await?.id)
    }

    /// Gives the session a new random id and keeps its state: call it when the
    /// user's privileges change (sign-in), as a defence against session
    /// fixation. The response carries the new cookie; the old id stops working.
    /// Does nothing for a session that does not exist yet (it will get a fresh
    /// id on its first write anyway). The session-start and -end hooks do not run.
    ///
    /// # Errors
    ///
    /// [`SessionError::Store`].
    pub async fn cycle_id(&self) -> Result<(), SessionError> {
        let mut state = self.inner.state.lock().await;
        let Some(old) = self.loaded(&mut state).await?.id else {
            return Ok(());
        };
        let new = SessionId::random();
        self.inner.shared.store.rename(old, new).await?;
        loaded_mut(&mut state).id = Some(new);
        state.cookie = CookieChange::Set(new);
        // Session-scoped cache entries do not follow a privilege change.
        end_cached(old);
        Ok(())
    }

    /// Ends the session: deletes its state from the store, runs the
    /// `on_session_end` hook with [`EndReason::Ended`] and removes the cookie.
    /// A later write in the same request starts a new session with a new id.
    ///
    /// # Errors
    ///
    /// [`SessionError::Store`].
    pub async fn end(&self) -> Result<(), SessionError> {
        let mut state = self.inner.state.lock().await;
        let ended = self.loaded(&mut state).await?.id;
        if let Some(id) = ended {
            self.inner.shared.store.delete(id).await?;
            {
                let mut minted = self.minted();
                minted.ended.push(id);
                if minted.fresh == Some(id) {
                    minted.fresh = None;
                }
            }
            state.loaded = Some(Loaded {
                id: None,
                values: Record::new(),
            });
            state.cookie = CookieChange::Remove;
            drop(state);
            self.inner.shared.hooks.ended(id, EndReason::Ended);
        } else if state.cookie != CookieChange::Keep {
            state.cookie = CookieChange::Remove;
        }
        Ok(())
    }

    /// Loads the record now if it is not loaded yet, surfacing store errors
    /// that the infallible readers only log.
    ///
    /// # Errors
    ///
    /// [`SessionError::Store`].
    pub async fn load(&self) -> Result<(), SessionError> {
        let mut state = self.inner.state.lock().await;
        self.loaded(&mut state).await.map(drop)
    }

    /// Drops this request's snapshot and loads the record again, to see writes
    /// made by concurrent requests since the first load.
    ///
    /// # Errors
    ///
    /// [`SessionError::Store`].
    pub async fn reload(&self) -> Result<(), SessionError> {
        let mut state = self.inner.state.lock().await;
        let id = state.loaded.take().and_then(|loaded| loaded.id);
        if let Some(id) = id {
            // Reload the session this request is using, even if it was created or cycled here.
            state.incoming = Some(id);
        }
        self.loaded(&mut state).await.map(drop)
    }

    async fn read<R>(&self, f: impl FnOnce(&Record) -> R) -> Option<R> {
        let mut state = self.inner.state.lock().await;
        match self.loaded(&mut state).await {
            Ok(loaded) => Some(f(&loaded.values)),
            Err(error) => {
                tracing::error!(%error, "session load failed; treating the session as empty");
                None
            }
        }
    }

    async fn loaded<'s>(&self, state: &'s mut State) -> Result<&'s mut Loaded, SessionError> {
        if state.loaded.is_none() {
            let loaded = match state.incoming {
                None => Loaded {
                    id: None,
                    values: Record::new(),
                },
                Some(id) => match self.inner.shared.store.load(id).await? {
                    Some(values) => Loaded {
                        id: Some(id),
                        values,
                    },
                    None => {
                        // Unknown or expired: never adopt a client-chosen id; drop the stale cookie.
                        tracing::debug!(session = ?id, "unknown or expired session id; starting a fresh session");
                        if state.cookie == CookieChange::Keep {
                            state.cookie = CookieChange::Remove;
                        }
                        Loaded {
                            id: None,
                            values: Record::new(),
                        }
                    }
                },
            };
            state.loaded = Some(loaded);
        }
        Ok(loaded_mut(state))
    }

    /// The id to write under, minting one for a session that does not exist
    /// yet (the one this request's session-scoped cache calls used, if any).
    async fn id_for_write(&self, state: &mut State) -> Result<(SessionId, bool), SessionError> {
        Ok(match self.loaded(state).await?.id {
            Some(id) => (id, false),
            None => (self.fresh_id(), true),
        })
    }

    fn written(&self, state: &mut State, id: SessionId, new: bool) {
        if new {
            loaded_mut(state).id = Some(id);
            state.cookie = CookieChange::Set(id);
            self.inner.shared.hooks.started(id);
        }
    }

    fn encode<T: StateValue>(&self, key: &StateKey<T>, value: &T) -> Result<String, SessionError> {
        let json = serde_json::to_string(value).map_err(|source| SessionError::Encode {
            key: key.name().to_owned(),
            source,
        })?;
        let max = self.inner.shared.limits.max_value_bytes;
        if json.len() > max {
            return Err(SessionError::ValueTooLarge {
                key: key.name().to_owned(),
                size: json.len(),
                max,
            });
        }
        Ok(json)
    }
}

/// The stored name under which a session created for its session-scoped
/// cache entries (and nothing else yet) records when it started.
const CREATED_KEY: &str = "$$created";

fn unix_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

/// Whether a stored name is the library's own (see [`RESERVED_PREFIX`]),
/// hidden from [`Session::keys`] and [`Session::to_json`].
fn is_reserved(name: &str) -> bool {
    name.starts_with(super::key::RESERVED_PREFIX)
}

fn loaded_mut(state: &mut State) -> &mut Loaded {
    state.loaded.get_or_insert_with(|| Loaded {
        id: None,
        values: Record::new(),
    })
}

fn decode<T: StateValue>(key: &StateKey<T>, json: Option<&str>) -> T {
    match json.map(serde_json::from_str::<T>) {
        None => key.default_value(),
        Some(Ok(value)) => value,
        Some(Err(error)) => {
            warn_undecodable(key, &error);
            key.default_value()
        }
    }
}

fn warn_undecodable<T>(key: &StateKey<T>, error: &serde_json::Error) {
    tracing::warn!(
        key = key.name(),
        r#type = std::any::type_name::<T>(),
        %error,
        "stored session value no longer decodes as the key's type (changed between deployments?); using the default"
    );
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Ids are redacted by `SessionId`'s `Debug`; values are left out (they may be personal data).
        let mut out = f.debug_struct("Session");
        match self.inner.state.try_lock() {
            Ok(state) => {
                out.field("incoming", &state.incoming);
                match &state.loaded {
                    Some(loaded) => {
                        let mut keys: Vec<_> = loaded.values.keys().collect();
                        keys.sort_unstable();
                        out.field("id", &loaded.id).field("keys", &keys)
                    }
                    None => out.field("loaded", &false),
                }
            }
            Err(_) => out.field("state", &"<in use>"),
        };
        out.finish_non_exhaustive()
    }
}

/// The private wrapper under which the layer puts the session in the request's
/// extensions, so it cannot collide with a user's own `Session` value.
#[derive(Clone, Debug)]
pub(crate) struct SessionSlot(pub(crate) Session);

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = MissingSessionLayer;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<SessionSlot>()
            .map(|slot| slot.0.clone())
            .ok_or(MissingSessionLayer)
    }
}
