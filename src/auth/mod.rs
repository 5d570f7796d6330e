//! Lab 3: who is asking? Cookies, sessions, accounts and passwords.
//!
//! HTTP is stateless: each request stands alone. This layer lets a server
//! remember that a browser logged in, safely (`docs/lab3_auth.md`). The
//! first modules know nothing of HTTP; the last ones, from [`app`] on, put
//! them on the wire.
//!
//! Read from the bottom up:
//!
//! | module | what it does | follows |
//! |---|---|---|
//! | [`hex`] | bytes as lowercase hex text | RFC 4648 §8 |
//! | [`sha256`] | the SHA-256 hash | FIPS 180-4 |
//! | [`hmac`] | HMAC-SHA-256, a keyed hash | RFC 2104 |
//! | [`pbkdf2`] | PBKDF2, a slow hash for passwords | RFC 8018 §5.2 |
//! | [`random`] | unpredictable bytes from `/dev/urandom` | `random(4)` |
//! | [`password`] | salted password hashes in one string; constant-time comparison | NIST SP 800-132 |
//! | [`cookie`] | the `Cookie` header read, `Set-Cookie` written | RFC 6265 |
//! | [`bounded`] | keeping per-client maps under a cap | |
//! | [`session`] | server-side sessions with idle and absolute expiry | OWASP session management |
//! | [`throttle`] | refusing password guessing: a lockout per user and address | RFC 6585 §4 (429) |
//! | [`accounts`] | users and password hashes, saved atomically to a file | POSIX `rename(2)` |
//! | [`app`] | [`app::Auth`]: all of the above for one server, and the session of a request | |
//! | [`credentials`] | the two fields of a login body, JSON or form | RFC 8259; HTML forms |
//! | [`reply`] | the JSON and HTML answers | RFC 9111 §5.2.2.5 (`no-store`) |
//! | [`guard`] | protected routes: a handler that runs only with a live session | RFC 9110 §15.5.2 (401) |
//! | [`routes`] | `/login`, `/logout`, `/whoami`, `/register` | the course's contract |
//! | [`serve`] | the flags of the labs with logins | |
//! | [`demo`] | lab 3's application: the routes and a protected home page | |
//!
//! Time comes from [`crate::clock::Clock`], so tests move it by hand.

pub mod accounts;
pub mod app;
pub mod bounded;
pub mod cookie;
pub mod credentials;
pub mod demo;
pub mod guard;
pub mod hex;
pub mod hmac;
pub mod password;
pub mod pbkdf2;
pub mod random;
pub mod reply;
pub mod routes;
pub mod serve;
pub mod session;
pub mod sha256;
pub mod throttle;

pub use app::{Auth, AuthConfig};
pub use guard::{Protected, ProtectedFiles, Unauthorized};
