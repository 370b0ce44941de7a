//! `error_text`: an error and its causes on one line, each text once.

use tanji_cli::error_text;

#[test]
fn an_error_chain_prints_each_text_once() {
    let io = std::io::Error::from_raw_os_error(17);
    let io_text = io.to_string();
    /// Like `tanji_park::ParkError::Io`: prints its source and returns it as its source.
    #[derive(Debug)]
    struct Wrapped {
        path: String,
        source: std::io::Error,
    }
    impl std::fmt::Display for Wrapped {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{}: {}", self.path, self.source)
        }
    }
    impl std::error::Error for Wrapped {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.source)
        }
    }
    let e = anyhow::Error::new(Wrapped {
        path: "/tmp/x".into(),
        source: io,
    })
    .context("creating a park in /tmp/x");
    assert_eq!(
        error_text(&e),
        format!("creating a park in /tmp/x: /tmp/x: {io_text}")
    );
    let plain = anyhow::anyhow!("inner").context("outer");
    assert_eq!(error_text(&plain), "outer: inner");
}
