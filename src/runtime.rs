//! What `commands/` and the layers below it both need and neither owns: the async runtime a
//! command runs on, who and what a run is (the actor and a fresh run id), and interruptions
//! (SIGINT, SIGTERM) that long work checks for.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::error::{Error, Result};

/// Who and what a run is, recorded on every row and event.
#[derive(Debug, Clone)]
pub struct RunInfo {
    pub environment: String,
    pub deploy_id: String,
    pub release: Option<String>,
    pub actor: String,
}

/// Now, as RFC 3339 with milliseconds, for records written by runner rather than the database.
pub fn timestamp_now() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

/// Runs a future to completion on a single-threaded runtime: one connection, one task.
pub fn block_on<T>(future: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Usage(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(future)
}

/// Runs `work` over `items` on every core; the results keep the input order.
pub fn in_parallel<T: Sync, R: Send>(items: &[T], work: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if threads < 2 || items.len() < 2 {
        return items.iter().map(&work).collect();
    }
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(|| part.iter().map(&work).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            // A worker's panic is the caller's: no result is dropped silently.
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// Who runs runner: RUNNER_APPLIED_BY, else user@host.
pub fn actor() -> String {
    std::env::var("RUNNER_APPLIED_BY")
        .ok()
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| {
            let user = std::env::var("USER")
                .or_else(|_| std::env::var("LOGNAME"))
                .ok()
                .filter(|u| !u.is_empty())
                .or_else(login_name)
                .unwrap_or_else(|| format!("uid{}", current_uid()));
            format!("{user}@{}", hostname())
        })
}

fn current_uid() -> u32 {
    // SAFETY: getuid(2) cannot fail and has no side effect.
    unsafe { libc::getuid() }
}

/// The OS login name of the user running runner (from the password database), for sessions
/// (CI, cron, containers) whose environment sets neither USER nor LOGNAME.
fn login_name() -> Option<String> {
    let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 4096];
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: getpwuid_r(3) writes only into `entry` and `buf`, both ours and large enough
    // (it reports ERANGE otherwise); `found` points to `entry` or is null.
    let rc = unsafe {
        libc::getpwuid_r(
            current_uid(),
            &mut entry,
            buf.as_mut_ptr(),
            buf.len(),
            &mut found,
        )
    };
    if rc != 0 || found.is_null() || entry.pw_name.is_null() {
        return None;
    }
    // SAFETY: pw_name is a NUL-terminated string inside `buf`, alive here.
    let name = unsafe { std::ffi::CStr::from_ptr(entry.pw_name) };
    name.to_str()
        .ok()
        .filter(|n| !n.is_empty())
        .map(String::from)
}

/// Who and what this run is, for the history: a fresh deploy id and the actor.
pub fn run_info(environment: &str, release: Option<String>) -> RunInfo {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    RunInfo {
        environment: environment.to_string(),
        deploy_id: format!("{millis:x}-{:x}", std::process::id()),
        release,
        actor: actor(),
    }
}

pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at most that much.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "localhost".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

static SIGNALS: AtomicUsize = AtomicUsize::new(0);
/// The signal count at which the process ends at once.
static EXIT_AT: AtomicUsize = AtomicUsize::new(3);
static WATCHING: OnceLock<std::result::Result<(), String>> = OnceLock::new();

/// From now on SIGINT and SIGTERM are counted instead of ending the process, so that a
/// command can stop at a safe point and record how it stopped. The first asks the work to
/// stop; the second asks it to stop waiting on anything (a deploy then leaves its record in
/// doubt); a third ends the process at once. Commands that change nothing never call this:
/// for them a signal keeps its default meaning.
pub fn watch_interrupts() -> Result<()> {
    WATCHING
        .get_or_init(|| {
            use signal_hook::consts::{SIGINT, SIGTERM};
            let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])
                .map_err(|e| format!("cannot watch for SIGINT and SIGTERM: {e}"))?;
            std::thread::Builder::new()
                .name("signals".into())
                .spawn(move || {
                    for _ in signals.forever() {
                        if SIGNALS.fetch_add(1, Ordering::SeqCst) + 1
                            >= EXIT_AT.load(Ordering::SeqCst)
                        {
                            std::process::exit(crate::error::ExitCode::Interrupted as i32);
                        }
                    }
                })
                .map(drop)
                .map_err(|e| format!("cannot watch for SIGINT and SIGTERM: {e}"))
        })
        .clone()
        .map_err(Error::Usage)
}

/// Makes the `count`-th signal end the process at once (default: the third). `runner migrate`
/// ends at the second: its first stops at the next statement boundary, and a second means
/// "now", mid-statement (the server rolls the statement's transaction back).
pub fn exit_at_signal(count: usize) {
    EXIT_AT.store(count.max(2), Ordering::SeqCst);
}

/// How many interrupting signals arrived.
pub fn interrupts() -> usize {
    SIGNALS.load(Ordering::SeqCst)
}

/// Whether a signal asked the run to stop.
pub fn interrupted() -> bool {
    interrupts() > 0
}

/// Sleeps for `duration`, waking early when `interrupt_at` signals have arrived (then true).
pub fn sleep_unless_interrupted(duration: Duration, interrupt_at: usize) -> bool {
    let until = std::time::Instant::now() + duration;
    while interrupts() < interrupt_at {
        let left = until.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return false;
        }
        std::thread::sleep(left.min(Duration::from_millis(25)));
    }
    true
}

/// Resolves once at least `count` signals arrived (for `tokio::select!` against work).
pub async fn interrupts_reach(count: usize) {
    while interrupts() < count {
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
