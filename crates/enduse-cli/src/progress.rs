//! Progress bars for long work, shown only to a person at a terminal.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress bar on standard error; invisible when standard error is not a
/// terminal or when the output is JSON, so that pipes and logs stay clean.
pub struct Bar(ProgressBar);

impl Bar {
    /// A bar for the work named `what`.
    pub fn new(what: &str, json: bool) -> Self {
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        if json || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            bar.set_draw_target(ProgressDrawTarget::hidden());
        }
        if let Ok(style) = ProgressStyle::with_template("{msg:>12} [{bar:40}] {pos}/{len} ({eta})")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(what.to_owned());
        Self(bar)
    }

    /// A spinner for work of unknown length.
    pub fn spinner(what: &str, json: bool) -> Self {
        let bar = ProgressBar::new_spinner();
        if json || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            bar.set_draw_target(ProgressDrawTarget::hidden());
        } else {
            bar.set_draw_target(ProgressDrawTarget::stderr());
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
        }
        bar.set_message(what.to_owned());
        Self(bar)
    }

    /// Sets the position and the total.
    pub fn set(&self, done: u64, total: u64) {
        self.0.set_length(total);
        self.0.set_position(done);
    }

    /// Names the work now under way.
    pub fn message(&self, what: &str) {
        self.0.set_message(what.to_owned());
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.0.finish_and_clear();
    }
}
