use state::{state_keys, Session};

state_keys! {
    pub VISITS: u64 = 0;
}

async fn page(session: Session) -> u64 {
    session.get(&VISTS).await
}

fn main() {}
