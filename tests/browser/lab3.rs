//! Lab 3 in a real browser: the login page, registering, logging out, and
//! the course's `auth=true` cookie, forged by a script, opening nothing.
//!
//! The server is the lab 3 application as `labs/lab3_auth.rs` builds it
//! (`auth::demo::app` over `www/`), with the test iteration count so that
//! each login costs a millisecond, not half a second.

use std::path::Path;

use super::support::Rng;
use super::support::webdriver::{Browser, Chromedriver, DESKTOP, PHONE, WAIT};
use super::{Site, WWW, expect_to_fit_the_width, submit_login};
use weaprous::auth::accounts::{DEMO_PASSWORD, DEMO_USERNAME};
use weaprous::auth::app::{
    AUTH_COOKIE_NAME, AUTH_COOKIE_VALUE, Auth, AuthConfig, DEFAULT_COOKIE_NAME,
};
use weaprous::auth::demo;
use weaprous::auth::guard::LOGIN_PAGE;
use weaprous::auth::password::TEST_ITERATIONS;
use weaprous::auth::routes::{HOME_PAGE, INVALID_CREDENTIALS};
use weaprous::http::files::StaticFiles;

/// The doc that explains what these scenarios check.
const DOC: &str = "docs/lab3_auth.md";

/// The heading of the 401 page a protected page answers without a login
/// (`auth::guard`).
const REFUSED_HEADING: &str = "Log in first";

/// The message of a refused registration (`auth::routes`).
const NAME_TAKEN: &str = "That username is taken";

/// `docs/lab3_auth.md, "section"`, for failure messages.
fn see(section: &str) -> String {
    format!("{DOC}, \"{section}\"")
}

/// The lab 3 application, built as `labs/lab3_auth.rs` builds it.
fn lab3_site() -> Site {
    Site::start("browser-lab3", |data: &Path, clock| {
        let config = AuthConfig {
            iterations: TEST_ITERATIONS,
            ..AuthConfig::default()
        };
        let auth = Auth::open(data, config, clock.clone()).unwrap_or_else(|error| {
            panic!("cannot open the accounts in {}: {error}", data.display())
        });
        let files = StaticFiles::new(WWW, clock)
            .unwrap_or_else(|error| panic!("cannot serve {WWW}: {error}"));
        demo::app(&auth, files)
    })
}

/// Waits for the greeting page to greet `username`.
#[track_caller]
fn expect_greeting(browser: &Browser, username: &str) {
    browser.wait_for_text("h1", &format!("Hello, {username}!"), WAIT);
}

/// Opens the login page, logs in, and waits for the greeting.
#[track_caller]
fn log_in(browser: &Browser, site: &Site, username: &str, password: &str) {
    browser.goto(&site.url(LOGIN_PAGE));
    submit_login(browser, username, password);
    browser.wait_for_path(HOME_PAGE, WAIT);
    expect_greeting(browser, username);
}

/// Waits for the 401 page that a protected page is without a login.
#[track_caller]
fn expect_refused(browser: &Browser) {
    browser.wait_for_text("h1", REFUSED_HEADING, WAIT);
    browser.check(
        browser.title() == REFUSED_HEADING,
        &format!("the 401 page, titled {REFUSED_HEADING:?}"),
    );
}

/// The cookies a page's script can see (`HttpOnly` ones are hidden).
fn script_cookies(browser: &Browser) -> String {
    let cookies = browser.execute("return document.cookie;", &[]);
    cookies.as_str().unwrap_or_default().to_string()
}

#[test]
#[ignore = "needs chromium and chromedriver"]
fn lab3_browser_login_page_shows_a_wrong_password_and_lets_the_right_one_in() {
    let site = lab3_site();
    let browser = Chromedriver::start().browser("admin", DESKTOP);

    browser.step("open the login page", &see("Running it"));
    browser.goto(&site.url(LOGIN_PAGE));
    browser.wait_for_text("h1", "Log in", WAIT);
    browser.check(
        !browser.find("#message").is_displayed(),
        "no error shown before the first try",
    );

    browser.step("log in with a wrong password", &see("The contract"));
    submit_login(&browser, DEMO_USERNAME, "not the password");
    browser.wait_for_text("#message", INVALID_CREDENTIALS, WAIT);
    browser.check(
        browser.path() == LOGIN_PAGE,
        &format!("to stay on {LOGIN_PAGE} after a refused login"),
    );
    browser.check(
        !script_cookies(&browser).contains(AUTH_COOKIE_NAME),
        "no cookie after a refused login",
    );
    browser.check(
        browser.find("#submit").property("disabled") == false,
        "the \"Log in\" button to work again after a refused login",
    );

    browser.step("log in with the right password", &see("The contract"));
    submit_login(&browser, DEMO_USERNAME, DEMO_PASSWORD);
    browser.wait_for_path(HOME_PAGE, WAIT);
    expect_greeting(&browser, DEMO_USERNAME);
    let cookies = script_cookies(&browser);
    browser.check(
        cookies.contains(&format!("{AUTH_COOKIE_NAME}={AUTH_COOKIE_VALUE}"))
            && !cookies.contains(DEFAULT_COOKIE_NAME),
        &format!(
            "the script to see `{AUTH_COOKIE_NAME}={AUTH_COOKIE_VALUE}` but not the HttpOnly \
             `{DEFAULT_COOKIE_NAME}`; it sees {cookies:?}"
        ),
    );

    browser.step(
        "reload the greeting page: the session cookie stays",
        &see("How a cookie makes a session"),
    );
    browser.refresh();
    expect_greeting(&browser, DEMO_USERNAME);
}

#[test]
#[ignore = "needs chromium and chromedriver"]
fn lab3_browser_register_an_account_then_log_in_with_it() {
    let site = lab3_site();
    // A newcomer on a phone: the page must fit its width.
    let browser = Chromedriver::start().browser("newcomer", PHONE);
    let mut rng = Rng::from_time();
    let username = format!("user{}", rng.below(1_000_000));
    let password = format!("secret-{}", rng.next_u64());

    browser.step(
        &format!("register {username} on the login page (seed {})", rng.seed),
        &see("The contract"),
    );
    browser.goto(&site.url(LOGIN_PAGE));
    expect_to_fit_the_width(&browser, "#submit");
    browser.click("#switch");
    browser.wait_for_text("h1", "Create an account", WAIT);
    submit_login(&browser, &username, &password);
    browser.wait_for_path(HOME_PAGE, WAIT);
    expect_greeting(&browser, &username);

    browser.step(
        "log out, then log in with the new account",
        &see("The contract"),
    );
    browser.click("#logout");
    browser.wait_for_path(LOGIN_PAGE, WAIT);
    submit_login(&browser, &username, &password);
    browser.wait_for_path(HOME_PAGE, WAIT);
    expect_greeting(&browser, &username);

    browser.step("register the same name again", &see("The contract"));
    browser.goto(&site.url(LOGIN_PAGE));
    browser.click("#switch");
    browser.wait_for_text("h1", "Create an account", WAIT);
    submit_login(&browser, &username, "another password");
    browser.wait_for_text("#message", NAME_TAKEN, WAIT);
    browser.check(
        browser.path() == LOGIN_PAGE,
        &format!("to stay on {LOGIN_PAGE} after a refused registration"),
    );
}

#[test]
#[ignore = "needs chromium and chromedriver"]
fn lab3_browser_logout_returns_to_login_and_the_home_page_then_refuses() {
    let site = lab3_site();
    let browser = Chromedriver::start().browser("admin", DESKTOP);

    browser.step("log in", &see("The contract"));
    log_in(&browser, &site, DEMO_USERNAME, DEMO_PASSWORD);

    browser.step("click \"Log out\"", &see("The contract"));
    browser.click("#logout");
    browser.wait_for_path(LOGIN_PAGE, WAIT);
    browser.wait_until(
        &format!("logout to expire the `{AUTH_COOKIE_NAME}` cookie"),
        WAIT,
        |browser| !script_cookies(browser).contains(AUTH_COOKIE_NAME),
    );

    browser.step(
        "open the home page after logging out",
        &see("Protected pages"),
    );
    browser.goto(&site.url(HOME_PAGE));
    expect_refused(&browser);

    browser.step("follow the 401 page's link", &see("Protected pages"));
    browser.click("a.button");
    browser.wait_for_path(LOGIN_PAGE, WAIT);
    browser.wait_for_text("h1", "Log in", WAIT);
}

#[test]
#[ignore = "needs chromium and chromedriver"]
fn lab3_browser_a_refused_page_sends_to_login_and_back() {
    let site = lab3_site();
    let browser = Chromedriver::start().browser("visitor", DESKTOP);
    let page = demo::PROTECTED_PAGES[0];

    browser.step(
        &format!("open {page} without a login"),
        &see("Protected pages"),
    );
    browser.goto(&site.url(page));
    expect_refused(&browser);

    browser.step("follow the link to the login page", &see("Protected pages"));
    let login_and_back = format!("{LOGIN_PAGE}?next={page}");
    let links = browser.find("main").find_all("a");
    let hrefs: Vec<Option<String>> = links.iter().map(|link| link.attribute("href")).collect();
    browser.check(
        hrefs == [Some(login_and_back.clone())],
        &format!("one link, to {login_and_back}; the page has {hrefs:?}"),
    );
    links[0].click();
    browser.wait_for_path(&login_and_back, WAIT);

    browser.step(
        "log in: the login page returns to the refused page",
        &see("Protected pages"),
    );
    submit_login(&browser, DEMO_USERNAME, DEMO_PASSWORD);
    browser.wait_for_path(page, WAIT);
    expect_greeting(&browser, DEMO_USERNAME);
}

#[test]
#[ignore = "needs chromium and chromedriver"]
fn lab3_browser_a_forged_auth_cookie_set_by_script_opens_nothing() {
    let site = lab3_site();
    let browser = Chromedriver::start().browser("forger", DESKTOP);
    let mut rng = Rng::from_time();
    let forged_id = format!("{:016x}{:016x}", rng.next_u64(), rng.next_u64());

    browser.step(
        &format!("set `{AUTH_COOKIE_NAME}={AUTH_COOKIE_VALUE}` from a script, without logging in"),
        &see("Why `auth=true` is not a login"),
    );
    browser.goto(&site.url(LOGIN_PAGE));
    let forge = format!("document.cookie = '{AUTH_COOKIE_NAME}={AUTH_COOKIE_VALUE}; path=/';");
    browser.execute(&forge, &[]);
    let cookies = script_cookies(&browser);
    browser.check(
        cookies.contains(&format!("{AUTH_COOKIE_NAME}={AUTH_COOKIE_VALUE}")),
        &format!("the browser to keep the forged cookie; it has {cookies:?}"),
    );
    browser.goto(&site.url(HOME_PAGE));
    expect_refused(&browser);
    browser.goto(&site.url("/whoami"));
    browser.wait_for_text("body", "unauthorized", WAIT);

    browser.step(
        &format!(
            "also forge `{DEFAULT_COOKIE_NAME}={forged_id}` (seed {})",
            rng.seed
        ),
        &see("Session ids"),
    );
    let forge = format!("document.cookie = '{DEFAULT_COOKIE_NAME}={forged_id}; path=/';");
    browser.execute(&forge, &[]);
    browser.goto(&site.url(HOME_PAGE));
    expect_refused(&browser);
}
