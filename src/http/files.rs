//! Static files from a root directory (`--www`), safely and fast.
//!
//! **Safety first.** A request path is attacker-controlled text, and the
//! classic static-file bug is a path that walks out of the root:
//! `/../../etc/passwd`, its encoded forms `/%2e%2e/%2e%2e/etc/passwd` and
//! `/..%2fetc/passwd`, a NUL byte that truncates the name in C code, or a
//! symbolic link inside the root that points outside it. Every one of them
//! gets 404 here — never the file — because a path is accepted only if:
//!
//! 1. each segment, percent-decoded, is a plain name: not `..`, not a
//!    hidden `.name`, with no `/`, `\` or NUL inside ([`safe_relative_path`]);
//! 2. the file, with every symlink resolved (`canonicalize`), is still
//!    inside the canonical root.
//!
//! **Then HTTP's caching rules** (RFC 9110 §8.8, §13): every file carries an
//! `ETag` and a `Last-Modified` date; a client that sends the `ETag` back in
//! `If-None-Match` (or the date in `If-Modified-Since`) and still has the
//! current version gets `304 Not Modified` and no body.
//!
//! **Then speed**: small files are kept in memory with their `ETag`, and
//! re-checked against the disk at most once per [`REVALIDATE_AFTER`], so an
//! edited file is served within a second without a `stat` per request.
//! Large files are never read whole: they are streamed from disk.
//!
//! Left out on purpose: range requests (`206 Partial Content`), directory
//! listings, and compression.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::date;
use super::method::Method;
use super::request::Request;
use super::response::{Body, Response};
use super::router::{Handler, method_not_allowed};
use super::status::StatusCode;
use super::url;
use crate::clock::Clock;

/// Files up to this size are kept in memory.
pub const CACHE_MAX_FILE_BYTES: u64 = 256 * 1024;

/// Most entries in the cache; when full, it starts over (request paths are
/// chosen by clients, so an unbounded cache would be a memory leak).
const CACHE_MAX_ENTRIES: usize = 1024;

/// How long a cached file is served before the disk is checked again.
pub const REVALIDATE_AFTER: Duration = Duration::from_secs(1);

/// The file served for a directory.
const INDEX_FILE: &str = "index.html";

/// Serves the files under one directory.
pub struct StaticFiles {
    root: PathBuf,
    clock: Clock,
    /// Recently served files by request path. Many connection threads read
    /// it at once; a writer holds it only to insert one entry, never across
    /// file I/O, so it cannot deadlock.
    cache: RwLock<HashMap<String, Arc<CachedFile>>>,
}

/// What the server knows about one file.
#[derive(Debug)]
struct CachedFile {
    path: PathBuf,
    len: u64,
    modified: SystemTime,
    etag: String,
    last_modified: String,
    content_type: &'static str,
    /// The contents, for small files.
    bytes: Option<Arc<[u8]>>,
    checked_at: Instant,
}

/// The outcome of looking a request path up on disk.
enum Lookup {
    File(Arc<CachedFile>),
    /// A directory asked for without its trailing slash.
    AddSlash,
    Missing,
}

impl StaticFiles {
    /// Serves the files under `root`, which must be a directory.
    pub fn new(root: impl AsRef<Path>, clock: Clock) -> io::Result<StaticFiles> {
        let root = fs::canonicalize(root.as_ref()).map_err(|error| {
            io::Error::new(
                error.kind(),
                format!("web root {}: {error}", root.as_ref().display()),
            )
        })?;
        if !root.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("web root {} is not a directory", root.display()),
            ));
        }
        Ok(StaticFiles {
            root,
            clock,
            cache: RwLock::new(HashMap::new()),
        })
    }

    fn lookup(&self, raw_path: &str) -> Lookup {
        let now = self.clock.now();
        let cached = self
            .cache
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(raw_path)
            .cloned();
        if let Some(entry) = &cached
            && now.saturating_duration_since(entry.checked_at) < REVALIDATE_AFTER
        {
            return Lookup::File(Arc::clone(entry));
        }
        let lookup = self.load(raw_path, cached.as_deref(), now);
        if let Lookup::File(entry) = &lookup {
            let mut cache = self.cache.write().unwrap_or_else(PoisonError::into_inner);
            if cache.len() >= CACHE_MAX_ENTRIES {
                cache.clear();
            }
            cache.insert(raw_path.to_string(), Arc::clone(entry));
        }
        lookup
    }

    /// Finds the file for a request path on disk, reusing `previous` if
    /// the file has not changed since.
    fn load(&self, raw_path: &str, previous: Option<&CachedFile>, now: Instant) -> Lookup {
        let Some(relative) = safe_relative_path(raw_path) else {
            return Lookup::Missing;
        };
        let mut path = self.root.join(&relative);
        if path.is_dir() {
            if !raw_path.ends_with('/') {
                return Lookup::AddSlash;
            }
            path.push(INDEX_FILE);
        }
        let Some((path, metadata)) = self.confine(&path) else {
            return Lookup::Missing;
        };
        let modified = metadata.modified().unwrap_or(UNIX_EPOCH);
        let len = metadata.len();
        if let Some(previous) = previous
            && previous.path == path
            && previous.len == len
            && previous.modified == modified
        {
            return Lookup::File(Arc::new(CachedFile {
                bytes: previous.bytes.clone(),
                etag: previous.etag.clone(),
                last_modified: previous.last_modified.clone(),
                path,
                checked_at: now,
                ..*previous
            }));
        }
        let bytes = if len <= CACHE_MAX_FILE_BYTES {
            match fs::read(&path) {
                // The file may have changed between stat and read: trust the read.
                Ok(bytes) => Some(Arc::<[u8]>::from(bytes)),
                Err(_) => return Lookup::Missing,
            }
        } else {
            None
        };
        let len = bytes.as_ref().map_or(len, |bytes| bytes.len() as u64);
        Lookup::File(Arc::new(CachedFile {
            etag: entity_tag(len, modified),
            last_modified: date::format_http_date(modified),
            content_type: content_type(&path),
            path,
            len,
            modified,
            bytes,
            checked_at: now,
        }))
    }

    /// The canonical path and metadata of `path`, if it is a regular file
    /// inside the root once every symlink is resolved.
    fn confine(&self, path: &Path) -> Option<(PathBuf, fs::Metadata)> {
        // lab2: begin — resolve symlinks and refuse anything outside the root
        let canonical = fs::canonicalize(path).ok()?;
        if !canonical.starts_with(&self.root) {
            return None;
        }
        let metadata = fs::metadata(&canonical).ok()?;
        metadata.is_file().then_some((canonical, metadata))
        // lab2: end
    }
}

impl Handler for StaticFiles {
    fn handle(&self, request: &mut Request<'_>) -> Response {
        let method = request.method();
        if method != Method::Get && method != Method::Head {
            return method_not_allowed(method, &[Method::Get]);
        }
        let file = match self.lookup(request.path()) {
            Lookup::File(file) => file,
            Lookup::Missing => return Response::error(StatusCode::NOT_FOUND, "no such file"),
            Lookup::AddSlash => {
                // One leading `/`: `//docs/` would be a link to the host
                // `docs` (RFC 3986 §4.2), a redirect off this site.
                let path = format!("/{}/", request.path().trim_matches('/'));
                let location = match request.query() {
                    Some(query) => format!("{path}?{query}"),
                    None => path,
                };
                return Response::redirect(StatusCode::MOVED_PERMANENTLY, &location);
            }
        };
        let response = |status| {
            Response::new(status)
                .with_header("ETag", file.etag.clone())
                .with_header("Last-Modified", file.last_modified.clone())
                .with_header("Cache-Control", "no-cache")
        };
        if is_not_modified(request, &file) {
            return response(StatusCode::NOT_MODIFIED);
        }
        let body = match &file.bytes {
            Some(bytes) => Body::Shared(Arc::clone(bytes)),
            None => match open_with_length(&file.path) {
                Ok((file, len)) => Body::File { file, len },
                Err(_) => return Response::error(StatusCode::NOT_FOUND, "no such file"),
            },
        };
        response(StatusCode::OK)
            .with_header("Content-Type", file.content_type)
            .with_body(body)
    }
}

/// Opens a file and reads its length from the open handle, so the length
/// announced matches the file actually being sent.
fn open_with_length(path: &Path) -> io::Result<(File, u64)> {
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    Ok((file, len))
}

/// Turns a request path into a relative path that cannot leave the root, or
/// `None` if it tries to.
pub fn safe_relative_path(raw_path: &str) -> Option<PathBuf> {
    let mut relative = PathBuf::new();
    // lab2: begin — decode each segment and refuse .., hidden names, / \ and NUL
    for segment in raw_path.split('/') {
        let decoded = url::percent_decode(segment).ok()?;
        if decoded.is_empty() || decoded == "." {
            continue;
        }
        // `..` would climb out; `.git`, `.env` and other hidden files stay hidden.
        if decoded.starts_with('.') {
            return None;
        }
        // An encoded `/` (`%2f`) or `\` would smuggle a separator into one
        // segment; NUL truncates names in the C calls under `std::fs`.
        if decoded.contains(['/', '\\', '\0']) {
            return None;
        }
        relative.push(decoded.as_ref());
    }
    // lab2: end
    Some(relative)
}

/// Whether the client's copy is current: `If-None-Match` holds the file's
/// `ETag` (weak comparison, RFC 9110 §13.1.2), or — only when there is no
/// `If-None-Match` — `If-Modified-Since` is not older than the file (§13.1.3).
fn is_not_modified(request: &Request<'_>, file: &CachedFile) -> bool {
    if let Some(tags) = request.header("if-none-match") {
        let ours = file.etag.trim_start_matches("W/");
        return tags
            .split(',')
            .map(str::trim)
            .any(|tag| tag == "*" || tag.trim_start_matches("W/") == ours);
    }
    let Some(since) = request
        .header("if-modified-since")
        .and_then(date::parse_http_date)
    else {
        return false;
    };
    // HTTP dates have whole seconds; the file's time has nanoseconds.
    let modified = file
        .modified
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0);
    let since = since
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0);
    modified <= since
}

/// A strong entity tag from the file's length and modification time: it
/// changes whenever the file does, and costs no read of the contents.
fn entity_tag(len: u64, modified: SystemTime) -> String {
    let nanos = modified
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos())
        .unwrap_or(0);
    format!("\"{len:x}-{nanos:x}\"")
}

/// The media type for a file, by its extension.
pub fn content_type(path: &Path) -> &'static str {
    let extension = path
        .extension()
        .and_then(|extension| extension.to_str())
        .map(str::to_ascii_lowercase);
    match extension.as_deref() {
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("json" | "map") => "application/json",
        Some("txt" | "md") => "text/plain; charset=utf-8",
        Some("xml") => "application/xml",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        Some("ico") => "image/x-icon",
        Some("wasm") => "application/wasm",
        Some("woff2") => "font/woff2",
        Some("pdf") => "application/pdf",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_paths_are_refused() {
        let refused = [
            "/../etc/passwd",
            "/a/../../etc/passwd",
            "/%2e%2e/etc/passwd",
            "/%2E%2E/etc/passwd",
            "/..%2fetc%2fpasswd",
            "/a%2fb",
            "/a%5cb",
            "/index.html%00.png",
            "/.git/config",
            "/%2egit/config",
            "/bad%zzescape",
        ];
        for path in refused {
            assert_eq!(safe_relative_path(path), None, "{path} must be refused");
        }
    }

    #[test]
    fn ordinary_paths_are_kept() {
        let cases = [
            ("/", ""),
            ("/index.html", "index.html"),
            ("/docs/a%20b.txt", "docs/a b.txt"),
            ("//docs/./x.css", "docs/x.css"),
            ("/caf%C3%A9.html", "café.html"),
        ];
        for (path, expected) in cases {
            assert_eq!(
                safe_relative_path(path),
                Some(PathBuf::from(expected)),
                "{path}"
            );
        }
    }

    #[test]
    fn content_types_by_extension() {
        for (name, expected) in [
            ("a.html", "text/html; charset=utf-8"),
            ("a.CSS", "text/css; charset=utf-8"),
            ("a.js", "text/javascript; charset=utf-8"),
            ("a.json", "application/json"),
            ("a.png", "image/png"),
            ("a.jpg", "image/jpeg"),
            ("a.svg", "image/svg+xml"),
            ("a.ico", "image/x-icon"),
            ("a.txt", "text/plain; charset=utf-8"),
            ("a.wasm", "application/wasm"),
            ("Makefile", "application/octet-stream"),
        ] {
            assert_eq!(content_type(Path::new(name)), expected, "{name}");
        }
    }
}
