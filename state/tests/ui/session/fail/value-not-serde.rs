use state::state_keys;

struct Connection;

state_keys! {
    pub CONN: Option<Connection>;
}

fn main() {}
