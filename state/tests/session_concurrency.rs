//! Concurrent requests of one session: no lost updates, atomic increments,
//! spawned tasks and two app instances, on the memory store.

mod session_common;

use session_common::*;
use state::MemoryStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writes_to_different_keys_are_all_kept() {
    no_lost_update(MemoryStore::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_increments_are_atomic() {
    atomic_increments(MemoryStore::new(), 200).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn session_works_in_spawned_tasks() {
    spawned_tasks(MemoryStore::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_routers_share_one_store() {
    let store = MemoryStore::new();
    shared_between_instances(store.clone(), store, 100).await;
}

#[test]
fn session_is_clone_send_sync() {
    fn check<T: Clone + Send + Sync + 'static>() {}
    check::<state::Session>();
    check::<MemoryStore>();
}
