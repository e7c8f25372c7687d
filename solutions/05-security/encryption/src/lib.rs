//! # security/encryption — Encryption at rest
//!
//! The shop keeps each customer's phone number, and `GET /me` shows it to
//! them. The phone is not stored as it is: it is "encrypted" before it is
//! written to the `customers` table, with a key from the shop's settings.
//! But the encryption is home-made: every phone is XORed with the same
//! bytes of the key, with a nonce column that is always zero. Whoever
//! holds a copy of the database (a backup, a leaked dump, a replica) and
//! knows one customer's phone learns the key stream, and with it every
//! other phone; equal phones give equal ciphertexts; a flipped bit gives a
//! wrong phone instead of an error; a ciphertext copied onto another
//! customer's row reads as that customer's phone; and once the keys rotate,
//! the phones written under the old key read as garbage. The shop also
//! logs every phone it saves.
//!
//! Encrypt each phone with an AEAD (AES-256-GCM) under a fresh random
//! nonce, bind it to its row with associated data, store the id of the key
//! beside it so the keys can rotate, refuse anything that does not
//! decrypt, and keep the phone out of the log.
//! The book's section "Encryption at rest" explains the attacks and the
//! fix.
//!
//! Run `cargo checker check` when you think you are done.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aes_gcm::aead::{Aead, KeyInit, Nonce, Payload};
use aes_gcm::{Aes256Gcm, Key};
use axum::Router;
use axum::extract::{Json, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Deserialize;
use serde_json::json;

/// The length of a key, in bytes (AES-256).
pub const KEY_BYTES: usize = 32;

/// The length of a nonce, in bytes (the 96 bits GCM is made for).
pub const NONCE_BYTES: usize = 12;

/// The longest phone number the shop takes, in characters.
pub const MAX_PHONE_CHARS: usize = 32;

/// The keys that encrypt the customers' phone numbers: each under its id,
/// and the id of the current one, which encrypts every new value. The
/// others only decrypt what they encrypted before the keys rotated.
#[derive(Clone)]
pub struct Keyring {
    current: String,
    keys: BTreeMap<String, [u8; KEY_BYTES]>,
}

/// Why a key ring could not be made: a message that names the key's id,
/// never a key.
#[derive(Debug)]
pub struct KeyError(String);

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for KeyError {}

impl Keyring {
    /// The key ring of `keys`, each an id and a key of [`KEY_BYTES`] bytes
    /// in standard base64 (`openssl rand -base64 32` makes one), that
    /// encrypts with the key `current`.
    pub fn new(current: &str, keys: &[(&str, &str)]) -> Result<Keyring, KeyError> {
        let mut ring = BTreeMap::new();
        for (id, encoded) in keys {
            if id.is_empty() {
                return Err(KeyError("a key has an empty id".into()));
            }
            let bytes = STANDARD
                .decode(encoded.trim())
                .map_err(|_| KeyError(format!("key {id:?} is not base64")))?;
            let key: [u8; KEY_BYTES] = bytes.try_into().map_err(|bytes: Vec<u8>| {
                KeyError(format!(
                    "key {id:?} has {} bytes, it needs {KEY_BYTES}",
                    bytes.len()
                ))
            })?;
            if ring.insert(id.to_string(), key).is_some() {
                return Err(KeyError(format!("key {id:?} is given twice")));
            }
        }
        if !ring.contains_key(current) {
            return Err(KeyError(format!(
                "the current key {current:?} is not among the keys given"
            )));
        }
        Ok(Keyring {
            current: current.to_string(),
            keys: ring,
        })
    }

    /// The id of the key that encrypts new values.
    pub fn current_id(&self) -> &str {
        &self.current
    }

    /// The key with id `id`, if the ring has it.
    pub fn key(&self, id: &str) -> Option<&[u8; KEY_BYTES]> {
        self.keys.get(id)
    }
}

/// Shows the ids, never a key.
impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("current", &self.current)
            .field("ids", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// The shop's settings.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The SQLite file.
    pub database_path: PathBuf,
    /// The keys that encrypt the phone numbers.
    pub keys: Keyring,
}

/// A phone number as it is stored: the three `phone_*` columns of its
/// customer's row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sealed {
    /// `phone_key_id`: the id of the key it was encrypted with.
    pub key_id: String,
    /// `phone_nonce`: the nonce it was encrypted with.
    pub nonce: Vec<u8>,
    /// `phone_ciphertext`: the encrypted phone (with the AEAD's tag).
    pub ciphertext: Vec<u8>,
}

/// Why a phone could not be encrypted or decrypted. Its message names no
/// phone and no key.
#[derive(Debug, PartialEq, Eq)]
pub enum CryptoError {
    /// The value names a key the key ring does not have.
    UnknownKey(String),
    /// The value does not decrypt: it was changed, moved to another row,
    /// or encrypted with another key of the same id.
    Undecryptable,
    /// The operating system gave no random bytes, or the cipher refused to
    /// encrypt.
    Failed,
}

impl fmt::Display for CryptoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CryptoError::UnknownKey(id) => write!(f, "no key has the id {id:?}"),
            CryptoError::Undecryptable => f.write_str("the value does not decrypt"),
            CryptoError::Failed => f.write_str("the value could not be encrypted"),
        }
    }
}

impl std::error::Error for CryptoError {}

/// The associated data of customer `customer_id`'s phone: authenticated,
/// not encrypted, and not stored (the row gives it back), so a value
/// decrypts only on the row it was written for.
fn associated_data(customer_id: i64) -> Vec<u8> {
    format!("customers.phone:{customer_id}").into_bytes()
}

/// The cipher of the key `id`.
fn cipher(keys: &Keyring, id: &str) -> Result<Aes256Gcm, CryptoError> {
    let key = keys
        .key(id)
        .ok_or_else(|| CryptoError::UnknownKey(id.to_string()))?;
    Ok(Aes256Gcm::new(&Key::<Aes256Gcm>::from(*key)))
}

/// Encrypts customer `customer_id`'s `phone` with the current key.
pub fn seal(keys: &Keyring, customer_id: i64, phone: &str) -> Result<Sealed, CryptoError> {
    let key_id = keys.current_id();
    let cipher = cipher(keys, key_id)?;
    let mut nonce = [0u8; NONCE_BYTES];
    getrandom::fill(&mut nonce).map_err(|_| CryptoError::Failed)?;
    let aad = associated_data(customer_id);
    let payload = Payload {
        msg: phone.as_bytes(),
        aad: &aad,
    };
    let ciphertext = cipher
        .encrypt(&Nonce::<Aes256Gcm>::from(nonce), payload)
        .map_err(|_| CryptoError::Failed)?;
    Ok(Sealed {
        key_id: key_id.to_string(),
        nonce: nonce.to_vec(),
        ciphertext,
    })
}

/// Decrypts customer `customer_id`'s phone from `sealed`, with the key it
/// names.
pub fn open(keys: &Keyring, customer_id: i64, sealed: &Sealed) -> Result<String, CryptoError> {
    let cipher = cipher(keys, &sealed.key_id)?;
    let nonce = Nonce::<Aes256Gcm>::try_from(sealed.nonce.as_slice())
        .map_err(|_| CryptoError::Undecryptable)?;
    let aad = associated_data(customer_id);
    let payload = Payload {
        msg: &sealed.ciphertext,
        aad: &aad,
    };
    let plaintext = cipher
        .decrypt(&nonce, payload)
        .map_err(|_| CryptoError::Undecryptable)?;
    String::from_utf8(plaintext).map_err(|_| CryptoError::Undecryptable)
}

/// Creates the tables this exercise uses, if they do not exist yet.
pub fn create_schema(db: &Connection) -> rusqlite::Result<()> {
    db.execute_batch(
        "CREATE TABLE IF NOT EXISTS customers (
            id               INTEGER PRIMARY KEY,
            email            TEXT NOT NULL UNIQUE COLLATE NOCASE,
            name             TEXT NOT NULL,
            phone_key_id     TEXT,
            phone_nonce      BLOB,
            phone_ciphertext BLOB,
            CHECK ((phone_key_id IS NULL) = (phone_ciphertext IS NULL)),
            CHECK ((phone_nonce IS NULL) = (phone_ciphertext IS NULL))
        ) STRICT;
        CREATE TABLE IF NOT EXISTS sessions (
            id          TEXT PRIMARY KEY,
            customer_id INTEGER NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
            expires_at  INTEGER NOT NULL
        ) STRICT;",
    )
}

/// Adds a customer without a phone and returns their id.
pub fn add_customer(db: &Connection, email: &str, name: &str) -> rusqlite::Result<i64> {
    db.execute(
        "INSERT INTO customers (email, name) VALUES (?1, ?2)",
        params![email, name],
    )?;
    Ok(db.last_insert_rowid())
}

/// Adds a session `token` for the customer, valid until `expires_at` (Unix
/// seconds).
pub fn add_session(
    db: &Connection,
    token: &str,
    customer_id: i64,
    expires_at: i64,
) -> rusqlite::Result<()> {
    db.execute(
        "INSERT INTO sessions (id, customer_id, expires_at) VALUES (?1, ?2, ?3)",
        params![token, customer_id, expires_at],
    )?;
    Ok(())
}

/// The shop's state. Cloning it is cheap.
#[derive(Clone)]
struct Shop {
    settings: Arc<Settings>,
}

impl Shop {
    /// Runs `job` on a new connection to the shop's database, on tokio's
    /// blocking threads.
    async fn db<T: Send + 'static>(
        &self,
        job: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> rusqlite::Result<T> {
        let path = self.settings.database_path.clone();
        let task = tokio::task::spawn_blocking(move || job(&open_db(&path)?));
        match task.await {
            Ok(result) => result,
            Err(error) => std::panic::resume_unwind(error.into_panic()),
        }
    }
}

/// A connection to the SQLite file at `path`, foreign keys on.
fn open_db(path: &Path) -> rusqlite::Result<Connection> {
    let db = Connection::open(path)?;
    db.pragma_update(None, "foreign_keys", "ON")?;
    db.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(db)
}

/// The shop, with `settings`:
///
/// | request          | answer                                                          |
/// | ---------------- | --------------------------------------------------------------- |
/// | `GET /me`        | `200 OK` and `{"id", "email", "name", "phone"}` (`phone` is `null` until one is saved); `500` if the phone stored does not decrypt |
/// | `PUT /me/phone`  | `{"phone": "..."}` saves the phone, encrypted: `200 OK` and the customer as `GET /me` shows them; `422` for an empty phone or one longer than 32 characters |
///
/// Both take the customer's session token as `Authorization: Bearer
/// <token>` and answer `401` without a valid one.
pub fn app(settings: Settings) -> Router {
    let shop = Shop {
        settings: Arc::new(settings),
    };
    Router::new()
        .route("/me", get(me))
        .route("/me/phone", put(save_phone))
        .with_state(shop)
}

/// A customer's row, with their phone as stored.
struct Row {
    id: i64,
    email: String,
    name: String,
    phone: Option<Sealed>,
}

/// Customer `id`'s row.
fn find_customer(db: &Connection, id: i64) -> rusqlite::Result<Row> {
    db.query_row(
        "SELECT id, email, name, phone_key_id, phone_nonce, phone_ciphertext
         FROM customers WHERE id = ?1",
        [id],
        |row| {
            let key_id: Option<String> = row.get(3)?;
            let nonce: Option<Vec<u8>> = row.get(4)?;
            let ciphertext: Option<Vec<u8>> = row.get(5)?;
            let phone = match (key_id, nonce, ciphertext) {
                (Some(key_id), Some(nonce), Some(ciphertext)) => Some(Sealed {
                    key_id,
                    nonce,
                    ciphertext,
                }),
                _ => None,
            };
            Ok(Row {
                id: row.get(0)?,
                email: row.get(1)?,
                name: row.get(2)?,
                phone,
            })
        },
    )
}

/// The customer whose unexpired session the request's bearer token is.
async fn authenticate(shop: &Shop, headers: &HeaderMap) -> Result<i64, Response> {
    let token = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(|token| token.trim().to_string());
    let Some(token) = token else {
        return Err(unauthorized());
    };
    let found = shop
        .db(move |db| {
            db.query_row(
                "SELECT customer_id FROM sessions WHERE id = ?1 AND expires_at > unixepoch()",
                [token],
                |row| row.get::<_, i64>(0),
            )
            .optional()
        })
        .await;
    match found {
        Ok(Some(customer)) => Ok(customer),
        Ok(None) => Err(unauthorized()),
        Err(error) => Err(internal_error(&error)),
    }
}

/// The customer `id` as `GET /me` shows them, their phone decrypted.
async fn show(shop: &Shop, id: i64) -> Response {
    let row = match shop.db(move |db| find_customer(db, id)).await {
        Ok(row) => row,
        Err(error) => return internal_error(&error),
    };
    let phone = match &row.phone {
        None => None,
        Some(sealed) => match open(&shop.settings.keys, row.id, sealed) {
            Ok(phone) => Some(phone),
            Err(error) => {
                tracing::error!(customer = row.id, key_id = %sealed.key_id, %error, "a stored phone does not decrypt");
                return server_error();
            }
        },
    };
    Json(json!({
        "id": row.id,
        "email": row.email,
        "name": row.name,
        "phone": phone,
    }))
    .into_response()
}

async fn me(State(shop): State<Shop>, headers: HeaderMap) -> Response {
    match authenticate(&shop, &headers).await {
        Ok(customer) => show(&shop, customer).await,
        Err(response) => response,
    }
}

/// The body of `PUT /me/phone`.
#[derive(Deserialize)]
struct NewPhone {
    phone: String,
}

async fn save_phone(
    State(shop): State<Shop>,
    headers: HeaderMap,
    Json(body): Json<NewPhone>,
) -> Response {
    let customer = match authenticate(&shop, &headers).await {
        Ok(customer) => customer,
        Err(response) => return response,
    };
    let phone = body.phone.trim().to_string();
    let length = phone.chars().count();
    if length == 0 || length > MAX_PHONE_CHARS {
        return problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Unprocessable Content",
            &format!("A phone number has 1 to {MAX_PHONE_CHARS} characters."),
        );
    }
    let sealed = match seal(&shop.settings.keys, customer, &phone) {
        Ok(sealed) => sealed,
        Err(error) => {
            tracing::error!(customer, %error, "a phone could not be encrypted");
            return server_error();
        }
    };
    let key_id = sealed.key_id.clone();
    let saved = shop
        .db(move |db| {
            db.execute(
                "UPDATE customers
                 SET phone_key_id = ?2, phone_nonce = ?3, phone_ciphertext = ?4
                 WHERE id = ?1",
                params![customer, sealed.key_id, sealed.nonce, sealed.ciphertext],
            )
        })
        .await;
    if let Err(error) = saved {
        return internal_error(&error);
    }
    tracing::info!(customer, %key_id, "phone saved");
    show(&shop, customer).await
}

/// `401 Unauthorized`, with the challenge of RFC 6750.
fn unauthorized() -> Response {
    let mut response = problem(
        StatusCode::UNAUTHORIZED,
        "Unauthorized",
        "Log in first: send your session token.",
    );
    response
        .headers_mut()
        .insert("www-authenticate", HeaderValue::from_static("Bearer"));
    response
}

/// An `application/problem+json` response (RFC 9457).
pub fn problem(status: StatusCode, title: &str, detail: &str) -> Response {
    let body = json!({
        "type": "about:blank",
        "title": title,
        "status": status.as_u16(),
        "detail": detail,
    });
    let content_type = HeaderValue::from_static("application/problem+json");
    (status, [(CONTENT_TYPE, content_type)], body.to_string()).into_response()
}

/// A `500` that tells nothing: what went wrong is in the log.
fn server_error() -> Response {
    problem(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Internal Server Error",
        "Something went wrong on our side. Please try again.",
    )
}

/// A database error: logged, and answered with a `500` that tells nothing.
fn internal_error(error: &rusqlite::Error) -> Response {
    tracing::error!(%error, "database error");
    server_error()
}
