use state::Session;

async fn page(session: Session) -> u64 {
    session.get("VISITS").await
}

fn main() {}
