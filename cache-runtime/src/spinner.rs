//! The terminal spinner (`show_spinner`, `show_time`): drawn on stderr while
//! an outermost miss computes, when stderr is a terminal (never into a pipe
//! or a log file), and erased when the call returns. Behind the default
//! `spinner` feature, drawn with `indicatif`.

/// A spinner on screen; erased when dropped.
#[derive(Debug)]
pub(crate) struct Shown {
    #[cfg(feature = "spinner")]
    bar: indicatif::ProgressBar,
}

/// Draws `text` (with the time elapsed, at 0.1 s precision, when
/// `show_time`) until the returned [`Shown`] is dropped; `None` when stderr
/// is not a terminal or the feature is off.
#[cfg(feature = "spinner")]
pub(crate) fn show(text: String, show_time: bool) -> Option<Shown> {
    use std::time::Duration;

    use indicatif::{ProgressBar, ProgressStyle};

    let screen = screen()?;
    let template = if show_time {
        "{spinner} {msg} ({elapsed_tenths})"
    } else {
        "{spinner} {msg}"
    };
    let style = ProgressStyle::with_template(template)
        .ok()?
        .with_key(
            "elapsed_tenths",
            |state: &indicatif::ProgressState, out: &mut dyn std::fmt::Write| {
                let _ = write!(out, "{:.1} s", state.elapsed().as_secs_f64());
            },
        )
        .tick_strings(&["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏", "✓"]);
    let bar = screen.add(
        ProgressBar::new_spinner()
            .with_style(style)
            .with_message(text),
    );
    bar.enable_steady_tick(Duration::from_millis(100));
    Some(Shown { bar })
}

/// The spinners of every thread, drawn together (one line each) on stderr;
/// `None` when stderr is not a terminal.
#[cfg(feature = "spinner")]
fn screen() -> Option<&'static indicatif::MultiProgress> {
    use std::io::IsTerminal;
    use std::sync::OnceLock;

    use indicatif::{MultiProgress, ProgressDrawTarget};

    static SCREEN: OnceLock<Option<MultiProgress>> = OnceLock::new();
    SCREEN
        .get_or_init(|| {
            std::io::stderr()
                .is_terminal()
                .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()))
        })
        .as_ref()
}

/// Whether a spinner would be drawn (stderr is a terminal, the feature is on).
pub(crate) fn available() -> bool {
    #[cfg(feature = "spinner")]
    return screen().is_some();
    #[cfg(not(feature = "spinner"))]
    return false;
}

/// Without the `spinner` feature nothing is drawn.
#[cfg(not(feature = "spinner"))]
pub(crate) fn show(text: String, show_time: bool) -> Option<Shown> {
    let _ = (text, show_time);
    None
}

#[cfg(feature = "spinner")]
impl Drop for Shown {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}
