//! User accounts: names and password hashes, kept in a file that a crash
//! cannot damage.
//!
//! The accounts live in `DIR/accounts.txt` (`DIR` is the binary's `--data`
//! flag), one account a line, name and stored hash ([`super::password`])
//! separated by a colon — which is why a name may not contain one:
//!
//! ```text
//! admin:pbkdf2-sha256$600000$5d1e…$a3c0…
//! alice:pbkdf2-sha256$600000$0b7f…$19e4…
//! ```
//!
//! **Writing** replaces the whole file *atomically*: the new contents go to
//! a temporary file in the same directory, which is flushed to the disk
//! (`fsync`) and then renamed over the old file; last, the directory itself
//! is flushed so that the rename is on the disk too. A rename within one
//! file system is atomic (POSIX `rename(2)`): after a crash at any moment
//! the file is either the old one or the new one, never half of each
//! ([`crate::durable::replace_file`], shared with the chat's tracker).
//!
//! **Reading** at start is forgiving: a missing file means no accounts yet,
//! and a malformed line is skipped with a warning on stderr — one damaged
//! line must not stop the server or lose the other accounts.
//!
//! The course's demo account, `admin` / `password`, always exists: when the
//! file does not have it, it is made in memory at start (and written with
//! the first account registered).
//!
//! [`Accounts::verify`] takes as long for a name that does not exist as for
//! one that does (it checks the password against a dummy hash), so its
//! timing does not tell an attacker which names are registered.
//!
//! Left out on purpose: deleting accounts and changing passwords (the same
//! atomic write would do both), case-insensitive names (`Alice` and `alice`
//! are two accounts), and sharing one data directory between two running
//! servers (each would overwrite the other's registrations).

use std::collections::BTreeMap;
use std::error::Error;
use std::fmt;
use std::fs;
use std::hint::black_box;
use std::io;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::password::{StoredHash, hash_password, verify_password};
use crate::durable;

/// The accounts file's name inside the data directory.
pub const ACCOUNTS_FILE: &str = "accounts.txt";

/// The demo account's name (the course's).
pub const DEMO_USERNAME: &str = "admin";

/// The demo account's password (the course's).
pub const DEMO_PASSWORD: &str = "password";

/// Longest name allowed, in characters.
pub const NAME_MAX_LEN: usize = 32;

/// Shortest password allowed, in characters: the issue's rule, and the
/// minimum of NIST SP 800-63B (revision 3, §5.1.1.2).
pub const PASSWORD_MIN_LEN: usize = 8;

/// Separates the name from the hash on a line of the accounts file.
const NAME_SEPARATOR: char = ':';

/// The password the dummy hash is made from. Its value does not matter: a
/// login for an unknown name fails whatever the password.
const DUMMY_PASSWORD: &str = "no account has this hash";

/// Checks a name against the kit's rule: 1 to [`NAME_MAX_LEN`] ASCII
/// letters, digits, `_`, `-` and `.`. The error is a sentence for the user.
///
/// Accounts use it for usernames, and the chat reuses it for peer and
/// channel names, so one rule keeps names safe everywhere: no spaces, no
/// `:` (the accounts file's separator), nothing that needs escaping in a
/// URL, a header or HTML.
pub fn valid_name(name: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    if !name.chars().all(allowed) {
        return Err("a name may contain only letters, digits, '_', '-' and '.'".to_string());
    }
    if name.is_empty() || name.len() > NAME_MAX_LEN {
        return Err(format!(
            "a name must be 1 to {NAME_MAX_LEN} characters long"
        ));
    }
    Ok(())
}

/// Checks a new password: at least [`PASSWORD_MIN_LEN`] characters (any
/// characters: length is what makes a password hard to guess).
pub fn valid_password(password: &str) -> Result<(), String> {
    if password.chars().count() < PASSWORD_MIN_LEN {
        return Err(format!(
            "a password must be at least {PASSWORD_MIN_LEN} characters long"
        ));
    }
    Ok(())
}

/// Why [`Accounts::register`] refused.
#[derive(Debug)]
pub enum RegisterError {
    /// The name or password breaks the rules; the message says how (400).
    Invalid(String),
    /// An account of that name exists (409).
    Taken,
    /// The random source or the accounts file failed (500).
    Io(io::Error),
}

impl fmt::Display for RegisterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegisterError::Invalid(message) => f.write_str(message),
            RegisterError::Taken => f.write_str("that name is taken"),
            RegisterError::Io(error) => write!(f, "cannot save the account: {error}"),
        }
    }
}

impl Error for RegisterError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            RegisterError::Io(error) => Some(error),
            RegisterError::Invalid(_) | RegisterError::Taken => None,
        }
    }
}

impl From<io::Error> for RegisterError {
    fn from(error: io::Error) -> Self {
        RegisterError::Io(error)
    }
}

/// The accounts of one server; share it between connection threads with an
/// `Arc`. Every method takes `&self`.
#[derive(Debug)]
pub struct Accounts {
    /// The data directory.
    dir: PathBuf,
    /// The iteration count for new password hashes.
    iterations: NonZeroU32,
    /// A hash of [`DUMMY_PASSWORD`] at `iterations`, checked when the name
    /// is unknown so that the answer takes as long as for a real account.
    dummy_hash: String,
    /// Taken by [`Accounts::register`] around the whole change: copy the
    /// accounts, add one, write the file, publish. One writer at a time, so
    /// no registration overwrites another's. Lock order: `writer` first,
    /// then `users`; nothing takes them the other way round, so they cannot
    /// deadlock.
    writer: Mutex<()>,
    /// Name → stored hash, as in the file (plus the demo account). Held
    /// only to read one entry, copy the map or replace it — never during
    /// file I/O or password hashing, so a login never waits for a disk.
    users: Mutex<BTreeMap<String, String>>,
}

impl Accounts {
    /// Loads the accounts of data directory `dir` (which need not exist
    /// yet); new passwords will be hashed with `iterations`.
    ///
    /// Fails only if the file exists but cannot be read, or the random
    /// source fails. It computes two hashes (the demo account, if it is not
    /// in the file, and the dummy), so it takes as long as two logins.
    pub fn open(dir: &Path, iterations: NonZeroU32) -> io::Result<Accounts> {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        let path = dir.join(ACCOUNTS_FILE);
        let mut users = load(&path)?;
        if !users.contains_key(DEMO_USERNAME) {
            let demo = hash_password(DEMO_PASSWORD, iterations)?;
            users.insert(DEMO_USERNAME.to_string(), demo);
        }
        Ok(Accounts {
            dir: dir.to_path_buf(),
            iterations,
            dummy_hash: hash_password(DUMMY_PASSWORD, iterations)?,
            writer: Mutex::new(()),
            users: Mutex::new(users),
        })
    }

    /// Creates the account `username` with `password`, and saves it before
    /// returning: once this returns `Ok`, a crash does not lose it.
    pub fn register(&self, username: &str, password: &str) -> Result<(), RegisterError> {
        valid_name(username).map_err(RegisterError::Invalid)?;
        valid_password(password).map_err(RegisterError::Invalid)?;
        // A cheap check first, so that a taken name costs no slow hash.
        if self.contains(username) {
            return Err(RegisterError::Taken);
        }
        let hash = hash_password(password, self.iterations)?;

        let _writing = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let mut next = self.users().clone();
        // Checked again: someone may have taken the name while we hashed.
        if next.contains_key(username) {
            return Err(RegisterError::Taken);
        }
        next.insert(username.to_string(), hash);
        write_atomically(&self.dir, &render(&next))?;
        *self.users() = next;
        Ok(())
    }

    /// True when `username` exists and `password` is its password.
    ///
    /// Takes about as long either way: an unknown name is checked against a
    /// dummy hash, so timing does not reveal which names exist.
    pub fn verify(&self, username: &str, password: &str) -> bool {
        // The lock is released at the end of this statement, before hashing.
        let stored = self.users().get(username).cloned();
        match stored {
            Some(stored) => verify_password(password, &stored),
            None => {
                // `black_box`: the result is unused, and without it the
                // optimiser could skip the whole computation.
                black_box(verify_password(password, &self.dummy_hash));
                false
            }
        }
    }

    /// True when an account called `username` exists.
    pub fn contains(&self, username: &str) -> bool {
        self.users().contains_key(username)
    }

    fn users(&self) -> MutexGuard<'_, BTreeMap<String, String>> {
        // Poisoned only by a panic while the lock was held; the map is
        // replaced whole or not at all, so it is consistent.
        self.users.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Reads the accounts file at `path`; missing means empty, and malformed
/// lines are skipped with a warning.
fn load(path: &Path) -> io::Result<BTreeMap<String, String>> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(error) => return Err(error),
    };
    // Invalid UTF-8 becomes U+FFFD, which no valid name contains: that line
    // is then skipped like any other malformed one.
    let text = String::from_utf8_lossy(&bytes);
    let mut users = BTreeMap::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let problem = match parse_line(line) {
            Ok((name, _)) if users.contains_key(name) => {
                format!("{name:?} appears again; the first line for it is kept")
            }
            Ok((name, hash)) => {
                users.insert(name.to_string(), hash.to_string());
                continue;
            }
            Err(problem) => problem,
        };
        eprintln!(
            "warning: {}:{}: line skipped: {problem}",
            path.display(),
            index + 1
        );
    }
    Ok(users)
}

/// One line of the accounts file: `name:stored-hash`.
fn parse_line(line: &str) -> Result<(&str, &str), String> {
    let Some((name, hash)) = line.split_once(NAME_SEPARATOR) else {
        return Err(format!("no '{NAME_SEPARATOR}' between name and hash"));
    };
    valid_name(name)?;
    if StoredHash::parse(hash).is_none() {
        return Err("the hash is not of the form pbkdf2-sha256$ITER$SALT$HASH".to_string());
    }
    Ok((name, hash))
}

/// The accounts file's contents for `users`, one line each, sorted by name.
fn render(users: &BTreeMap<String, String>) -> String {
    users
        .iter()
        .map(|(name, hash)| format!("{name}{NAME_SEPARATOR}{hash}\n"))
        .collect()
}

/// Replaces `dir/accounts.txt` with `contents` so that a crash at any moment
/// leaves either the old file or the new one whole.
fn write_atomically(dir: &Path, contents: &str) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    durable::replace_file(&dir.join(ACCOUNTS_FILE), contents.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::password::TEST_ITERATIONS;
    use crate::durable::TempDir;
    use std::thread;

    fn open(dir: &TempDir) -> Accounts {
        Accounts::open(dir.path(), TEST_ITERATIONS).expect("open accounts")
    }

    fn file_text(dir: &TempDir) -> String {
        fs::read_to_string(dir.path().join(ACCOUNTS_FILE)).expect("accounts file readable")
    }

    #[test]
    fn a_fresh_directory_has_the_demo_account_only() {
        let dir = TempDir::new("accounts");
        let accounts = open(&dir);
        assert!(
            accounts.verify(DEMO_USERNAME, DEMO_PASSWORD),
            "admin / password should always log in"
        );
        assert!(
            !accounts.verify(DEMO_USERNAME, "Password"),
            "wrong password"
        );
        assert!(!accounts.verify("nobody", DEMO_PASSWORD), "unknown name");
        assert!(
            !dir.path().exists(),
            "opening should not create anything on disk before a registration"
        );
    }

    #[test]
    fn a_registered_account_logs_in_and_survives_a_restart() {
        let dir = TempDir::new("accounts");
        open(&dir)
            .register("alice", "correct horse")
            .expect("register alice");
        let text = file_text(&dir);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines.len(),
            2,
            "accounts file should have admin and alice, one line each:\n{text}"
        );
        assert!(
            lines[1].starts_with("alice:pbkdf2-sha256$1000$"),
            "alice's line should be name:scheme$count$..., got {:?}",
            lines[1]
        );
        let reopened = open(&dir);
        assert!(
            reopened.verify("alice", "correct horse"),
            "after a restart alice should still log in"
        );
        assert!(reopened.verify(DEMO_USERNAME, DEMO_PASSWORD));
        assert!(!reopened.verify("alice", "wrong horse"));
        assert!(
            !dir.path().join("accounts.txt.tmp").exists(),
            "the temporary file should be gone after the rename"
        );
    }

    #[test]
    fn registration_refuses_bad_names_passwords_and_taken_names() {
        let dir = TempDir::new("accounts");
        let accounts = open(&dir);
        accounts.register("bob", "12345678").expect("register bob");
        let long = "x".repeat(NAME_MAX_LEN + 1);
        // (name, password, expected error: "taken" or part of the message)
        let cases = [
            ("", "12345678", "1 to 32"),
            (long.as_str(), "12345678", "1 to 32"),
            ("a:b", "12345678", "letters, digits"),
            ("a b", "12345678", "letters, digits"),
            ("caf\u{e9}", "12345678", "letters, digits"),
            ("a/b", "12345678", "letters, digits"),
            ("carol", "1234567", "at least 8"),
            ("carol", "", "at least 8"),
            (
                "carol",
                "\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}",
                "at least 8",
            ),
            (DEMO_USERNAME, "12345678", "taken"),
            ("bob", "another password", "taken"),
        ];
        for (name, password, expected) in cases {
            let result = accounts.register(name, password);
            let matches = match &result {
                Err(RegisterError::Taken) => expected == "taken",
                Err(RegisterError::Invalid(message)) => message.contains(expected),
                _ => false,
            };
            assert!(
                matches,
                "register({name:?}, {password:?}): got {result:?}, expected {expected:?}"
            );
        }
        assert!(
            accounts.verify("bob", "12345678"),
            "bob's password unchanged"
        );
    }

    #[test]
    fn the_name_rule_accepts_exactly_its_alphabet() {
        let good = ["a", "Alice_99", "x.y-z", &"n".repeat(NAME_MAX_LEN)];
        for name in good {
            assert_eq!(valid_name(name), Ok(()), "name {name:?} should be valid");
        }
        for name in ["", "a b", "a:b", "a;b", "<b>", "a\n", "\u{0430}dmin"] {
            assert!(valid_name(name).is_err(), "name {name:?} should be refused");
        }
    }

    #[test]
    fn malformed_lines_are_skipped_and_the_rest_loaded() {
        let dir = TempDir::new("accounts");
        let good = hash_password("alice's password", TEST_ITERATIONS).expect("hash");
        let other = hash_password("other", TEST_ITERATIONS).expect("hash");
        let contents = format!(
            "alice:{good}\r\n\
             \n\
             garbage without a colon\n\
             bad name:{good}\n\
             carol:pbkdf2-sha256$1000$nothex$nothex\n\
             dave:\n\
             alice:{other}\n\
             eve:{good}"
        );
        fs::create_dir_all(dir.path()).expect("create dir");
        fs::write(dir.path().join(ACCOUNTS_FILE), contents).expect("write file");
        let accounts = open(&dir);
        let cases = [
            ("alice", "alice's password", true),
            ("alice", "other", false),
            ("eve", "alice's password", true),
            ("carol", "x", false),
            ("dave", "", false),
            (DEMO_USERNAME, DEMO_PASSWORD, true),
        ];
        for (name, password, expected) in cases {
            assert_eq!(
                accounts.verify(name, password),
                expected,
                "after loading a file with malformed lines, verify({name:?}, {password:?})"
            );
        }
    }

    #[test]
    fn a_leftover_temporary_file_from_a_crash_is_ignored_and_replaced() {
        let dir = TempDir::new("accounts");
        open(&dir).register("alice", "password1").expect("register");
        // A crash during a later write leaves a half-written temporary file.
        let temp = dir.path().join("accounts.txt.tmp");
        fs::write(&temp, "bob:pbkdf2-sha256$10").expect("write temp");
        let accounts = open(&dir);
        assert!(accounts.verify("alice", "password1"), "alice survives");
        assert!(
            !accounts.contains("bob"),
            "the torn temporary file is not read"
        );
        accounts.register("carol", "password2").expect("register");
        assert!(!temp.exists(), "the next write renames over it");
        assert!(open(&dir).verify("carol", "password2"));
    }

    /// Runs `work(accounts, n)` on threads `n = 0..threads`, all at once,
    /// and returns their results in thread order.
    fn on_threads<T: Send>(
        accounts: &Accounts,
        threads: usize,
        work: impl Fn(&Accounts, usize) -> T + Sync,
    ) -> Vec<T> {
        let work = &work;
        thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|n| scope.spawn(move || work(accounts, n)))
                .collect();
            workers
                .into_iter()
                .map(|worker| {
                    worker
                        .join()
                        .expect("worker thread finished without panicking")
                })
                .collect()
        })
    }

    #[test]
    fn concurrent_registrations_are_all_saved() {
        let dir = TempDir::new("accounts");
        let name = |worker: usize, n: usize| format!("user{worker}-{n}");
        on_threads(&open(&dir), 4, |accounts, worker| {
            for n in 0..3 {
                accounts
                    .register(&name(worker, n), "password1")
                    .expect("register");
            }
        });
        let reopened = open(&dir);
        for worker in 0..4 {
            for n in 0..3 {
                let name = name(worker, n);
                assert!(
                    reopened.contains(&name),
                    "{name} was registered concurrently but is missing after a restart:\n{}",
                    file_text(&dir)
                );
            }
        }
    }

    #[test]
    fn the_same_name_registered_twice_at_once_is_taken_once() {
        let dir = TempDir::new("accounts");
        let results = on_threads(&open(&dir), 4, |accounts, _| {
            accounts.register("alice", "password1")
        });
        let created = results.iter().filter(|result| result.is_ok()).count();
        assert_eq!(
            created, 1,
            "four threads registering alice: expected exactly one success, got {results:?}"
        );
    }
}
