//! Listings for the book section server/state.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{FromRef, Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};

// ANCHOR: guestbook
/// A guestbook: `POST /entries` signs it with the body text, `GET /entries`
/// lists every signature so far.
#[derive(Clone, Default)]
pub struct Guestbook {
    entries: Arc<Mutex<Vec<String>>>,
}

pub fn guestbook_app() -> Router {
    Router::new()
        .route("/entries", get(list_entries).post(sign))
        // Every handler below receives a clone of this one value.
        .with_state(Guestbook::default())
}

async fn sign(State(book): State<Guestbook>, name: String) {
    book.entries.lock().unwrap().push(name);
}

async fn list_entries(State(book): State<Guestbook>) -> Json<Vec<String>> {
    let entries = book.entries.lock().unwrap();
    Json(entries.clone())
}
// ANCHOR_END: guestbook

// ANCHOR: clone_shares
/// Cloning an `Arc` copies a pointer, not the value: both clones see the
/// same counter. Cloning a plain `u64` copies the number.
pub fn clones_share_an_arc() {
    let original = Arc::new(AtomicU64::new(0));
    let clone = Arc::clone(&original);
    clone.fetch_add(1, Ordering::Relaxed);
    assert_eq!(original.load(Ordering::Relaxed), 1);

    let plain: u64 = 0;
    let mut copy = plain;
    copy += 1;
    assert_eq!((plain, copy), (0, 1));
}
// ANCHOR_END: clone_shares

// ANCHOR: likes
/// Likes per post, two ways. Both compile; only one counts right.
#[derive(Clone, Default)]
pub struct Likes {
    per_post: Arc<Mutex<HashMap<u64, u64>>>,
}

impl Likes {
    /// WRONG: the lock is taken twice. Between the read and the write
    /// another thread can read the same old value, and one like is lost.
    pub fn like_racy(&self, post: u64) -> u64 {
        let old = self
            .per_post
            .lock()
            .unwrap()
            .get(&post)
            .copied()
            .unwrap_or(0);
        let new = old + 1;
        self.per_post.lock().unwrap().insert(post, new);
        new
    }

    /// Right: one guard for the whole read-modify-write. `entry` finds or
    /// creates the slot, `+= 1` updates it, and the guard is dropped at the
    /// end of the statement.
    pub fn like(&self, post: u64) -> u64 {
        let mut per_post = self.per_post.lock().unwrap();
        let likes = per_post.entry(post).or_insert(0);
        *likes += 1;
        *likes
    }
}
// ANCHOR_END: likes

// ANCHOR: across_await
/// A `std::sync::MutexGuard` must not live across an `.await`: the handler's
/// future would stop being `Send`, and axum refuses it. Finish with the lock
/// inside a block, then await with the guard gone.
async fn like_and_notify(State(likes): State<Likes>, Path(post): Path<u64>) -> String {
    let total = likes.like(post); // locks and unlocks inside `like`
    notify_author(post, total).await; // no guard alive here
    format!("post {post} has {total} likes")
}

/// Stands for any slow asynchronous call: an email, a message queue, ...
async fn notify_author(_post: u64, _total: u64) {
    tokio::time::sleep(Duration::from_millis(1)).await;
}

pub fn likes_app() -> Router {
    Router::new()
        .route("/posts/{post}/like", post(like_and_notify))
        .with_state(Likes::default())
}
// ANCHOR_END: across_await

// ANCHOR: from_ref
/// The state of an app with two parts. Each handler asks for the part it
/// uses, `State<Guestbook>` or `State<Likes>`, and never sees the other.
#[derive(Clone, Default)]
pub struct AppState {
    guestbook: Guestbook,
    likes: Likes,
}

/// How to get a `Guestbook` out of an `AppState`: with this, a handler of a
/// `Router<AppState>` may take `State<Guestbook>`. axum calls it for every
/// request that asks, so it hands out a clone: cheap, an `Arc` inside.
impl FromRef<AppState> for Guestbook {
    fn from_ref(state: &AppState) -> Guestbook {
        state.guestbook.clone()
    }
}

impl FromRef<AppState> for Likes {
    fn from_ref(state: &AppState) -> Likes {
        state.likes.clone()
    }
}

pub fn combined_app() -> Router {
    Router::new()
        .route("/entries", get(list_entries).post(sign)) // State<Guestbook>
        .route("/posts/{post}/like", post(like_and_notify)) // State<Likes>
        .with_state(AppState::default())
}
// ANCHOR_END: from_ref

// ANCHOR: derive_from_ref
/// The same, written by a derive: `#[derive(FromRef)]` (axum's `macros`
/// feature) implements `FromRef<Shop>` for the type of every field.
#[derive(Clone, Default, FromRef)]
pub struct Shop {
    guestbook: Guestbook,
    likes: Likes,
}

pub fn shop_app() -> Router {
    Router::new()
        .route("/entries", get(list_entries).post(sign))
        .route("/posts/{post}/like", post(like_and_notify))
        .with_state(Shop::default())
}
// ANCHOR_END: derive_from_ref
