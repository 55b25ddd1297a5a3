use state::{state_keys, Session, SessionError};

state_keys! {
    pub VISITS: u64 = 0;
}

async fn page(session: Session) -> Result<(), SessionError> {
    session.set(&VISITS, "one").await
}

fn main() {}
