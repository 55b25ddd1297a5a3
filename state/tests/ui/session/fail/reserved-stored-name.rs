use state::state_keys;

state_keys! {
    pub INTERNAL: u64 => "$$ID";
}

fn main() {}
