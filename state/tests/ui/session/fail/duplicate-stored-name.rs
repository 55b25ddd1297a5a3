use state::state_keys;

state_keys! {
    pub THEME: String;
    pub COLOURS: String => "THEME";
}

fn main() {}
