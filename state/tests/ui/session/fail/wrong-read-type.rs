use state::{state_keys, Session};

state_keys! {
    pub USER: Option<String>;
}

async fn page(session: Session) -> String {
    session.get(&USER).await
}

fn main() {}
